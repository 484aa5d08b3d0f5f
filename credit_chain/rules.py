"""The bureau's versioned rule file (TOML): multi-head flag, bands, overdue status, dispute deadline, enterprise score.

Loaded strictly (a missing or mistyped key is an error naming it), hashed over its exact bytes: an answer
names the version and SHA-256, so a lender or court can tell which rules produced it.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Rules", "RulesError", "load_rules", "DEFAULT_RULES"]

DEFAULT_RULES = Path(__file__).parent / "rules" / "default.toml"


class RulesError(ValueError):
    """A rule file that cannot be used."""


@dataclass(frozen=True)
class Rules:
    version: str
    sha256: str
    text: str
    other_lenders_at_least: int
    window_days: int
    query_windows_days: tuple[int, ...]
    principal_bands_fen: tuple[int, ...]
    status_days: tuple[int, ...]
    answer_days: int
    enterprise: dict[str, Any]

    def band(self, fen: int) -> str:
        """The outstanding principal's band, in yuan: "0", "≤¥10,000", "¥10,000–¥50,000", …, ">¥1,000,000"."""
        if fen <= 0:
            return "0"
        low = 0
        for high in self.principal_bands_fen:
            if fen <= high:
                return f"≤¥{high // 100:,}" if low == 0 else f"¥{low // 100:,}–¥{high // 100:,}"
            low = high
        return f">¥{low // 100:,}"

    def status(self, days_past_due: int) -> str:
        """current, M1, M2, M3 or M3+ (the usual 五级 buckets by days past due)."""
        if days_past_due <= 0:
            return "current"
        for n, high in enumerate(self.status_days, start=1):
            if days_past_due <= high:
                return f"M{n}"
        return f"M{len(self.status_days)}+"


def _get(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise RulesError(f"{where}.{key} is missing")
    value = table[key]
    if kind is int and (type(value) is not int):
        raise RulesError(f"{where}.{key} must be an integer")
    if kind is str and type(value) is not str:
        raise RulesError(f"{where}.{key} must be a string")
    if kind is list and (not isinstance(value, list) or not all(type(v) is int and v >= 0 for v in value)):
        raise RulesError(f"{where}.{key} must be a list of non-negative integers")
    return value


def load_rules(path: Path = DEFAULT_RULES) -> Rules:
    data = path.read_bytes()
    try:
        doc = tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{path}: not a TOML rule file ({exc})") from None
    multi, overdue, disputes = doc.get("multihead", {}), doc.get("overdue", {}), doc.get("disputes", {})
    bands = _get(multi, "principal_bands_fen", list, "multihead")
    if bands != sorted(bands) or not bands:
        raise RulesError("multihead.principal_bands_fen must be ascending")
    rules = Rules(_get(doc, "version", str, "rules"), hashlib.sha256(data).hexdigest(), data.decode(),
                  _get(multi, "other_lenders_at_least", int, "multihead"), _get(multi, "window_days", int, "multihead"),
                  tuple(_get(multi, "query_windows_days", list, "multihead")), tuple(bands),
                  tuple(_get(overdue, "status_days", list, "overdue")), _get(disputes, "answer_days", int, "disputes"),
                  dict(doc.get("enterprise", {})))
    for key in ("base", "on_time_share_points", "worst_overdue_24m_penalty", "open_loans_penalty", "queries_90d_penalty", "minimum", "maximum"):
        _get(rules.enterprise, key, int, "enterprise")
    return rules
