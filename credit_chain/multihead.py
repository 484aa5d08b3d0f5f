"""The multi-head borrowing check (多头借贷): what a lender learns about an applicant across all other lenders.

Counts and sums only: other lenders are never named, the asking lender's own loans and queries are
left out, and the flag follows the rule file (at least N other lenders that lent or queried within
the window). Pure: the service reads the rows, this decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import DAY_MS
from .rules import Rules

__all__ = ["LoanFacts", "multihead_answer", "multihead_lenders"]


@dataclass(frozen=True)
class LoanFacts:
    lender_id: str
    outstanding: int
    dpd: int
    opened_ms: int
    closed_ms: int | None


def multihead_lenders(loans: list[LoanFacts], queries: list[tuple[str, int]], lender_id: str | None, now_ms: int, rules: Rules) -> set[str]:
    """The other lenders that hold an open loan, opened one, or queried within the window."""
    since = now_ms - rules.window_days * DAY_MS
    found = {x.lender_id for x in loans if x.closed_ms is None or x.opened_ms >= since}
    found |= {lender for lender, t in queries if t >= since}
    found.discard(lender_id)  # type: ignore[arg-type]
    return found


def multihead_answer(loans: list[LoanFacts], queries: list[tuple[str, int]], disputed: int, lender_id: str, now_ms: int,
                     rules: Rules) -> dict[str, Any]:
    """The answer to one lender's check of one borrower."""
    others = [x for x in loans if x.lender_id != lender_id]
    open_others = [x for x in others if x.closed_ms is None]
    outstanding = sum(x.outstanding for x in open_others)
    worst = max((x.dpd for x in open_others), default=0)
    windows = {f"{d}d": sum(1 for lender, t in queries if lender != lender_id and t >= now_ms - d * DAY_MS) for d in rules.query_windows_days}
    lenders = multihead_lenders(loans, queries, lender_id, now_ms, rules)
    return {
        "other_lenders_with_open_loans": len({x.lender_id for x in open_others}),
        "open_loans_elsewhere": len(open_others),
        "outstanding_principal_fen": outstanding,
        "outstanding_band": rules.band(outstanding),
        "worst_current_overdue": {"days_past_due": worst, "status": rules.status(worst)},
        "queries_by_other_lenders": windows,
        "multi_head": {"flag": len(lenders) >= rules.other_lenders_at_least, "other_lenders_in_window": len(lenders),
                       "rule": f"at least {rules.other_lenders_at_least} other lenders lent to or queried this borrower within "
                               f"{rules.window_days} days"},
        "disputed_records": disputed,
        "rules": {"version": rules.version, "sha256": rules.sha256},
    }
