"""Which reports are behind one figure: a query per indicator returning ledger indexes for ($lender, $day).

Each query follows the definition in ``indicator_sql`` for one lender and day, so the rows it
names are exactly the rows the figure was computed from (numerator and denominator alike).
"""

from __future__ import annotations

__all__ = ["explain_query"]

_PREFIX = """
WITH r AS (
  SELECT *, CAST((event_ms + $off_ms) // 86400000 AS INTEGER) AS eday, CAST((deposit_ms + $off_ms) // 86400000 AS INTEGER) AS dday
  FROM reports WHERE lender_id = $lender
), spells AS (
  SELECT idx, eday AS start0, greatest(eday, eday + $m1 + 1 - days_past_due) AS start1,
         greatest(eday, eday + $m3 + 1 - days_past_due) AS start3, coalesce(next_day, $end_day + 1) AS stop
  FROM (SELECT idx, record_type, eday, days_past_due,
               lead(eday) OVER (PARTITION BY loan_id ORDER BY eday, idx) AS next_day
        FROM r WHERE record_type IN ('repayment', 'overdue')) WHERE record_type = 'overdue'
), book AS (SELECT idx, eday FROM r WHERE record_type IN ('contract', 'repayment'))
"""


def _overdue(start: str, day: str) -> str:
    return f"SELECT idx FROM spells WHERE {start} <= {day} AND {day} < stop UNION SELECT idx FROM book WHERE eday <= {day}"


_QUERIES = {
    "overdue_m1": _overdue("start1", "$day"),
    "overdue_m3": _overdue("start3", "$day"),
    "overdue_m1_change_30d": _overdue("start1", "$day") + " UNION " + _overdue("start1", "($day - 30)"),
    "overdue_m3_change_30d": _overdue("start3", "$day") + " UNION " + _overdue("start3", "($day - 30)"),
    "above_cap_share": "SELECT idx FROM r WHERE record_type = 'contract' AND eday = $day",
    "late_share": "SELECT idx FROM r WHERE dday = $day",
    "silence_days": "SELECT idx FROM r WHERE dday = (SELECT max(dday) FROM r WHERE dday <= $day)",
    "lending_spike_z": "SELECT idx FROM r WHERE record_type = 'contract' AND eday BETWEEN $day - 30 AND $day",
    "top10_share": "SELECT idx FROM book WHERE eday <= $day",
    "collection_intensity": ("SELECT idx FROM r WHERE record_type = 'collection' AND eday BETWEEN $day - 6 AND $day"
                             " UNION SELECT idx FROM spells WHERE start0 <= $day AND $day < stop"),
    "broken_lifecycles": ("SELECT idx FROM r WHERE record_type IN ('disbursement', 'repayment', 'overdue') AND eday = $day AND NOT EXISTS "
                          "(SELECT 1 FROM r c WHERE c.record_type = 'contract' AND c.loan_id = r.loan_id AND c.idx < r.idx)"),
}


def explain_query(indicator: str) -> str | None:
    """The query naming the reports behind ``indicator`` (None for the caller-supplied court and complaint counts)."""
    body = _QUERIES.get(indicator)
    return None if body is None else _PREFIX + body
