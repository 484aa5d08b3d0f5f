"""The platform's versioned rule file (TOML): the reporting limit and, per purpose, which loans are eligible.

Loaded strictly (a missing or mistyped key is an error naming it) and hashed over its exact bytes: a pool
certificate names the version and SHA-256, so a funder or court can tell which rules produced it.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Rules", "Eligibility", "RulesError", "load_rules", "DEFAULT_RULES", "PURPOSES"]

DEFAULT_RULES = Path(__file__).parent / "rules" / "default.toml"
PURPOSES = ("financing", "transfer")


class RulesError(ValueError):
    """A rule file that cannot be used."""


@dataclass(frozen=True)
class Eligibility:
    max_days_past_due: int
    max_rate_bp: int
    min_outstanding_fen: int


@dataclass(frozen=True)
class Rules:
    version: str
    sha256: str
    text: str
    reporting_limit_ms: int
    purposes: dict[str, Eligibility]


def _int(table: dict[str, Any], key: str, where: str) -> int:
    if key not in table:
        raise RulesError(f"{where}.{key} is missing")
    value = table[key]
    if type(value) is not int or value < 0:
        raise RulesError(f"{where}.{key} must be a non-negative integer")
    return value


def load_rules(path: Path = DEFAULT_RULES) -> Rules:
    data = path.read_bytes()
    try:
        doc = tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{path}: not a TOML rule file ({exc})") from None
    version = doc.get("version")
    if type(version) is not str or not version:
        raise RulesError("version must be a string")
    purposes = {}
    for purpose in PURPOSES:
        table = doc.get(purpose)
        if not isinstance(table, dict):
            raise RulesError(f"[{purpose}] is missing")
        purposes[purpose] = Eligibility(_int(table, "max_days_past_due", purpose), _int(table, "max_rate_bp", purpose),
                                        _int(table, "min_outstanding_fen", purpose))
    reporting = doc.get("reporting", {})
    if not isinstance(reporting, dict):
        raise RulesError("reporting must be a table (with limit_hours)")
    limit_hours = _int(reporting, "limit_hours", "reporting")
    return Rules(version, hashlib.sha256(data).hexdigest(), data.decode(), limit_hours * 3_600_000, purposes)
