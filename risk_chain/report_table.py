"""The columnar table of reports the indicators are computed from (one row per ledger entry with a report).

Columnar (Arrow) because every indicator is a scan over a million rows: DuckDB reads the batches
in place. Each row keeps its ledger ``idx`` so that every figure can name the entries behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from evidence.loan_reports import CollectionReport, ContractReport, DisbursementReport, OverdueReport, RepaymentReport, Report

__all__ = ["REPORT_SCHEMA", "ReportRow", "report_row", "reports_table"]

REPORT_SCHEMA = pa.schema([
    ("idx", pa.int64()),            # ledger index of the supervision entry
    ("lender_id", pa.string()),
    ("record_type", pa.string()),
    ("event_ms", pa.int64()),       # the item's event time: its day (UTC+8 by default) is the report's day
    ("deposit_ms", pa.int64()),     # when the chain accepted it (lateness, silence)
    ("loan_id", pa.string()),       # private: never leaves the risk chain
    ("borrower", pa.string()),      # contract: the borrower's pseudonym
    ("amount", pa.int64()),         # contract principal, disbursement, repayment or overdue amount (fen)
    ("principal", pa.int64()),      # repayment: principal part
    ("rate_bp", pa.int32()),        # contract: all-in annual rate
    ("days_past_due", pa.int32()),  # overdue
    ("channel", pa.string()),       # collection
])


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One table row; fields a record type does not have stay None."""

    idx: int
    lender_id: str
    record_type: str
    event_ms: int
    deposit_ms: int
    loan_id: str
    borrower: str | None = None
    amount: int | None = None
    principal: int | None = None
    rate_bp: int | None = None
    days_past_due: int | None = None
    channel: str | None = None


def report_row(idx: int, lender_id: str, loan_id: str, event_ms: int, deposit_ms: int, record_type: str, report: Report) -> ReportRow:
    """The row of one deposited item and its typed report."""
    base = (idx, lender_id, record_type, event_ms, deposit_ms, loan_id)
    if isinstance(report, ContractReport):
        return ReportRow(*base, borrower=report.borrower, amount=report.principal, rate_bp=report.rate_bp)
    if isinstance(report, RepaymentReport):
        return ReportRow(*base, amount=report.amount, principal=report.principal)
    if isinstance(report, DisbursementReport):
        return ReportRow(*base, amount=report.amount)
    if isinstance(report, OverdueReport):
        return ReportRow(*base, amount=report.amount_overdue, days_past_due=report.days_past_due)
    if isinstance(report, CollectionReport):
        return ReportRow(*base, channel=report.channel)
    return ReportRow(*base)


def reports_table(rows: Iterable[ReportRow]) -> pa.Table:
    """An Arrow table in ``REPORT_SCHEMA`` of these rows."""
    rows = list(rows)
    return pa.table({name: [getattr(r, name) for r in rows] for name in REPORT_SCHEMA.names}, schema=REPORT_SCHEMA)
