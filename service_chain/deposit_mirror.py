"""The lenders' anchored deposits as the service chain keeps them: each feed row's facts and deposit code.

The chain reads the supervision feed with ``anchored=true``, so every row it stores has its deposit
code; msgspec decodes only the fields the pool check uses. A page is written with one executemany and
the feed position in the same transaction: a restart reads on from where the last page ended.
"""

from __future__ import annotations

import msgspec
from sqlalchemy import Engine, text

__all__ = ["FeedRow", "FeedPage", "decode_page", "DepositMirror"]


class FeedReport(msgspec.Struct, frozen=True):
    principal: int | None = None
    amount: int | None = None
    rate_bp: int | None = None
    days_past_due: int | None = None


class FeedRow(msgspec.Struct, frozen=True):
    index: int
    lender_id: str
    record_type: str
    loan_id: str
    event_time_ms: int
    deposit_time_ms: int
    digest: str
    report: FeedReport
    deposit_code: str | None = None


class FeedPage(msgspec.Struct, frozen=True):
    sealed_size: int
    next: int
    reports: list[FeedRow]
    anchored_size: int | None = None


decode_page = msgspec.json.Decoder(FeedPage).decode
_INSERT = text("INSERT INTO sc_record (idx, lender_id, loan_id, record_type, event_ms, deposit_ms, digest, deposit_code, amount, rate_bp, dpd) "
               "VALUES (:i, :l, :n, :t, :e, :d, :g, :c, :a, :r, :p) ON CONFLICT (idx) DO NOTHING")
_POSITION = text("UPDATE sc_position SET next_index = :n WHERE name = 'feed'")


def _amount(row: FeedRow) -> int | None:
    """The figure the lifecycle adds up: a contract's principal, a disbursement's amount, a repayment's principal."""
    if row.record_type == "disbursement":
        return row.report.amount
    return row.report.principal


class DepositMirror:
    """``sc_record`` and the feed position."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.begin() as conn:
            if conn.execute(text("SELECT next_index FROM sc_position WHERE name = 'feed'")).first() is None:
                conn.execute(text("INSERT INTO sc_position (name, next_index) VALUES ('feed', 0)"))

    def position(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT next_index FROM sc_position WHERE name = 'feed'")).scalar_one())

    def apply(self, rows: list[FeedRow], next_index: int) -> None:
        """Store a page's rows and move the position to ``next_index``, in one transaction."""
        values = [{"i": r.index, "l": r.lender_id, "n": r.loan_id, "t": r.record_type, "e": r.event_time_ms, "d": r.deposit_time_ms,
                   "g": r.digest, "c": r.deposit_code, "a": _amount(r), "r": r.report.rate_bp, "p": r.report.days_past_due} for r in rows]
        with self.engine.begin() as conn:
            if values:
                conn.execute(_INSERT, values)
            conn.execute(_POSITION, {"n": next_index})
