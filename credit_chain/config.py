"""What one credit chain process is configured with, and the names of the files in its data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .rules import DEFAULT_RULES

__all__ = ["CreditConfig", "DEFAULT_CHAIN_ID", "BUREAU_ID", "BUREAU_NAME", "KEY_FILE", "TOKEN_FILE", "OPERATOR_TOKEN_FILE", "OPRF_KEY_FILE",
           "DAY_MS", "CHINA_OFFSET_MS"]

DEFAULT_CHAIN_ID = "credit.fivechains.local/gz-credit-bureau"
BUREAU_ID = "GZ-CREDIT-BUREAU"  # who deposits every credit entry on the judicial chain
BUREAU_NAME = "广州征信链 Guangzhou credit bureau"
KEY_FILE = "signer.key"  # the chain's checkpoint signer
TOKEN_FILE = "regulator.token"  # the regulator: evaluation counts, multi-head shares, every dispute
OPERATOR_TOKEN_FILE = "operator.token"  # the bureau's desk: a borrower's own report, disputes on the borrower's behalf
OPRF_KEY_FILE = "oprf.key"  # the bureau's OPRF secret (32 bytes, hex, 0600): pseudonyms cannot be computed without it
DAY_MS = 86_400_000
CHINA_OFFSET_MS = 8 * 3_600_000  # days and consent dates are Beijing time


@dataclass
class CreditConfig:
    data_dir: Path
    db_url: str | None = None
    chain_id: str = DEFAULT_CHAIN_ID
    bureau_id: str = BUREAU_ID
    bureau_name: str = BUREAU_NAME
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
    evaluations_per_day: int = 200_000  # per lender: far above its loans, so a lender mapping a list of IDs is stopped and seen
    evaluation_batch: int = 2_000  # blinded elements per request
    deadline_check_ms: int = 1000
    hash_suite: str = "sha256"
    key_type: str = "ed25519"
