"""The generated gRPC code in proto/ is exactly what scripts/gen-proto makes from crosschain.proto."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_is_in_sync(tmp_path: Path) -> None:
    subprocess.run([str(ROOT / "scripts" / "gen-proto"), str(tmp_path)], check=True, cwd=ROOT, capture_output=True)
    for name in ("crosschain_pb2.py", "crosschain_pb2_grpc.py", "crosschain_pb2.pyi"):
        assert (tmp_path / name).read_text() == (ROOT / "proto" / name).read_text(), f"proto/{name} is stale: run scripts/gen-proto"
