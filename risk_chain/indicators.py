"""Risk indicators per lender and day, computed with DuckDB over the Arrow table of reports.

``RiskIndicators`` keeps the reports and the computed figures in one in-process DuckDB database:
``recompute()`` computes everything, ``add_block()`` appends one sealed block of reports and
recomputes only the lenders it touches, from the earliest day it changes (plus the new days of
every lender when the block moves the last day forward), and ``explain()`` names the ledger
entries behind one figure so the lender or a court can check it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from .explain_sql import explain_query
from .indicator_sql import BORROWER_DAY, INDICATORS, LOAN_BORROWER, STATE_COLUMNS, indicator_query
from .report_table import REPORT_SCHEMA

__all__ = ["INDICATORS", "EXTERNAL_SCHEMA", "Explanation", "RiskIndicators", "RiskSettings"]

EXTERNAL_SCHEMA = pa.schema([("lender_id", pa.string()), ("day", pa.date32()), ("count", pa.int64())])
_EPOCH = dt.date(1970, 1, 1)
_NO_FLOOR = -1_000_000  # a day_from before any report (and far from INTEGER's range)


@dataclass(frozen=True)
class RiskSettings:
    """What the figures depend on besides the reports: the rate cap comes from the LPR (courts' cap: 4 × one-year LPR)."""

    lpr_bp: int = 300
    cap_multiple: int = 4
    reporting_limit_ms: int = 86_400_000  # report within a day of the event
    m1_days: int = 30
    m3_days: int = 90
    utc_offset_hours: int = 8  # days are Beijing days

    @property
    def cap_bp(self) -> int:
        return self.lpr_bp * self.cap_multiple


@dataclass(frozen=True)
class Explanation:
    """One figure and the ledger indexes of the reports it was computed from."""

    lender_id: str
    day: dt.date
    indicator: str
    value: float
    indexes: list[int]


def _used(query: str, params: dict[str, int | str | None]) -> dict[str, int | str | None]:
    """Only the parameters the query names (DuckDB refuses unused ones)."""
    return {k: v for k, v in params.items() if f"${k}" in query}


def _day(day: dt.date) -> int:
    return (day - _EPOCH).days


class RiskIndicators:
    """The reports seen so far and every indicator computed from them."""

    def __init__(self, settings: RiskSettings | None = None, *, court_failures: pa.Table | None = None,
                 complaints: pa.Table | None = None, threads: int | None = None) -> None:
        self.settings = settings or RiskSettings()
        self.db = duckdb.connect()
        self.db.execute("SET enable_progress_bar = false").fetchall()
        if threads:
            self._run(f"SET threads = {int(threads)}")
        self._create("reports", REPORT_SCHEMA.empty_table())
        for name, table in (("court_failures", court_failures), ("complaints", complaints)):
            self._create(name, EXTERNAL_SCHEMA.empty_table() if table is None else table.select(EXTERNAL_SCHEMA.names).cast(EXTERNAL_SCHEMA))
        self._run("CREATE TABLE scope (lender_id VARCHAR, day_from INTEGER)")
        columns = [f"{n} DOUBLE" for n in INDICATORS] + [f"{n} {t}" for n, t in STATE_COLUMNS]
        self._run(f"CREATE TABLE daily (lender_id VARCHAR, day INTEGER, {', '.join(columns)})")
        self._run("CREATE TABLE loan_borrower (lender_id VARCHAR, loan_id VARCHAR, borrower VARCHAR, first_idx BIGINT)")
        self._run("CREATE TABLE borrower_day (lender_id VARCHAR, borrower VARCHAR, day INTEGER, delta BIGINT)")
        self.end_day: int | None = None

    def _run(self, query: str, params: dict[str, int | str | None] | None = None) -> list[tuple]:
        """Run a statement to completion (DuckDB 2 refuses new work while a result is unread)."""
        return self.db.execute(query, params).fetchall() if params else self.db.execute(query).fetchall()

    def _create(self, name: str, table: pa.Table) -> None:
        self.db.register("arrow_in", table)
        self._run(f"CREATE TABLE {name} AS SELECT * FROM arrow_in")
        self.db.unregister("arrow_in")

    def _append(self, table: pa.Table) -> None:
        """Append reports (columns by name, types checked), leaving them registered as ``arrow_in`` for the caller."""
        self.db.register("arrow_in", table.select(REPORT_SCHEMA.names).cast(REPORT_SCHEMA))
        self._run("INSERT INTO reports SELECT * FROM arrow_in")

    def _params(self) -> dict[str, int]:
        s = self.settings
        return {"off_ms": s.utc_offset_hours * 3_600_000, "cap_bp": s.cap_bp, "limit_ms": s.reporting_limit_ms,
                "m1": s.m1_days, "m3": s.m3_days, "end_day": self.end_day}

    def _last_day(self, table: str) -> int | None:
        off = self.settings.utc_offset_hours * 3_600_000
        return self._run(f"SELECT max(greatest(event_ms, deposit_ms) + {off}) // 86400000 FROM {table}")[0][0]

    def _compute(self) -> None:
        """Replace the figures of every lender in ``scope`` from its ``day_from`` on."""
        self._run("DELETE FROM daily USING scope WHERE daily.lender_id = scope.lender_id AND daily.day >= scope.day_from")
        self._run("INSERT INTO daily BY NAME " + indicator_query(), self._params())

    def recompute(self, reports: pa.Table | None = None) -> None:
        """Every indicator of every lender, from scratch (from ``reports`` when given, else from those held)."""
        if reports is not None:
            self._run("DELETE FROM reports")
            self._append(reports)
            self.db.unregister("arrow_in")
        self._run("DELETE FROM loan_borrower")
        self._run("DELETE FROM borrower_day")
        self._run(LOAN_BORROWER.format(src="reports"))
        self._run(BORROWER_DAY.format(rows="SELECT * FROM reports"), {"off_ms": self._params()["off_ms"]})
        self.end_day = self._last_day("reports")
        self._run("DELETE FROM scope")
        self._run(f"INSERT INTO scope SELECT DISTINCT lender_id, {_NO_FLOOR} FROM reports")
        self._run("DELETE FROM daily")
        if self.end_day is not None:
            self._compute()

    def add_block(self, block: pa.Table) -> None:
        """Append one block of reports and bring the figures up to date, recomputing only what it can change."""
        if block.num_rows == 0:
            return
        off = self.settings.utc_offset_hours * 3_600_000
        old_end = self.end_day
        self._append(block)
        self._borrowers_of_block()
        self.end_day = max(self._last_day("arrow_in"), old_end if old_end is not None else _NO_FLOOR)
        self._run("DELETE FROM scope")
        first_new = old_end + 1 if old_end is not None else self.end_day  # days after the old end are new for every lender
        self._run(f"INSERT INTO scope SELECT lender_id, least(CAST(min(least(event_ms, deposit_ms) + {off}) // 86400000 AS INTEGER), $n) "
                        "FROM arrow_in GROUP BY ALL", {"n": first_new})
        self.db.unregister("arrow_in")
        if old_end is not None and self.end_day > old_end:
            self._run("INSERT INTO scope SELECT DISTINCT lender_id, $d FROM daily WHERE lender_id NOT IN (SELECT lender_id FROM scope)",
                            {"d": old_end + 1})
        self._compute()

    def _borrowers_of_block(self) -> None:
        """Keep the borrower tables current: the block's own rows, and the earlier repayments of loans whose contract it brings."""
        self._run("CREATE OR REPLACE TEMP TABLE new_loans AS SELECT lender_id, loan_id FROM arrow_in WHERE record_type = 'contract' "
                  "EXCEPT SELECT lender_id, loan_id FROM loan_borrower")
        self._run(LOAN_BORROWER.format(src="arrow_in"))
        first = "(SELECT min(idx) FROM arrow_in)"
        rows = (f"SELECT * FROM arrow_in UNION ALL SELECT r.* FROM reports r SEMI JOIN new_loans USING (lender_id, loan_id) "
                f"WHERE r.idx < {first}")
        self._run(BORROWER_DAY.format(rows=rows), {"off_ms": self._params()["off_ms"]})

    def results(self) -> pa.Table:
        """Every (lender, day) row with its indicators, day as a date, in lender and day order."""
        cols = ", ".join(INDICATORS)
        return self.db.sql(f"SELECT lender_id, DATE '1970-01-01' + day AS day, {cols} FROM daily ORDER BY lender_id, day").to_arrow_table()

    def value(self, lender_id: str, day: dt.date, indicator: str) -> float:
        """One figure (KeyError for an unknown indicator or a (lender, day) not computed)."""
        if indicator not in INDICATORS:
            raise KeyError(indicator)
        rows = self._run(f"SELECT {indicator} FROM daily WHERE lender_id = $l AND day = $d", {"l": lender_id, "d": _day(day)})
        if not rows:
            raise KeyError((lender_id, day))
        return rows[0][0]

    def explain(self, lender_id: str, day: dt.date, indicator: str) -> Explanation:
        """The figure and the ledger indexes of the reports behind it (none for the caller's court and complaint counts)."""
        value = self.value(lender_id, day, indicator)
        query = explain_query(indicator)
        indexes = [] if query is None else [r[0] for r in self._run(query, _used(query, {**self._params(), "lender": lender_id, "day": _day(day)}))]
        return Explanation(lender_id, day, indicator, value, sorted(indexes))
