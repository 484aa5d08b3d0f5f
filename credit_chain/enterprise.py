"""The enterprise credit summary (企业信用): a small firm's repayment behaviour across all lenders, as a score
whose every factor is shown with its points, under the rule file's hash, so a clean record can be proved."""

from __future__ import annotations

from typing import Any

from .config import DAY_MS
from .multihead import LoanFacts
from .rules import Rules

__all__ = ["enterprise_summary"]


def _points(value: int, steps: list[list[int]], penalty: int) -> int:
    for at_most, points in steps:
        if value <= at_most:
            return points
    return penalty


def enterprise_summary(loans: list[LoanFacts], on_time: int, late: int, overdue_24m: list[int], queries_90d: int, disputed: int,
                       now_ms: int, rules: Rules) -> dict[str, Any]:
    """Factors and score. ``overdue_24m``: days past due of the overdue reports of the last 24 months."""
    e = rules.enterprise
    repayments = on_time + late
    share = on_time / repayments if repayments else 1.0
    worst = max(overdue_24m, default=0)
    open_loans = [x for x in loans if x.closed_ms is None]
    factors = [
        {"factor": "on_time_share", "label": "按时还款占比 on-time repayments", "value": round(share, 4),
         "detail": f"{on_time} of {repayments} repayments made while current", "points": round(e["on_time_share_points"] * share)},
        {"factor": "worst_overdue_24m", "label": "24个月最长逾期 worst overdue in 24 months", "value": worst, "detail": f"{worst} days past due",
         "points": _points(worst, e["worst_overdue_24m_points"], e["worst_overdue_24m_penalty"])},
        {"factor": "open_loans", "label": "未结清贷款 open loans", "value": len(open_loans),
         "detail": f"¥{sum(x.outstanding for x in open_loans) / 100:,.2f} outstanding",
         "points": _points(len(open_loans), e["open_loans_points"], e["open_loans_penalty"])},
        {"factor": "queries_90d", "label": "90天查询次数 queries in 90 days", "value": queries_90d, "detail": "by lenders, with consent",
         "points": _points(queries_90d, e["queries_90d_points"], e["queries_90d_penalty"])},
    ]
    raw = e["base"] + sum(f["points"] for f in factors)
    return {"score": max(e["minimum"], min(e["maximum"], raw)), "base": e["base"], "factors": factors,
            "loans": len(loans), "lenders": len({x.lender_id for x in loans}), "open_debt_fen": sum(x.outstanding for x in open_loans),
            "disputed_records": disputed, "since_ms": now_ms - 730 * DAY_MS,
            "rules": {"version": rules.version, "sha256": rules.sha256}}
