"""What an auditor keeps between audits (the --state folder): pinned keys, the checkpoints it
accepted, where each replay stands and what of the cross-link is still open.

Written only after a clean audit, atomically (temp file + rename), so a failed or killed
audit leaves the last good state in place and the next run checks the same ground again.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["AuditState", "write_misbehaviour"]

STATE_FILE = "state.json"


@dataclass
class AuditState:
    keys: dict[str, str] = field(default_factory=dict)  # "supervision" / "judicial" → verifier key
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # chain id → {size, root, checkpoint}
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)  # chain id → ChainReplay.position()
    crosslink: dict[str, Any] | None = None  # AnchorBook.to_state() of the supervision chain
    crosslinks: dict[str, Any] | None = None  # source chain id → AnchorBook.to_state(), for the other source chains

    @classmethod
    def load(cls, folder: Path | None) -> AuditState:
        if folder is None or not (folder / STATE_FILE).exists():
            return cls()
        try:
            raw = json.loads((folder / STATE_FILE).read_text())
            return cls(raw.get("keys", {}), raw.get("checkpoints", {}), raw.get("positions", {}), raw.get("crosslink"), raw.get("crosslinks"))
        except (OSError, ValueError, AttributeError) as exc:
            raise ValueError(f"{folder / STATE_FILE} is not an audit state: {exc}") from None

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / (STATE_FILE + ".tmp")
        temporary.write_text(json.dumps({"keys": self.keys, "checkpoints": self.checkpoints, "positions": self.positions,
                                         "crosslink": self.crosslink, "crosslinks": self.crosslinks}))
        os.replace(temporary, folder / STATE_FILE)


def write_misbehaviour(folder: Path, kind: str, evidence: dict[str, Any]) -> Path:
    """Keep a self-contained proof of misbehaviour: both signed checkpoints, the proof that failed, the key."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"misbehaviour-{kind}-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 1_000_000:06d}.json"
    path.write_text(json.dumps(evidence, indent=2, ensure_ascii=False))
    return path
