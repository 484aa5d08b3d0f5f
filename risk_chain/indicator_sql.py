"""The SQL (DuckDB) behind the indicators: the running state kept per lender-day, per loan and per borrower, and
the statements that turn that state into every indicator for every (lender, day) in scope.

Days are integers (days since 1970-01-01 in the configured time zone). A lender's grid runs from
its first report (event or deposit) to ``end_day`` without gaps, so cumulative sums and trailing
windows are plain window functions. Definitions (the README's risk section repeats them):

* outstanding principal at D: contract principals minus repayment principal parts, event day <= D;
* an overdue report (day o, p days past due) is in force from o until the loan's next repayment or
  overdue report; its loan counts at the loan's outstanding principal as of o, from the day the
  days past due exceed ``m1_days`` (M1+) or ``m3_days`` (M3+): ratio = overdue / outstanding;
* change_30d: the ratio minus the ratio 30 days earlier (0 before the lender existed);
* above_cap_share: of the contracts dated D, the share with rate_bp above the cap;
* late_share: of the reports deposited on D, the share deposited more than the limit after the event;
* silence_days: D minus the last day with a deposit (since the lender's first day when none yet);
* lending_spike_z: robust z-score of D's new principal against D-30..D-1:
  (x - median) / (1.4826 MAD), or / (1.2533 mean absolute deviation) when MAD is 0, else 0;
* top10_share: the 10 largest borrowers' share of outstanding principal at D;
* collection_intensity: collection events on D-6..D per loan overdue at D (0 without one);
* broken_lifecycles: disbursements, repayments and overdue reports dated D of a loan with no
  contract earlier in the ledger;
* court_failures, complaints: the caller's per-(lender, day) counts.

The running state (tables created by ``indicators.RiskIndicators``), all of it sums or facts that a new
report only adds to:

* ``book``: the contract, repayment and overdue reports with their event day, principal change and, for a
  contract, its borrower's key, all as numbers: a loan is keyed by ``h``, a salted 64-bit hash of (lender_id,
  loan_id), beside a second independent hash ``h2`` that shows any two loans sharing ``h`` (then the salt
  changes and everything is recomputed); borrowers likewise (``borrowers``: bh, bh2);
* ``day_raw``: per (lender, day) the principal change, new principal, contract, above-cap, collection,
  deposit, late and broken counts, the changes of the overdue-loan count and of the M1+/M3+ amounts (+x
  where an overdue spell crosses the threshold, -x where it ends; days past ``end_day`` are kept for when
  the last day moves on) and the caller's counts;
* ``borrower_day`` (each principal change of a borrower, by day) and ``borrower_total`` (their sum): added to
  when a loan's contract arrives, for its repayments reported before it too;
* ``lenders`` (each lender's first day) and ``daily`` (the figures, with the running sums at each day).

A report dated e changes no figure before e. An update adds its changes to that state and recomputes each
lender it touches from the earliest day it changed (``scope``: lender_id, day_from, first_day), reading the
running sums of the day before its horizon g0 = day_from - 30 (the longest look-back) from ``daily``; a block
names few loans, so only their history is read, and only the overdue spells of those loans are recomputed
(with and without the block: the difference goes into ``day_raw``). A full recompute builds the same state
from every report and runs the same statements with day_from far in the past and ``daily`` empty; the two
ways of taking running sums and top-10 sums (``compute``) give the same integers, so the figures agree bit
for bit.
"""

from __future__ import annotations

__all__ = ["BOOK_ROWS", "BORROWER_CHANGES", "BORROWER_KEYS", "BORROWER_MERGE", "COLLISIONS", "DAY_RAW_COLUMNS", "DAY_RAW_MERGE",
           "FIRSTS", "HISTORY", "INDICATORS", "JOIN_DAYS", "LOAN_COLLISIONS", "REPORT_DAYS", "STATE_COLUMNS", "compute", "external_part",
           "indicator_query", "raw_rows", "report_parts", "spell_parts", "spells"]

INDICATORS = ("overdue_m1", "overdue_m3", "overdue_m1_change_30d", "overdue_m3_change_30d", "above_cap_share", "late_share",
              "silence_days", "lending_spike_z", "top10_share", "collection_intensity", "broken_lifecycles", "court_failures",
              "complaints")

# The running sums kept beside the figures, so that the next update can start from any day.
STATE_COLUMNS = (("outstanding", "HUGEINT"), ("m1_amount", "HUGEINT"), ("m3_amount", "HUGEINT"), ("overdue_loans", "HUGEINT"),
                 ("last_deposit_day", "INTEGER"))

# The additive per-(lender, day) sums (see the module docstring).
DAY_RAW_COLUMNS = tuple((n, "HUGEINT") for n in ("d_out", "new_principal", "contracts", "above_cap", "collections", "deposits", "late",
                                                 "broken", "d_n", "d_m1", "d_m3", "court_failures", "complaints"))
_RAW = [n for n, _ in DAY_RAW_COLUMNS]


# Loans and borrowers are keyed by a 64-bit hash of (lender_id, loan_id) or (lender_id, pseudonym), salted by $salt, so that
# finding one loan's history reads numbers rather than every row's strings. A second, independent hash (h2, bh2) is kept
# beside it: two different loans or borrowers with the same key show up as one key with two second hashes, and the caller
# then changes the salt and recomputes (``COLLISIONS``, ``LOAN_COLLISIONS``).
_LOAN = "hash(lender_id, loan_id, $salt)", "hash(lender_id || chr(31) || loan_id, $salt + 1)"
_BORROWER = "hash(lender_id, coalesce(borrower, ''), $salt)", "hash(lender_id || chr(31) || coalesce(borrower, ''), $salt + 1)"

# Reports with their event and deposit days and loan keys: {src} is a table of REPORT_SCHEMA rows.
REPORT_DAYS = f"""
SELECT *, {_LOAN[0]} AS h, {_LOAN[1]} AS h2, CAST((event_ms + $off_ms) // 86400000 AS INTEGER) AS eday,
       CAST((deposit_ms + $off_ms) // 86400000 AS INTEGER) AS dday
FROM {{src}}
"""

# The borrowers of the contracts in {src} (rows of REPORT_DAYS): a contract without a pseudonym counts as ''.
BORROWER_KEYS = f"SELECT DISTINCT {_BORROWER[0]} AS bh, {_BORROWER[1]} AS bh2 FROM {{src}} WHERE record_type = 'contract'"

# The rows of ``book`` among {src} (rows of REPORT_DAYS), with their lender (``book`` itself keeps only numbers).
BOOK_ROWS = f"""
SELECT lender_id, h, h2, idx, record_type, eday, days_past_due,
       CASE record_type WHEN 'contract' THEN amount WHEN 'repayment' THEN -principal ELSE 0 END AS d_out,
       CASE WHEN record_type = 'contract' THEN {_BORROWER[0]} END AS bkey
FROM {{src}} WHERE record_type IN ('contract', 'repayment', 'overdue')
"""

# The book so far of the loans the block ``blk`` names (``same``: false for another loan with the same key).
HISTORY = """
SELECT k.lender_id, b.h, b.h2, b.idx, b.record_type, b.eday, b.days_past_due, b.d_out, b.bkey, b.h2 = k.h2 AS same
FROM book b JOIN (SELECT DISTINCT h, h2, lender_id FROM blk) k ON b.h = k.h
"""

# How many keys the block ``blk`` (with ``hist`` and its borrowers ``bkeys``) finds shared by two loans or two borrowers.
COLLISIONS = """
SELECT (SELECT count(*) FROM hist WHERE NOT same)
     + (SELECT count(*) FROM (SELECT h FROM blk GROUP BY h HAVING min(h2) <> max(h2)))
     + (SELECT count(*) FROM bkeys n JOIN borrowers b ON b.bh = n.bh AND b.bh2 <> n.bh2)
     + (SELECT count(*) FROM (SELECT bh FROM bkeys GROUP BY bh HAVING count(*) > 1))
"""
# The same for every report (``rd``) and borrower (``borrowers``) of a full recompute.
LOAN_COLLISIONS = """
SELECT (SELECT count(*) FROM (SELECT h FROM rd GROUP BY h HAVING min(h2) <> max(h2)))
     + (SELECT count(*) FROM (SELECT bh FROM borrowers GROUP BY bh HAVING count(*) > 1))
"""

# Each loan's first contract in the ledger (its borrower) among {src} (book rows).
FIRSTS = "SELECT h, arg_min(bkey, idx) AS bkey, min(idx) AS first_idx FROM {src} WHERE record_type = 'contract' GROUP BY h"

# Principal changes of borrowers: the contracts and repayments among {src} (book rows) of loans with a contract in {firsts},
# limited by {where}.
BORROWER_CHANGES = """
SELECT e.lender_id, f.bkey, e.eday AS day, e.d_out AS delta
FROM {src} e JOIN {firsts} f USING (h)
WHERE e.record_type IN ('contract', 'repayment') AND e.d_out IS NOT NULL AND ({where})
"""


def add_to(table: str, keys: tuple[str, ...], columns: list[str], src: str) -> tuple[str, str]:
    """Statements adding table {src} (one row per key) to {table}: existing keys by UPDATE, new ones by INSERT (no index:
    DuckDB's ON CONFLICT is slow and erratic on tables this size)."""
    on = " AND ".join(f"{table}.{k} = d.{k}" for k in keys)
    sets = ", ".join(f"{c} = {table}.{c} + d.{c}" for c in columns)
    cols = ", ".join(f"d.{c}" for c in (*keys, *columns))
    return (f"UPDATE {table} SET {sets} FROM {src} d WHERE {on}",
            f"INSERT INTO {table} SELECT {cols} FROM {src} d ANTI JOIN {table} USING ({', '.join(keys)})")


def spells(src: str) -> str:
    """The overdue spells of the loans in {src} (their whole book), as (lender_id, start0, start1, start3, stop, x, sign).

    A spell starts on its report's day (start0; start1/start3 when the days past due pass M1/M3), stops on the loan's
    next repayment or overdue report in (day, ledger) order (NULL while open) and counts at the loan's outstanding
    principal as of its day (x). With the block's reports being those with idx >= $lo: the spells with them (+1) and,
    for the overdue reports before the block, the spells as they were without them (-1); for a full recompute $lo is
    below every index, so only the first kind."""
    after = "e.record_type IN ('repayment', 'overdue') AND (e.eday > o.eday OR (e.eday = o.eday AND e.idx > o.idx))"
    return f"""
WITH p AS (
  SELECT o.lender_id, o.idx, o.eday, o.days_past_due,
         sum(e.d_out) FILTER (WHERE e.eday <= o.eday) AS x_new, sum(e.d_out) FILTER (WHERE e.eday <= o.eday AND e.idx < $lo) AS x_old,
         min(e.eday) FILTER (WHERE {after}) AS stop_new, min(e.eday) FILTER (WHERE {after} AND e.idx < $lo) AS stop_old
  FROM {src} o JOIN {src} e ON o.h = e.h
  WHERE o.record_type = 'overdue' GROUP BY ALL
)
SELECT lender_id, eday AS start0, greatest(eday, eday + $m1 + 1 - days_past_due) AS start1,
       greatest(eday, eday + $m3 + 1 - days_past_due) AS start3, stop_new AS stop, greatest(x_new, 0) AS x, 1 AS sign FROM p
UNION ALL
SELECT lender_id, eday, greatest(eday, eday + $m1 + 1 - days_past_due), greatest(eday, eday + $m3 + 1 - days_past_due),
       stop_old, greatest(x_old, 0), -1 FROM p WHERE idx < $lo
"""


def _part(src: str, day: str, where: str = "", **values: str) -> str:
    """Rows (lender_id, day, every DAY_RAW column, ``reports``: 1 when the row stands for a report or count) of {src}."""
    cols = ", ".join(values.get(n, "0") for n in (*_RAW, "reports"))
    return f"SELECT lender_id, {day}, {cols} FROM {src}{f' WHERE {where}' if where else ''}"


def report_parts(src: str, firsts: str) -> list[str]:
    """The ``day_raw`` rows of the reports in {src} (rows of REPORT_DAYS), broken lifecycles judged by {firsts}."""
    broken = (f"(SELECT l.lender_id, l.eday FROM {src} l LEFT JOIN {firsts} f USING (h) "
              "WHERE l.record_type IN ('disbursement', 'repayment', 'overdue') AND (f.first_idx IS NULL OR f.first_idx > l.idx))")
    contract = "record_type = 'contract'"
    return [
        _part(src, "eday", d_out="CASE record_type WHEN 'contract' THEN amount WHEN 'repayment' THEN -principal ELSE 0 END",
              new_principal=f"CASE WHEN {contract} THEN amount ELSE 0 END", contracts=f"CAST({contract} AS INTEGER)",
              above_cap=f"CAST({contract} AND rate_bp > $cap_bp AS INTEGER)", collections="CAST(record_type = 'collection' AS INTEGER)",
              reports="1"),
        _part(src, "dday", deposits="1", late="CAST(deposit_ms - event_ms > $limit_ms AS INTEGER)", reports="1"),
        _part(broken, "eday", broken="1", reports="1"),
    ]


def spell_parts(src: str) -> list[str]:
    """The ``day_raw`` rows of the spells in table {src}: the changes of the overdue-loan count and the M1+/M3+ amounts."""
    parts = []
    for start, col, amount in (("start0", "d_n", "sign"), ("start1", "d_m1", "sign * x"), ("start3", "d_m3", "sign * x")):
        parts.append(_part(src, start, f"stop IS NULL OR {start} < stop", **{col: amount}))
        parts.append(_part(src, "stop", f"{start} < stop", **{col: f"-{amount}"}))
    return parts


def external_part(name: str, src: str) -> str:
    """The ``day_raw`` rows of the caller's counts in {src} (EXTERNAL_SCHEMA) for column ``name``."""
    return _part(src, "CAST(day - DATE '1970-01-01' AS INTEGER)", **{name: '"count"', "reports": "1"})


def raw_rows(parts: list[str], ctes: dict[str, str] | None = None) -> str:
    """One row per (lender, day): the sums of ``parts``, keeping the days of a report or a count, and those where a spell
    changes something (an earlier spell replaced by a longer one leaves nothing where both start). ``ctes``: name -> query
    the parts read."""
    union = "\n  UNION ALL ".join(parts)
    sums = ", ".join(f"coalesce(sum({n}), 0) AS {n}" for n in _RAW)
    with_ = "WITH " + ", ".join(f"{n} AS MATERIALIZED ({q})" for n, q in ctes.items()) + "\n" if ctes else ""
    return (f"{with_}SELECT lender_id, day, {sums} FROM (\n  {union}\n) t(lender_id, day, {', '.join(_RAW)}, reports) GROUP BY ALL "
            "HAVING sum(reports) > 0 OR sum(d_n) <> 0 OR sum(d_m1) <> 0 OR sum(d_m3) <> 0")


# Add the rows of table ``raw_delta`` (from ``raw_rows``) to ``day_raw``, and the changes in ``bdelta`` to ``borrower_total``.
DAY_RAW_MERGE = add_to("day_raw", ("lender_id", "day"), _RAW, "raw_delta")
_BSUM = "(SELECT bkey, any_value(lender_id) AS lender_id, sum(delta) AS total FROM bdelta GROUP BY bkey)"
BORROWER_MERGE = (f"UPDATE borrower_total SET total = borrower_total.total + d.total FROM {_BSUM} d WHERE borrower_total.bkey = d.bkey",
                  f"INSERT INTO borrower_total SELECT d.bkey, d.lender_id, d.total FROM {_BSUM} d ANTI JOIN borrower_total USING (bkey)")

# Replacing the figures of every lender in ``scope`` from its day_from on: a DELETE, then one INSERT (one statement rather
# than several: with so few rows per update, planning and starting each statement costs more than running it). Parameters:
# $end_day, $min_from (the earliest day_from in scope).
#
# Top-10 borrowers at D >= day_from: a borrower with no change after day_from holds its total all along (``untouched``: the
# lender's 10 largest such totals); the others (``touched``) start at day_from at their total minus those changes, then change.
# A touched borrower that can never exceed the smallest of 10 untouched totals (its total plus all its later decreases is no
# more) cannot change the sum of the 10 largest, so only the others are followed day by day (``followed``).
#
# The grid runs from the horizon on, starting from the running sums of the day before it; the value 30 days earlier (change_30d)
# is a running sum that stops 30 rows back, so one window pass gives everything.
_RUNNING = ("ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", "ROWS BETWEEN UNBOUNDED PRECEDING AND 30 PRECEDING")
_HEAD = """
INSERT INTO daily BY NAME
WITH touched AS MATERIALIZED (
  SELECT b.lender_id, b.bkey, b.day, sum(b.delta) AS delta
  FROM borrower_day b JOIN scope s ON b.lender_id = s.lender_id AND b.day > s.day_from WHERE b.day > $min_from GROUP BY ALL
), later AS MATERIALIZED (
  SELECT lender_id, bkey, sum(delta) AS later, sum(least(delta, 0)) AS falls FROM touched GROUP BY ALL
), untouched AS MATERIALIZED (
  SELECT t.lender_id, max(t.total, 10) AS top FROM borrower_total t SEMI JOIN scope s USING (lender_id)
  WHERE t.total > 0 AND NOT EXISTS (SELECT 1 FROM later c WHERE c.bkey = t.bkey) GROUP BY ALL
), followed AS MATERIALIZED (
  SELECT l.lender_id, l.bkey, s.day_from AS day, t.total - l.later AS delta
  FROM later l JOIN borrower_total t USING (bkey) JOIN scope s ON s.lender_id = l.lender_id
  LEFT JOIN untouched u ON u.lender_id = l.lender_id
  WHERE t.total - l.falls > (CASE WHEN len(u.top) = 10 THEN list_min(u.top) ELSE 0 END)
), changes AS MATERIALIZED (
  SELECT * FROM followed UNION ALL SELECT t.* FROM touched t SEMI JOIN followed f USING (bkey)
), days AS (
  SELECT lender_id, CAST(unnest(range(greatest(first_day, day_from), $end_day + 1)) AS INTEGER) AS day FROM scope
"""
# The sum of the 10 largest values on each day: for a few days and borrowers, every followed borrower's value on every day.
_TOP_FEW = """), spans AS (
  SELECT lender_id, day AS start, coalesce(lead(day) OVER w, $end_day + 1) AS stop, sum(delta) OVER w AS value
  FROM changes WINDOW w AS (PARTITION BY bkey ORDER BY day)
), top10 AS MATERIALIZED (
  SELECT lender_id, day, list_sum(max(v, 10)) AS top10 FROM (
    SELECT d.lender_id, d.day, p.value AS v FROM spans p JOIN days d ON d.lender_id = p.lender_id AND d.day >= p.start AND d.day < p.stop
    WHERE p.value > 0
    UNION ALL SELECT d.lender_id, d.day, unnest(u.top) FROM days d JOIN untouched u USING (lender_id)
  ) GROUP BY ALL
"""
# For many (a full recompute: every borrower on every day is tens of millions of rows), first a floor for each 16 days: the
# smallest, over those days, of the 10th largest value among the lender's 64 borrowers with the highest peak (never more than
# the true 10th largest), then only the values not below it (a value below the 10th largest cannot be among the 10).
_TOP_MANY = """), spans AS MATERIALIZED (
  SELECT * FROM (SELECT lender_id, bkey, day AS start, coalesce(lead(day) OVER w, $end_day + 1) AS stop, sum(delta) OVER w AS value
                 FROM changes WINDOW w AS (PARTITION BY bkey ORDER BY day)) WHERE value > 0
), peaks AS (
  SELECT bkey FROM (SELECT lender_id, bkey, max(value) AS peak FROM spans GROUP BY ALL)
  QUALIFY row_number() OVER (PARTITION BY lender_id ORDER BY peak DESC) <= 64
), floor_day AS (
  SELECT d.lender_id, d.day, CASE WHEN count(*) >= 10 THEN list_min(max(p.value, 10)) ELSE 0 END AS floor
  FROM spans p SEMI JOIN peaks USING (bkey) JOIN days d ON d.lender_id = p.lender_id AND d.day >= p.start AND d.day < p.stop GROUP BY ALL
), floors AS (
  SELECT d.lender_id, d.day // 16 AS b, min(coalesce(f.floor, 0)) AS floor FROM days d LEFT JOIN floor_day f USING (lender_id, day) GROUP BY ALL
), kept AS (
  SELECT p.lender_id, p.b, p.start, p.stop, p.value FROM (SELECT *, unnest(range(start // 16, (stop - 1) // 16 + 1)) AS b FROM spans) p
  JOIN floors f USING (lender_id, b) WHERE p.value >= f.floor
), top10 AS MATERIALIZED (
  SELECT lender_id, day, list_sum(max(v, 10)) AS top10 FROM (
    SELECT d.lender_id, d.day, k.value AS v FROM kept k
    JOIN days d ON d.lender_id = k.lender_id AND d.day // 16 = k.b AND d.day >= k.start AND d.day < k.stop
    UNION ALL SELECT d.lender_id, d.day, unnest(u.top) FROM days d JOIN untouched u USING (lender_id)
  ) GROUP BY ALL
"""
_GRID = f"""), g AS (
  SELECT lender_id, first_day, day_from, day_from - 30 AS g0,
         CAST(unnest(range(greatest(first_day, day_from - 30), $end_day + 1)) AS INTEGER) AS day FROM scope
), grid AS MATERIALIZED (
  SELECT g.lender_id, g.day, g.first_day, g.day_from, z.outstanding AS z_out, z.m1_amount AS z_m1, z.m3_amount AS z_m3,
         z.overdue_loans AS z_n, z.last_deposit_day AS z_last, {', '.join(f'r.{n}' for n in _RAW)}, t.top10
  FROM g
  LEFT JOIN daily z ON z.lender_id = g.lender_id AND z.day = g.g0 - 1
  LEFT JOIN (SELECT * FROM day_raw WHERE day >= $min_from - 30 AND day <= $end_day) r ON r.lender_id = g.lender_id AND r.day = g.day
  LEFT JOIN top10 t ON t.lender_id = g.lender_id AND t.day = g.day
"""
_WINDOW = f"""), f AS (
  SELECT lender_id, day, first_day,
    coalesce(z_out, 0) + sum(coalesce(d_out, 0)) OVER (w {_RUNNING[0]}) AS outstanding,
    coalesce(z_m1, 0) + sum(coalesce(d_m1, 0)) OVER (w {_RUNNING[0]}) AS m1_amount,
    coalesce(z_m3, 0) + sum(coalesce(d_m3, 0)) OVER (w {_RUNNING[0]}) AS m3_amount,
    coalesce(z_n, 0) + sum(coalesce(d_n, 0)) OVER (w {_RUNNING[0]}) AS overdue_loans,
    count(*) OVER (w {_RUNNING[1]}) AS days_30,  -- the lender existed 30 days earlier
    coalesce(z_out, 0) + sum(coalesce(d_out, 0)) OVER (w {_RUNNING[1]}) AS outstanding_30,
    coalesce(z_m1, 0) + sum(coalesce(d_m1, 0)) OVER (w {_RUNNING[1]}) AS m1_30,
    coalesce(z_m3, 0) + sum(coalesce(d_m3, 0)) OVER (w {_RUNNING[1]}) AS m3_30,
    coalesce(new_principal, 0) AS new_principal,
    list(coalesce(new_principal, 0)) OVER (w ROWS BETWEEN 30 PRECEDING AND 1 PRECEDING) AS trail,
    coalesce(contracts, 0) AS contracts, coalesce(above_cap, 0) AS above_cap,
    sum(coalesce(collections, 0)) OVER (w ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS collections_7d,
    coalesce(deposits, 0) AS deposits, coalesce(late, 0) AS late,
    coalesce(max(CASE WHEN deposits > 0 THEN day END) OVER (w {_RUNNING[0]}), z_last) AS last_deposit_day,
    coalesce(broken, 0) AS broken, coalesce(top10, 0) AS top10, court_failures, complaints
  FROM grid
  WINDOW w AS (PARTITION BY lender_id ORDER BY day)
  QUALIFY day >= day_from
"""
_JOIN = """), lists AS MATERIALIZED (  -- the same from each lender's days as lists: no window, cheaper for a few days
  SELECT lender_id, min(day) AS start,
    list(coalesce(d_out, 0) ORDER BY day) AS l_out, list(coalesce(d_m1, 0) ORDER BY day) AS l_m1,
    list(coalesce(d_m3, 0) ORDER BY day) AS l_m3, list(coalesce(d_n, 0) ORDER BY day) AS l_n,
    list(coalesce(new_principal, 0) ORDER BY day) AS l_np, list(coalesce(collections, 0) ORDER BY day) AS l_col,
    list(CASE WHEN deposits > 0 THEN day END ORDER BY day) AS l_dep
  FROM grid GROUP BY lender_id
), f AS (
  SELECT o.lender_id, o.day, o.first_day,
    coalesce(o.z_out, 0) + list_sum(l.l_out[1:o.day - l.start + 1]) AS outstanding,
    coalesce(o.z_m1, 0) + list_sum(l.l_m1[1:o.day - l.start + 1]) AS m1_amount,
    coalesce(o.z_m3, 0) + list_sum(l.l_m3[1:o.day - l.start + 1]) AS m3_amount,
    coalesce(o.z_n, 0) + list_sum(l.l_n[1:o.day - l.start + 1]) AS overdue_loans,
    greatest(o.day - l.start - 29, 0) AS days_30,
    coalesce(o.z_out, 0) + list_sum(l.l_out[1:o.day - l.start - 29]) AS outstanding_30,
    coalesce(o.z_m1, 0) + list_sum(l.l_m1[1:o.day - l.start - 29]) AS m1_30,
    coalesce(o.z_m3, 0) + list_sum(l.l_m3[1:o.day - l.start - 29]) AS m3_30,
    coalesce(o.new_principal, 0) AS new_principal,
    l.l_np[greatest(o.day - l.start - 29, 1):o.day - l.start] AS trail,
    coalesce(o.contracts, 0) AS contracts, coalesce(o.above_cap, 0) AS above_cap,
    list_sum(l.l_col[greatest(o.day - l.start - 5, 1):o.day - l.start + 1]) AS collections_7d,
    coalesce(o.deposits, 0) AS deposits, coalesce(o.late, 0) AS late,
    coalesce(list_max(l.l_dep[1:o.day - l.start + 1]), o.z_last) AS last_deposit_day,
    coalesce(o.broken, 0) AS broken, coalesce(o.top10, 0) AS top10, o.court_failures, o.complaints
  FROM grid o JOIN lists l USING (lender_id) WHERE o.day >= o.day_from
"""
_TAIL = """), ratios AS (
  SELECT *,
    CASE WHEN outstanding > 0 THEN m1_amount / outstanding ELSE 0 END AS overdue_m1,
    CASE WHEN outstanding > 0 THEN m3_amount / outstanding ELSE 0 END AS overdue_m3,
    CASE WHEN days_30 = 0 THEN 0 WHEN outstanding_30 > 0 THEN m1_30 / outstanding_30 ELSE 0 END AS overdue_m1_30,
    CASE WHEN days_30 = 0 THEN 0 WHEN outstanding_30 > 0 THEN m3_30 / outstanding_30 ELSE 0 END AS overdue_m3_30,
    list_median(trail) AS med
  FROM f
), spread AS (
  SELECT *, list_median(list_transform(trail, lambda v: abs(v - med))) AS mad, list_avg(list_transform(trail, lambda v: abs(v - med))) AS meanad
  FROM ratios
)
SELECT lender_id, day, overdue_m1, overdue_m3,
  overdue_m1 - overdue_m1_30 AS overdue_m1_change_30d,
  overdue_m3 - overdue_m3_30 AS overdue_m3_change_30d,
  CASE WHEN contracts > 0 THEN above_cap / contracts ELSE 0 END AS above_cap_share,
  CASE WHEN deposits > 0 THEN late / deposits ELSE 0 END AS late_share,
  day - coalesce(last_deposit_day, first_day) AS silence_days,
  CASE WHEN mad > 0 THEN (new_principal - med) / (1.4826 * mad)
       WHEN meanad > 0 THEN (new_principal - med) / (1.2533 * meanad) ELSE 0 END AS lending_spike_z,
  CASE WHEN outstanding > 0 THEN top10 / outstanding ELSE 0 END AS top10_share,
  CASE WHEN overdue_loans > 0 THEN collections_7d / overdue_loans ELSE 0 END AS collection_intensity,
  broken AS broken_lifecycles, coalesce(court_failures, 0) AS court_failures, coalesce(complaints, 0) AS complaints,
  outstanding, m1_amount, m3_amount, overdue_loans, last_deposit_day
FROM spread
"""
_DELETE = "DELETE FROM daily USING scope WHERE daily.lender_id = scope.lender_id AND daily.day >= scope.day_from"

# Up to this many days from the earliest day_from to end_day, the running sums are taken from lists rather than windows.
JOIN_DAYS = 62


def compute(days: int) -> tuple[str, str]:
    """The statements replacing the figures in scope, for ``days`` from its earliest day_from to end_day (one text for the full
    and the incremental computations alike, so that they cannot drift apart; both ways give the same integers and lists)."""
    few = days <= JOIN_DAYS
    return _DELETE, _HEAD + (_TOP_FEW if few else _TOP_MANY) + _GRID + (_JOIN if few else _WINDOW) + _TAIL


def indicator_query() -> str:
    """The statements of a full computation, in order."""
    return ";\n".join(q.strip() for q in compute(JOIN_DAYS + 1))
