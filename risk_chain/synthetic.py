"""Deterministic synthetic reports for tests and the benchmark: realistic mixes, late deposits, broken lifecycles.

Generated inside DuckDB from ``hash(row, seed, field)`` so a million rows take about a second with
no extra dependency, and the same seed always gives the same table.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from .report_table import REPORT_SCHEMA

__all__ = ["synthetic_reports"]

_START_MS = int(dt.datetime(2025, 1, 1, 4, tzinfo=dt.UTC).timestamp() * 1000)  # noon in Beijing

_SQL = """
WITH loans AS (
  SELECT i AS loan, hash(i, $seed, 1) % $lenders AS lender, hash(i, $seed, 2) % $days AS day,
         100000 + hash(i, $seed, 3) % 4900000 AS principal, CAST(600 + hash(i, $seed, 4) % 1800 AS INTEGER) AS rate_bp,
         hash(i, $seed, 5) % 3000 AS borrower
  FROM range($contracts) t(i)
), picks AS (
  SELECT kind, i, l.*, hash(i, $seed, kind, 7) AS h FROM (
    SELECT 'disbursement' AS kind, i FROM range($disbursements) t(i) UNION ALL SELECT 'repayment', i FROM range($repayments) t(i)
    UNION ALL SELECT 'overdue', i FROM range($overdues) t(i) UNION ALL SELECT 'collection', i FROM range($collections) t(i)
  ) JOIN loans l ON l.loan = hash(i, $seed, kind, 6) % $contracts
), events AS (
  SELECT 'contract' AS record_type, loan, lender, day, principal AS amount, NULL::BIGINT AS principal, rate_bp, borrower,
         NULL::INTEGER AS days_past_due, NULL::VARCHAR AS channel, hash(loan, $seed, 8) AS h FROM loans
  UNION ALL
  SELECT kind, CASE WHEN kind = 'disbursement' AND h % 100 = 0 THEN loan + $contracts ELSE loan END,  -- 1%: a loan never contracted
         lender, day + CASE kind WHEN 'disbursement' THEN 0 WHEN 'repayment' THEN 1 + h % 119 ELSE 30 + h % 170 END,
         CASE kind WHEN 'disbursement' THEN principal WHEN 'repayment' THEN principal // 8 + principal // 400
                   WHEN 'overdue' THEN principal // 10 END,
         CASE WHEN kind = 'repayment' THEN principal // 8 END, NULL, NULL,
         CASE WHEN kind = 'overdue' THEN CAST(1 + (h // 7) % 119 AS INTEGER) END,
         CASE WHEN kind = 'collection' THEN ['call', 'sms', 'letter', 'visit', 'legal'][CAST(1 + (h // 7) % 5 AS BIGINT)] END, h
  FROM picks
), timed AS (
  SELECT *, $start_ms + day * 86400000 + CAST((h // 11) % 7200000 AS BIGINT) - 3600000 AS event_ms FROM events
  WHERE day < $days  -- events past the last day have not happened yet
  ORDER BY h LIMIT $reports  -- the mix was drawn with room to spare: a random subset of exactly the size asked
)
SELECT CAST($first_idx + row_number() OVER (ORDER BY deposit_ms, h) - 1 AS BIGINT) AS idx, * EXCLUDE (deposit_ms, h), deposit_ms FROM (
  SELECT printf('lender-%03d', lender) AS lender_id, record_type, event_ms,
         event_ms + CASE WHEN (h // 13) % 100 < 8 THEN 86400000 + (h // 17) % 432000000 ELSE 60000 + (h // 17) % 21600000 END AS deposit_ms,
         'loan-' || loan AS loan_id, CASE WHEN borrower IS NOT NULL THEN lpad(CAST(borrower AS VARCHAR), 64, '0') END AS borrower,
         amount, principal, rate_bp, days_past_due, channel, h
  FROM timed
)
ORDER BY idx
"""


def synthetic_reports(lenders: int = 100, days: int = 365, reports: int = 1_000_000, seed: int = 14, first_idx: int = 0) -> pa.Table:
    """``reports`` rows over ``lenders`` and ``days`` in ledger (deposit) order, ``idx`` from ``first_idx``.

    The mix drawn: 25% contracts, 15% disbursements (1% of them for a loan never contracted), 35% repayments,
    10% overdue reports, 15% collections, then those dated past the last day dropped (so later days hold
    fewer contracts and more repayments); 8% of the reports are deposited 1 to 6 days late."""
    reports_asked, reports = reports, int(reports * (1.5 + 120 / days))  # draw more: events past the last day are dropped
    counts = {"contracts": reports // 4, "repayments": reports * 35 // 100, "overdues": reports // 10, "collections": reports * 15 // 100}
    counts["disbursements"] = reports - sum(counts.values())
    params = {"seed": seed, "lenders": lenders, "days": days, "start_ms": _START_MS, "first_idx": first_idx, "reports": reports_asked, **counts}
    with duckdb.connect() as db:
        db.execute("SET enable_progress_bar = false").fetchall()
        table = db.sql(_SQL, params=params).to_arrow_table()
    if table.num_rows != reports_asked:
        raise ValueError(f"only {table.num_rows} of {reports_asked} reports fall within {days} days: ask for more days")
    return table.select(REPORT_SCHEMA.names).cast(REPORT_SCHEMA)
