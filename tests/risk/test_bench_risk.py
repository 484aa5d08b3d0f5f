"""The risk benchmark script runs end to end at a small size (so `./scripts/bench risk` cannot rot unnoticed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from risk_chain.synthetic import synthetic_reports

ROOT = Path(__file__).resolve().parents[2]


def test_bench_risk_small_run_prints_its_section() -> None:
    before = (ROOT / "BENCHMARKS.md").read_bytes() if (ROOT / "BENCHMARKS.md").exists() else None
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_risk.py"), "--reports", "3000", "--lenders", "4", "--days", "40",
                          "--block", "300", "--repeat", "1", "--no-write"], capture_output=True, text=True, timeout=300, check=True).stdout
    assert "| Full recompute of every indicator (13) for 3,000 reports, 4 lenders, 40 days" in out
    assert "Incremental update for one block of 300 reports, block arrival to updated figures: median of 5 consecutive blocks" in out
    assert "× the scan" in out and "| identical |  | identical | met |" in out
    assert ((ROOT / "BENCHMARKS.md").read_bytes() if before is not None else None) == before  # --no-write wrote nothing


def test_synthetic_reports_are_deterministic_and_in_ledger_order() -> None:
    a, b = synthetic_reports(3, 20, 2000, seed=5), synthetic_reports(3, 20, 2000, seed=5)
    assert a.equals(b) and a.num_rows == 2000
    assert a.column("idx").to_pylist() == list(range(2000))
    deposits = a.column("deposit_ms").to_pylist()
    assert deposits == sorted(deposits)
    assert not synthetic_reports(3, 20, 2000, seed=6).equals(a)
