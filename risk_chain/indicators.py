"""Risk indicators per lender and day, computed with DuckDB over the Arrow table of reports.

``RiskIndicators`` keeps the reports, the running state derived from them (per lender-day sums, each
loan's book, each borrower's principal: see ``indicator_sql``) and the computed figures in one in-process
DuckDB database. ``recompute()`` computes everything; ``add_block()`` appends one sealed block of reports,
adds what it changes to the state (reading only the history of the loans it names) and recomputes only
the lenders it touches, from the earliest day it changes (plus the new days of every lender when the
block moves the last day forward); ``add_complaints()`` and ``add_court_failures()`` do the same for the
caller's counts; ``explain()`` names the ledger entries behind one figure so the lender or a court can
check it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .explain_sql import explain_query
from .indicator_sql import (
    BOOK_ROWS,
    BORROWER_CHANGES,
    BORROWER_KEYS,
    BORROWER_MERGE,
    COLLISIONS,
    DAY_RAW_COLUMNS,
    DAY_RAW_MERGE,
    FIRSTS,
    HISTORY,
    INDICATORS,
    LOAN_COLLISIONS,
    REPORT_DAYS,
    STATE_COLUMNS,
    compute,
    external_part,
    raw_rows,
    report_parts,
    spell_parts,
    spells,
)
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


def _external(table: pa.Table | None) -> pa.Table:
    """Court-failure or complaint counts in EXTERNAL_SCHEMA (columns by name), without rows naming no lender or day."""
    if table is None:
        return EXTERNAL_SCHEMA.empty_table()
    table = table.select(EXTERNAL_SCHEMA.names).cast(EXTERNAL_SCHEMA)
    return table.filter(pc.and_(pc.is_valid(table["lender_id"]), pc.is_valid(table["day"])))


_BOTH = "(SELECT * EXCLUDE (same) FROM hist UNION ALL SELECT * FROM bb)"  # the whole book of the loans a block names


class RiskIndicators:
    """The reports seen so far, the running state derived from them and every indicator computed from it."""

    def __init__(self, settings: RiskSettings | None = None, *, court_failures: pa.Table | None = None,
                 complaints: pa.Table | None = None, threads: int | None = None) -> None:
        self.settings = settings or RiskSettings()
        self.db = duckdb.connect()
        self.db.execute("SET enable_progress_bar = false").fetchall()
        # DuckDB checkpoints (compresses what changed, drops deleted rows) on its own after 16 MiB of changes: a pause of up to
        # seconds in the middle of whichever update crosses it. It runs instead at the end of recompute() and in compact().
        self._run("SET checkpoint_threshold = '1TB'")
        if threads:
            self._run(f"SET threads = {int(threads)}")
        self._create("reports", REPORT_SCHEMA.empty_table())
        for name, table in (("court_failures", court_failures), ("complaints", complaints)):
            self._create(name, _external(table))
        self.end_day: int | None = None
        self.max_idx: int | None = None
        self.salt = 0  # of the loan and borrower keys: changed (and everything recomputed) if two ever share a key
        self._reset_state()
        self._run("CREATE OR REPLACE TEMP TABLE raw_delta AS "
                  + raw_rows([external_part("court_failures", "court_failures"), external_part("complaints", "complaints")]))
        self._merge(DAY_RAW_MERGE)

    def _run(self, query: str, params: dict[str, int | str | None] | None = None) -> list[tuple]:
        """Run a statement to completion (DuckDB 2 refuses new work while a result is unread)."""
        return self.db.execute(query, _used(query, params)).fetchall() if params else self.db.execute(query).fetchall()

    def _create(self, name: str, table: pa.Table) -> None:
        self.db.register("arrow_in", table)
        self._run(f"CREATE TABLE {name} AS SELECT * FROM arrow_in")
        self.db.unregister("arrow_in")

    def _reset_state(self) -> None:
        """Empty state tables (the reports and the caller's counts stay)."""
        raw = ", ".join(f"{n} {t} NOT NULL" for n, t in DAY_RAW_COLUMNS)
        columns = [f"{n} DOUBLE" for n in INDICATORS] + [f"{n} {t}" for n, t in STATE_COLUMNS]
        for ddl in (
            "book (h UBIGINT, h2 UBIGINT, idx BIGINT, record_type VARCHAR, eday INTEGER, days_past_due INTEGER, d_out BIGINT, bkey UBIGINT)",
            "borrowers (bh UBIGINT, bh2 UBIGINT)",
            "borrower_day (lender_id VARCHAR, bkey UBIGINT, day INTEGER, delta BIGINT)",
            "borrower_total (bkey UBIGINT, lender_id VARCHAR, total HUGEINT NOT NULL)",
            f"day_raw (lender_id VARCHAR, day INTEGER, {raw})",
            "lenders (lender_id VARCHAR, first_day INTEGER)",
            f"daily (lender_id VARCHAR, day INTEGER, {', '.join(columns)})",
        ):
            self._run(f"CREATE OR REPLACE TABLE {ddl}")

    def _merge(self, statements: tuple[str, ...]) -> None:
        for statement in statements:
            self._run(statement)

    def _params(self) -> dict[str, int | None]:
        s = self.settings
        return {"off_ms": s.utc_offset_hours * 3_600_000, "cap_bp": s.cap_bp, "limit_ms": s.reporting_limit_ms,
                "m1": s.m1_days, "m3": s.m3_days, "end_day": self.end_day, "salt": self.salt}

    def _scope(self, changed: str, params: dict[str, int | None] | None = None) -> None:
        """Set ``scope`` from ``changed`` (a query of lender_id, day: the days whose figures may change) and recompute it."""
        self._run(f"CREATE OR REPLACE TEMP TABLE scope AS SELECT c.lender_id, c.day_from, l.first_day FROM "
                  f"(SELECT lender_id, min(day) AS day_from FROM ({changed}) WHERE day <= $end GROUP BY ALL) c JOIN lenders l USING (lender_id)",
                  {**(params or {}), "end": self.end_day})
        min_from = self._run("SELECT min(day_from) FROM scope")[0][0]
        if min_from is None:
            return
        params = {**self._params(), "min_from": min_from}
        for statement in compute(self.end_day - min_from):
            self._run(statement, params)

    def recompute(self, reports: pa.Table | None = None) -> None:
        """Every indicator of every lender, from scratch (from ``reports`` when given, else from those held)."""
        if reports is not None:
            self._run("DELETE FROM reports")
            self.db.register("arrow_in", reports.select(REPORT_SCHEMA.names).cast(REPORT_SCHEMA))
            self._run("INSERT INTO reports SELECT * FROM arrow_in")
            self.db.unregister("arrow_in")
        self._reset_state()
        while True:
            p = {**self._params(), "lo": -(2**62)}  # no report is "new": only the spells as they are
            self._run("CREATE OR REPLACE TEMP TABLE rd AS " + REPORT_DAYS.format(src="reports"), p)
            self._run("INSERT INTO borrowers " + BORROWER_KEYS.format(src="rd"), p)
            if not self._run(LOAN_COLLISIONS)[0][0]:
                break
            self._run("DELETE FROM borrowers")
            self.salt += 1
        self._run("CREATE OR REPLACE TEMP TABLE bk AS " + BOOK_ROWS.format(src="rd"), p)
        self._run("INSERT INTO book SELECT * EXCLUDE (lender_id) FROM bk")
        self._run("CREATE OR REPLACE TEMP TABLE firsts AS " + FIRSTS.format(src="bk"))
        self._run("INSERT INTO borrower_day " + BORROWER_CHANGES.format(src="bk", firsts="firsts", where="true"))
        self._run("INSERT INTO borrower_total SELECT bkey, lender_id, sum(delta) FROM borrower_day GROUP BY ALL")
        self._run("CREATE OR REPLACE TEMP TABLE raw_delta AS " + raw_rows([
            *report_parts("rd", "firsts"), *spell_parts("sp"),
            external_part("court_failures", "court_failures"), external_part("complaints", "complaints")], {"sp": spells("bk")}), p)
        self._merge(DAY_RAW_MERGE)
        self._run("INSERT INTO lenders SELECT lender_id, min(least(eday, dday)) FROM rd GROUP BY ALL")
        self.end_day, self.max_idx = self._run("SELECT max(greatest(eday, dday)), max(idx) FROM rd")[0]
        self._run("DROP TABLE rd")
        self._run("DROP TABLE bk")
        self._scope(f"SELECT lender_id, {_NO_FLOOR} AS day FROM lenders")
        self.compact()

    def compact(self) -> None:
        """Compress what was appended and drop the rows updates replaced (a DuckDB checkpoint, about a second for a million
        reports): done by recompute(); a caller that only adds blocks may run it now and then at a quiet moment."""
        self._run("CHECKPOINT")

    def add_block(self, block: pa.Table) -> None:
        """Append one sealed block of reports (ledger indexes after those held) and bring the figures up to date.

        The block's changes are added to the running state, reading only the earlier book of the loans it names;
        then each lender it touches is recomputed from the earliest day it changes, and every lender from the old
        last day on when it moves the last day forward. A block out of ledger order is appended and everything
        recomputed."""
        if block.num_rows == 0:
            return
        block = block.select(REPORT_SCHEMA.names).cast(REPORT_SCHEMA)
        lo, hi = (v.as_py() for v in pc.min_max(block["idx"]).values())
        self.db.register("arrow_in", block)
        self._run("INSERT INTO reports SELECT * FROM arrow_in")
        if self.max_idx is not None and lo <= self.max_idx:
            self.db.unregister("arrow_in")
            self.recompute()
            return
        p = {**self._params(), "lo": lo}
        self._run("CREATE OR REPLACE TEMP TABLE blk AS " + REPORT_DAYS.format(src="arrow_in"), p)
        self.db.unregister("arrow_in")
        self._run("CREATE OR REPLACE TEMP TABLE bkeys AS " + BORROWER_KEYS.format(src="blk"), p)
        self._run("CREATE OR REPLACE TEMP TABLE bb AS " + BOOK_ROWS.format(src="blk"), p)
        self._run("CREATE OR REPLACE TEMP TABLE hist AS " + HISTORY)
        if self._run(COLLISIONS)[0][0]:  # two loans or borrowers share a key: new keys for everything
            self.salt += 1
            self.recompute()
            return
        self._run("INSERT INTO borrowers SELECT * FROM bkeys ANTI JOIN borrowers USING (bh)")
        self._run("INSERT INTO book SELECT * EXCLUDE (lender_id) FROM bb")
        self._run("CREATE OR REPLACE TEMP TABLE firsts AS " + FIRSTS.format(src=_BOTH))
        # the block's own contracts and repayments, and the earlier repayments of loans whose first contract it brings
        self._run("CREATE OR REPLACE TEMP TABLE bdelta AS " + BORROWER_CHANGES.format(src=_BOTH, firsts="firsts",
                                                                                    where="e.idx >= $lo OR f.first_idx >= $lo"), p)
        self._run("INSERT INTO borrower_day SELECT * FROM bdelta")
        self._merge(BORROWER_MERGE)
        # the spells of those loans with the block (+) and as they were without it (-): what is left is what the block changed
        self._run("CREATE OR REPLACE TEMP TABLE raw_delta AS " + raw_rows([*report_parts("blk", "firsts"), *spell_parts("sp")],
                                                                        {"sp": spells(_BOTH)}), p)
        self._merge(DAY_RAW_MERGE)
        self._run("CREATE OR REPLACE TABLE lenders AS SELECT lender_id, min(first_day) AS first_day FROM "
                  "(SELECT * FROM lenders UNION ALL SELECT lender_id, least(eday, dday) FROM blk) GROUP BY ALL")
        block_end = self._run("SELECT max(greatest(eday, dday)) FROM blk")[0][0]
        old_end = self.end_day
        self.end_day = block_end if old_end is None else max(old_end, block_end)
        self.max_idx = hi
        moved = old_end is not None and self.end_day > old_end  # the days after the old end are new for every lender
        self._scope("SELECT lender_id, day FROM raw_delta UNION ALL SELECT lender_id, day FROM bdelta "
                    "UNION ALL SELECT lender_id, $new FROM lenders WHERE $moved", {"new": (old_end or 0) + 1, "moved": moved})

    def add_complaints(self, table: pa.Table) -> None:
        """Append complaint counts (EXTERNAL_SCHEMA: lender_id, day, count) and bring the lenders they name up to date from their day."""
        self._add_external("complaints", table)

    def add_court_failures(self, table: pa.Table) -> None:
        """Append court-failure counts (EXTERNAL_SCHEMA: lender_id, day, count) and bring the lenders they name up to date from their day."""
        self._add_external("court_failures", table)

    def _add_external(self, name: str, table: pa.Table) -> None:
        table = _external(table)
        if table.num_rows == 0:
            return
        self.db.register("arrow_in", table)
        self._run(f"INSERT INTO {name} SELECT * FROM arrow_in")
        self._run("CREATE OR REPLACE TEMP TABLE raw_delta AS " + raw_rows([external_part(name, "arrow_in")]))
        self.db.unregister("arrow_in")
        self._merge(DAY_RAW_MERGE)
        if self.end_day is not None:
            self._scope("SELECT lender_id, day FROM raw_delta")

    def lenders(self) -> list[str]:
        """The lenders with at least one report, in order."""
        return [r[0] for r in self._run("SELECT lender_id FROM lenders ORDER BY lender_id")]

    def latest_day(self) -> dt.date | None:
        """The last day computed (the latest event or deposit day held), None before any report."""
        return None if self.end_day is None else _EPOCH + dt.timedelta(days=self.end_day)

    def row(self, lender_id: str, day: dt.date) -> dict[str, float]:
        """Every indicator of one lender on one day (KeyError for a (lender, day) not computed)."""
        rows = self._run(f"SELECT {', '.join(INDICATORS)} FROM daily WHERE lender_id = $l AND day = $d", {"l": lender_id, "d": _day(day)})
        if not rows:
            raise KeyError((lender_id, day))
        return dict(zip(INDICATORS, rows[0], strict=True))

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
        indexes = [] if query is None else [r[0] for r in self._run(query, {**self._params(), "lender": lender_id, "day": _day(day)})]
        return Explanation(lender_id, day, indicator, value, sorted(indexes))
