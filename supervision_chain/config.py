"""What one supervision chain process is configured with, and the names of the files in its data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SupervisionConfig", "KEY_FILE", "TOKEN_FILE", "DEFAULT_CHAIN_ID", "MAX_ITEM_BYTES"]

KEY_FILE = "signer.key"
TOKEN_FILE = "regulator.token"
DEFAULT_CHAIN_ID = "supervision.fivechains.local/gz"
MAX_ITEM_BYTES = 4096


@dataclass
class SupervisionConfig:
    data_dir: Path
    db_url: str | None = None
    chain_id: str = DEFAULT_CHAIN_ID
    seal_max_entries: int = 10_000
    seal_interval_ms: int = 500
    max_items: int = 10_000
    replay_window_ms: int = 300_000
    late_after_ms: int = 24 * 3600 * 1000  # a deposit later than this after its event counts as late
    judicial_target: str | None = None  # host:port of the judicial chain's gRPC service
    certs_dir: Path | None = None  # consortium CA and this chain's client certificate (mutual TLS)
    election_interval_ms: int = 1000  # PostgreSQL: how often a process that does not seal tries for the sealer lock
    hash_suite: str = "sha256"  # for a new chain: "sha256" or "sm3" (an existing chain keeps its own)
    key_type: str = "ed25519"  # for a new chain's signing key: "ed25519" or "sm2" (an existing key file decides)
    watch_interval_ms: int = 100  # PostgreSQL: how often a process that does not seal looks for new blocks and codes
