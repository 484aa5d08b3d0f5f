"""The supervision chain's report feed, read the way the risk chain (or a regulator's recompute) reads it.

``GET /v1/feed/reports`` (the regulator's credential) streams the sealed deposits that carry a typed
report, in ledger order, each with its ledger index; a page becomes an Arrow table in
``REPORT_SCHEMA`` without building a Python object per report field by field twice: msgspec decodes
the page, and one pass per row picks the columns the indicators read. ``GET /v1/feed/lenders`` gives
the registered lenders and their keys (their answers to warnings are checked with them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from service_kit.report_feed import FeedLender, ReportFeed

from .report_table import REPORT_SCHEMA

__all__ = ["FeedClient", "FeedPage", "rows_table", "FeedLender"]


class _ReportFields(msgspec.Struct, frozen=True):
    """The report fields the indicators read (the others, e.g. a schedule, are skipped by the decoder)."""

    borrower: str | None = None
    principal: int | None = None
    rate_bp: int | None = None
    amount: int | None = None
    amount_overdue: int | None = None
    days_past_due: int | None = None
    channel: str | None = None


class FeedRow(msgspec.Struct, frozen=True):
    index: int
    lender_id: str
    record_type: str
    loan_id: str
    event_time_ms: int
    deposit_time_ms: int
    digest: str
    commitment_salt: str
    report: _ReportFields


class _Page(msgspec.Struct, frozen=True):
    sealed_size: int
    next: int
    reports: list[FeedRow]


_PAGE = msgspec.json.Decoder(_Page)


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed: its reports as a table, where to ask next, and the sealed size it was read at."""

    table: pa.Table
    next: int
    sealed_size: int
    count: int


def rows_table(rows: list[FeedRow]) -> pa.Table:
    """The reports of a page in ``REPORT_SCHEMA``: the columns ``report_table.report_row`` fills, per record type,
    picked column by column with Arrow's kernels rather than row by row."""
    kinds = pa.array([r.record_type for r in rows], pa.string())
    reports = [r.report for r in rows]

    def field(name: str, kind: pa.DataType) -> pa.Array:
        return pa.array([getattr(rep, name) for rep in reports], kind)

    def only(record_type: str, values: pa.Array) -> pa.Array:
        return pc.if_else(pc.equal(kinds, record_type), values, pa.nulls(len(rows), values.type))

    principal = field("principal", pa.int64())
    amount = pc.coalesce(only("contract", principal), only("overdue", field("amount_overdue", pa.int64())),
                         pc.if_else(pc.is_in(kinds, pa.array(["disbursement", "repayment"])), field("amount", pa.int64()), pa.nulls(len(rows), pa.int64())))
    columns = {
        "idx": pa.array([r.index for r in rows], pa.int64()), "lender_id": pa.array([r.lender_id for r in rows], pa.string()), "record_type": kinds,
        "event_ms": pa.array([r.event_time_ms for r in rows], pa.int64()), "deposit_ms": pa.array([r.deposit_time_ms for r in rows], pa.int64()),
        "loan_id": pa.array([r.loan_id for r in rows], pa.string()), "borrower": only("contract", field("borrower", pa.string())),
        "amount": amount, "principal": only("repayment", principal), "rate_bp": only("contract", field("rate_bp", pa.int32())),
        "days_past_due": only("overdue", field("days_past_due", pa.int32())), "channel": only("collection", field("channel", pa.string())),
    }
    return pa.table(columns, schema=REPORT_SCHEMA)


class FeedClient(ReportFeed):
    """Pages through one supervision chain's feed with the regulator's token, each page as an Arrow table."""

    def page(self, start: int, limit: int = 10_000) -> FeedPage:
        page = _PAGE.decode(self.page_bytes(start, limit))
        return FeedPage(rows_table(page.reports), page.next, page.sealed_size, len(page.reports))

    def pages(self, start: int = 0, up_to: int | None = None, limit: int = 10_000) -> Iterator[FeedPage]:
        """Every page from ``start`` until the sealed end (or ``up_to``: only reports with index < up_to)."""
        while True:
            page = self.page(start, limit)
            if up_to is not None and page.count and page.table["idx"][-1].as_py() >= up_to:
                page = FeedPage(page.table.filter(pc.less(page.table["idx"], up_to)), up_to, page.sealed_size, 0)
                yield page
                return
            yield page
            if page.next <= start or (up_to is not None and page.next >= up_to) or page.next >= page.sealed_size and page.count < limit:
                return
            start = page.next
