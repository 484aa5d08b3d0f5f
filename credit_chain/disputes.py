"""Disputes (异议, 征信业管理条例 art. 25) as pure rules: what may be disputed, the answers, the deadline."""

from __future__ import annotations

import re
import secrets

from .config import DAY_MS

__all__ = ["TARGETS", "OUTCOMES", "MAX_TEXT", "new_dispute_id", "due_ms", "check_text", "DisputeRefused"]

TARGETS = ("loan", "query")
OUTCOMES = ("corrected", "upheld")  # the lender corrected its record, or upholds it (with reasons either way)
MAX_TEXT = 4000
_TEXT = re.compile(r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]{1,4000}")


class DisputeRefused(ValueError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def new_dispute_id() -> str:
    """Random, so ids reveal neither how many disputes exist nor each other."""
    return "D-" + secrets.token_hex(6).upper()


def due_ms(opened_ms: int, answer_days: int) -> int:
    return opened_ms + answer_days * DAY_MS


def check_text(value: object, what: str) -> str:
    if not isinstance(value, str) or not _TEXT.fullmatch(value) or not value.strip():
        raise DisputeRefused(422, f"{what} must be 1–{MAX_TEXT} characters of text")
    return value
