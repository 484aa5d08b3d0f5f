"""What one service chain process is configured with, and the names of the files in its data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .rules import DEFAULT_RULES

__all__ = ["ServiceConfig", "DEFAULT_CHAIN_ID", "PLATFORM_ID", "PLATFORM_NAME", "KEY_FILE", "TOKEN_FILE", "OPERATOR_TOKEN_FILE",
           "COURT_TOKEN_FILE", "MAX_POOL_LOANS", "MAX_CHUNK_LOANS", "MAX_LOAN_RECORDS"]

DEFAULT_CHAIN_ID = "service.fivechains.local/gz-service-platform"
PLATFORM_ID = "GZ-SERVICE-PLATFORM"  # who deposits every service entry on the judicial chain
PLATFORM_NAME = "广州服务链 Guangzhou asset service platform"
KEY_FILE = "signer.key"  # the chain's checkpoint and certificate signer
TOKEN_FILE = "regulator.token"  # the regulator: every pool, registration and party
OPERATOR_TOKEN_FILE = "operator.token"  # the platform's desk: registers funders and buyers
COURT_TOKEN_FILE = "court.token"  # the court portal: who holds a claim
MAX_POOL_LOANS = 1_000_000
MAX_CHUNK_LOANS = 5_000  # loans per request adding to a pool
MAX_LOAN_RECORDS = 64


@dataclass
class ServiceConfig:
    data_dir: Path
    db_url: str | None = None
    chain_id: str = DEFAULT_CHAIN_ID
    platform_id: str = PLATFORM_ID
    platform_name: str = PLATFORM_NAME
    supervision_url: str | None = None  # the report feed (the supervision chain's regulator credential)
    supervision_token_file: Path | None = None
    feed_interval_ms: int = 500
    feed_page: int = 10_000
    seal_max_entries: int = 10_000
    seal_interval_ms: int = 500
    replay_window_ms: int = 300_000
    judicial_target: str | None = None
    certs_dir: Path | None = None
    rules_path: Path = DEFAULT_RULES
    hash_suite: str = "sha256"
    key_type: str = "ed25519"
    check_workers: int | None = None  # processes checking big pool chunks: None = one per core (at most 4), 0 = none
    worker_min_bytes: int = 256 * 1024  # a smaller chunk is checked in the request's thread (a process hop costs more)
    warm_workers: bool = False  # start the check workers in the background at start (`serve` and `up` do), not at the first chunk
