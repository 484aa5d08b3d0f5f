"""What one risk-control chain process is configured with, and the names of the files in its data directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .indicators import RiskSettings
from .scorecard import DEFAULT_MODEL

__all__ = ["RiskConfig", "DEFAULT_CHAIN_ID", "CENTRE_ID", "KEY_FILE", "TOKEN_FILE", "OFFICER_KEY_FILE", "DEFAULT_OFFICER",
           "Deadlines"]

DEFAULT_CHAIN_ID = "risk.fivechains.local/gz-risk-centre"
CENTRE_ID = "GZ-RISK-CENTRE"  # who deposits every risk entry on the judicial chain (the actual actor is inside the step)
CENTRE_NAME = "广州金融风险监测中心 Guangzhou financial risk-monitoring centre"
KEY_FILE = "signer.key"
TOKEN_FILE = "regulator.token"
OFFICER_KEY_FILE = "officer.key"  # the first regulator officer's signing key, made on first start (0600)
DEFAULT_OFFICER = "REG-001"
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Deadlines:
    """How long each party has, by the warning's level: the lender to answer, the regulator to review."""

    answer_ms: dict[str, int] = field(default_factory=lambda: {"red": 3 * DAY_MS, "orange": 7 * DAY_MS, "limit": 5 * DAY_MS})
    review_ms: int = 5 * DAY_MS

    def answer(self, level: str) -> int:
        return self.answer_ms.get(level, max(self.answer_ms.values()))


@dataclass
class RiskConfig:
    data_dir: Path
    db_url: str | None = None
    chain_id: str = DEFAULT_CHAIN_ID
    centre_id: str = CENTRE_ID
    centre_name: str = CENTRE_NAME
    supervision_url: str | None = None  # the report feed (the supervision chain's regulator credential)
    supervision_token_file: Path | None = None
    feed_interval_ms: int = 500  # how often to look for newly sealed reports
    feed_page: int = 10_000
    seal_max_entries: int = 10_000
    seal_interval_ms: int = 500
    replay_window_ms: int = 300_000
    judicial_target: str | None = None
    court_url: str | None = None  # the court portal: evidence judged tampered per lender (the court_failures indicator)
    court_token_file: Path | None = None  # its outcomes token (judicial data directory, outcomes.token)
    credit_url: str | None = None  # the credit chain: each lender's share of multi-head borrowers (the multihead_share indicator)
    credit_token_file: Path | None = None  # its regulator token (credit data directory, regulator.token)
    certs_dir: Path | None = None
    model_path: Path = DEFAULT_MODEL
    settings: RiskSettings = field(default_factory=RiskSettings)
    deadlines: Deadlines = field(default_factory=Deadlines)
    reopen_after_days: int = 3  # a closed warning reopens when the lender stays in orange/red this many days after it closed
    deadline_check_ms: int = 1000
    hash_suite: str = "sha256"
    key_type: str = "ed25519"
