"""The feed's page → Arrow table is exactly the table ``report_table.report_row`` gives for the same reports."""

from __future__ import annotations

import time

import msgspec

from evidence.loan_reports import parse_report
from risk_chain.feed import _PAGE, rows_table
from risk_chain.report_table import report_row, reports_table
from risk_chain.scenario import history


def test_a_feed_page_becomes_the_same_table_as_the_typed_reports() -> None:
    now = int(time.time() * 1000)
    records = history(now, days=40)
    consent = {"borrower": "ab" * 32, "purpose": "loan application", "valid_from": "2026-01-01", "valid_to": "2026-12-31"}
    kinds = [(r.lender_id, r.record_type, r.loan_id, r.event_time_ms, r.report) for r in records] + [("L0009", "consent", "c-1", now, consent)]
    rows = [{"index": i, "lender_id": lender, "record_type": kind, "loan_id": loan, "event_time_ms": t, "deposit_time_ms": t + 1000,
             "digest": "00" * 32, "commitment_salt": "11" * 32, "report": report} for i, (lender, kind, loan, t, report) in enumerate(kinds)]
    page = _PAGE.decode(msgspec.json.encode({"sealed_size": len(rows), "next": len(rows), "reports": rows}))
    expected = reports_table([report_row(i, lender, loan, t, t + 1000, kind, parse_report(kind, report))
                              for i, (lender, kind, loan, t, report) in enumerate(kinds)])
    assert {r["record_type"] for r in rows} == {"contract", "disbursement", "repayment", "overdue", "collection", "consent"}
    assert rows_table(page.reports).equals(expected)
