"""The one SQL query (DuckDB) that computes every indicator for every (lender, day) in scope.

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
"""

from __future__ import annotations

__all__ = ["BORROWER_DAY", "INDICATORS", "LOAN_BORROWER", "STATE_COLUMNS", "indicator_query"]

INDICATORS = ("overdue_m1", "overdue_m3", "overdue_m1_change_30d", "overdue_m3_change_30d", "above_cap_share", "late_share",
              "silence_days", "lending_spike_z", "top10_share", "collection_intensity", "broken_lifecycles", "court_failures",
              "complaints")

# Parameters: $off_ms (time-zone offset), $cap_bp, $limit_ms, $m1, $m3, $end_day. Tables: reports; scope(lender_id, day_from);
# daily (the figures so far, with the running state the next update starts from); borrower_day(lender_id, borrower, day, delta);
# loan_borrower(lender_id, loan_id, borrower, first_idx);
# court_failures and complaints (lender_id, day DATE, count).
#
# Incremental by construction: a report dated e changes no figure before e, so for a lender in scope the query reads the
# running state of the day before its horizon g0 = day_from - 30 (the longest look-back) from ``daily``, and only the rows
# from g0 on, plus the whole history of the loans whose overdue spells can matter from g0 on. A full recompute is the
# same query with day_from far in the past and ``daily`` empty.
_QUERY = """
WITH s AS MATERIALIZED (
  SELECT lender_id, day_from, day_from - 30 AS g0 FROM scope
), base AS (
  SELECT d.lender_id, d.outstanding, d.m1_amount, d.m3_amount, d.overdue_loans, d.last_deposit_day
  FROM daily d JOIN s ON d.lender_id = s.lender_id AND d.day = s.g0 - 1
), lr AS MATERIALIZED (
  SELECT r.*, s.g0, CAST((event_ms + $off_ms) // 86400000 AS INTEGER) AS eday, CAST((deposit_ms + $off_ms) // 86400000 AS INTEGER) AS dday
  FROM reports r JOIN s USING (lender_id)
), r AS MATERIALIZED (
  SELECT * FROM lr WHERE eday >= g0 OR dday >= g0
), grid AS MATERIALIZED (
  SELECT lender_id, CAST(unnest(range(greatest(first_day, g0), $end_day + 1)) AS INTEGER) AS day, first_day
  FROM (SELECT s.lender_id, s.g0, least(min(r.eday), min(r.dday), any_value(k.first_day)) AS first_day
        FROM s JOIN r USING (lender_id) LEFT JOIN (SELECT lender_id, min(day) AS first_day FROM daily GROUP BY ALL) k USING (lender_id)
        GROUP BY ALL)
), loans_hit AS MATERIALIZED (
  SELECT DISTINCT lender_id, loan_id FROM lr
  WHERE (record_type = 'overdue' AND eday + $m3 + 1 - days_past_due >= g0)  -- a spell that may cross M1 or M3 from g0 on
     OR (record_type IN ('repayment', 'overdue') AND eday >= g0)                -- or one that ends from g0 on
), loan_events AS (
  SELECT lender_id, loan_id, idx, record_type, eday, days_past_due, g0,
         sum(CASE record_type WHEN 'contract' THEN amount WHEN 'repayment' THEN -principal ELSE 0 END)
           OVER (PARTITION BY lender_id, loan_id ORDER BY eday RANGE UNBOUNDED PRECEDING) AS loan_out,
         lead(eday) OVER (PARTITION BY lender_id, loan_id, record_type IN ('repayment', 'overdue') ORDER BY eday, idx) AS next_day
  FROM lr SEMI JOIN loans_hit USING (lender_id, loan_id) WHERE record_type IN ('contract', 'repayment', 'overdue')
), spells AS MATERIALIZED (
  SELECT lender_id, g0, eday AS start0, greatest(eday, eday + $m1 + 1 - days_past_due) AS start1,
         greatest(eday, eday + $m3 + 1 - days_past_due) AS start3, coalesce(next_day, $end_day + 1) AS stop, greatest(loan_out, 0) AS x
  FROM loan_events WHERE record_type = 'overdue'
), spell_deltas AS (
  SELECT lender_id, day, sum(n) AS d_n, sum(x1) AS d_m1, sum(x3) AS d_m3 FROM (
    SELECT lender_id, g0, start0 AS day, 1 AS n, 0 AS x1, 0 AS x3 FROM spells WHERE start0 < stop
    UNION ALL SELECT lender_id, g0, stop, -1, 0, 0 FROM spells WHERE start0 < stop
    UNION ALL SELECT lender_id, g0, start1, 0, x, 0 FROM spells WHERE start1 < stop
    UNION ALL SELECT lender_id, g0, stop, 0, -x, 0 FROM spells WHERE start1 < stop
    UNION ALL SELECT lender_id, g0, start3, 0, 0, x FROM spells WHERE start3 < stop
    UNION ALL SELECT lender_id, g0, stop, 0, 0, -x FROM spells WHERE start3 < stop
  ) WHERE day >= g0 GROUP BY ALL
), by_event_day AS (
  SELECT lender_id, eday AS day,
         sum(CASE record_type WHEN 'contract' THEN amount WHEN 'repayment' THEN -principal ELSE 0 END) AS d_out,
         sum(CASE WHEN record_type = 'contract' THEN amount ELSE 0 END) AS new_principal,
         count(*) FILTER (WHERE record_type = 'contract') AS contracts,
         count(*) FILTER (WHERE record_type = 'contract' AND rate_bp > $cap_bp) AS above_cap,
         count(*) FILTER (WHERE record_type = 'collection') AS collections
  FROM r WHERE eday >= g0 GROUP BY ALL
), by_deposit_day AS (
  SELECT lender_id, dday AS day, count(*) AS deposits, count(*) FILTER (WHERE deposit_ms - event_ms > $limit_ms) AS late
  FROM r WHERE dday >= g0 GROUP BY ALL
), lifecycle AS MATERIALIZED (
  SELECT lender_id, loan_id, idx, eday FROM r WHERE record_type IN ('disbursement', 'repayment', 'overdue') AND eday >= g0
), broken AS (
  SELECT l.lender_id, l.eday AS day, count(*) AS broken FROM lifecycle l LEFT JOIN loan_borrower f USING (lender_id, loan_id)
  WHERE f.first_idx IS NULL OR f.first_idx > l.idx GROUP BY ALL
), borrower_changes AS (
  SELECT lender_id, borrower, greatest(day, g0) AS day, sum(delta) AS delta  -- everything before the horizon folds into its first day
  FROM borrower_day JOIN s USING (lender_id) GROUP BY ALL
), borrower_spans AS MATERIALIZED (
  SELECT lender_id, borrower, day AS start, coalesce(lead(day) OVER w, $end_day + 1) AS stop, sum(delta) OVER w AS value
  FROM borrower_changes WINDOW w AS (PARTITION BY lender_id, borrower ORDER BY day)
), top10 AS (
  SELECT g.lender_id, g.day, list_sum(max(s.value, 10)) AS top10
  FROM borrower_spans s JOIN grid g ON g.lender_id = s.lender_id AND g.day >= s.start AND g.day < s.stop
  JOIN scope c ON c.lender_id = g.lender_id AND g.day >= c.day_from  -- no look-back needs it: only the days written
  WHERE s.value > 0 GROUP BY ALL
), daily_new AS (
  SELECT g.lender_id, g.day, g.first_day,
    coalesce(z.outstanding, 0) + sum(coalesce(e.d_out, 0)) OVER w AS outstanding,
    coalesce(z.m1_amount, 0) + sum(coalesce(o.d_m1, 0)) OVER w AS m1_amount,
    coalesce(z.m3_amount, 0) + sum(coalesce(o.d_m3, 0)) OVER w AS m3_amount,
    coalesce(z.overdue_loans, 0) + sum(coalesce(o.d_n, 0)) OVER w AS overdue_loans,
    coalesce(e.new_principal, 0) AS new_principal,
    coalesce(e.contracts, 0) AS contracts, coalesce(e.above_cap, 0) AS above_cap,
    sum(coalesce(e.collections, 0)) OVER (w ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS collections_7d,
    coalesce(d.deposits, 0) AS deposits, coalesce(d.late, 0) AS late,
    coalesce(max(CASE WHEN d.deposits > 0 THEN g.day END) OVER w, z.last_deposit_day) AS last_deposit_day,
    coalesce(b.broken, 0) AS broken, coalesce(t.top10, 0) AS top10
  FROM grid g
  LEFT JOIN base z USING (lender_id)
  LEFT JOIN by_event_day e USING (lender_id, day) LEFT JOIN spell_deltas o USING (lender_id, day)
  LEFT JOIN by_deposit_day d USING (lender_id, day) LEFT JOIN broken b USING (lender_id, day) LEFT JOIN top10 t USING (lender_id, day)
  WINDOW w AS (PARTITION BY g.lender_id ORDER BY g.day)
), ratios AS (
  SELECT *,
    CASE WHEN outstanding > 0 THEN m1_amount / outstanding ELSE 0 END AS overdue_m1,
    CASE WHEN outstanding > 0 THEN m3_amount / outstanding ELSE 0 END AS overdue_m3,
    list(new_principal) OVER (PARTITION BY lender_id ORDER BY day ROWS BETWEEN 30 PRECEDING AND 1 PRECEDING) AS trail
  FROM daily_new
), spread AS (
  SELECT *, list_median(trail) AS med FROM ratios
), final AS MATERIALIZED (
  SELECT *, list_median(list_transform(trail, lambda v: abs(v - med))) AS mad, list_avg(list_transform(trail, lambda v: abs(v - med))) AS meanad
  FROM spread
)
SELECT f.lender_id, f.day,
  f.overdue_m1, f.overdue_m3,
  f.overdue_m1 - coalesce(lag(f.overdue_m1, 30) OVER w, 0) AS overdue_m1_change_30d,
  f.overdue_m3 - coalesce(lag(f.overdue_m3, 30) OVER w, 0) AS overdue_m3_change_30d,
  CASE WHEN f.contracts > 0 THEN f.above_cap / f.contracts ELSE 0 END AS above_cap_share,
  CASE WHEN f.deposits > 0 THEN f.late / f.deposits ELSE 0 END AS late_share,
  f.day - coalesce(f.last_deposit_day, f.first_day) AS silence_days,
  CASE WHEN f.mad > 0 THEN (f.new_principal - f.med) / (1.4826 * f.mad)
       WHEN f.meanad > 0 THEN (f.new_principal - f.med) / (1.2533 * f.meanad) ELSE 0 END AS lending_spike_z,
  CASE WHEN f.outstanding > 0 THEN f.top10 / f.outstanding ELSE 0 END AS top10_share,
  CASE WHEN f.overdue_loans > 0 THEN f.collections_7d / f.overdue_loans ELSE 0 END AS collection_intensity,
  f.broken AS broken_lifecycles,
  coalesce(cf.n, 0) AS court_failures, coalesce(cp.n, 0) AS complaints,
  f.outstanding, f.m1_amount, f.m3_amount, f.overdue_loans, f.last_deposit_day
FROM final f
LEFT JOIN (SELECT lender_id, CAST(day - DATE '1970-01-01' AS INTEGER) AS day, sum(count) AS n FROM court_failures GROUP BY ALL) cf USING (lender_id, day)
LEFT JOIN (SELECT lender_id, CAST(day - DATE '1970-01-01' AS INTEGER) AS day, sum(count) AS n FROM complaints GROUP BY ALL) cp USING (lender_id, day)
JOIN scope s ON s.lender_id = f.lender_id
WINDOW w AS (PARTITION BY f.lender_id ORDER BY f.day)
QUALIFY f.day >= s.day_from
"""

# The running state kept beside the figures, so that the next update can start from any day.
STATE_COLUMNS = (("outstanding", "HUGEINT"), ("m1_amount", "HUGEINT"), ("m3_amount", "HUGEINT"), ("overdue_loans", "HUGEINT"),
                 ("last_deposit_day", "INTEGER"))

# The borrower and ledger index of each loan's first contract (broken lifecycles) and each borrower's principal changes per day (top-10 share).
LOAN_BORROWER = """
INSERT INTO loan_borrower SELECT lender_id, loan_id, arg_min(borrower, idx), min(idx) FROM {src}
WHERE record_type = 'contract' AND NOT EXISTS (SELECT 1 FROM loan_borrower b WHERE b.lender_id = {src}.lender_id AND b.loan_id = {src}.loan_id)
GROUP BY ALL
"""
BORROWER_DAY = """
INSERT INTO borrower_day SELECT e.lender_id, b.borrower, CAST((e.event_ms + $off_ms) // 86400000 AS INTEGER),
  CASE e.record_type WHEN 'contract' THEN e.amount ELSE -e.principal END
FROM ({rows}) e JOIN loan_borrower b USING (lender_id, loan_id) WHERE e.record_type IN ('contract', 'repayment')
"""


def indicator_query() -> str:
    """The query text (one place, so the full and the incremental computations cannot drift apart)."""
    return _QUERY
