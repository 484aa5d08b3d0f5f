"""Months of loan records and their reports for a few lenders, one of which drifts into red: the demo's and
the end-to-end tests' data, deterministic for a seed.

The steady lenders lend at ordinary rates to many borrowers and are repaid. The drifting one has older
loans gone bad (past 90 days overdue by now), stops being repaid over the last month, lends more and more
above the rate cap to a handful of borrowers (a spike on the last day), chases its overdue borrowers every
day, and reports overdue loans it never reported a contract for. Each record is a JSON object (what the
lender keeps); the item deposited carries its digest, and the typed report travels with it. Days are
Beijing days (UTC+8), the last one is today.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["ScenarioRecord", "history"]

DAY_MS = 86_400_000
OFFSET_MS = 8 * 3_600_000  # Beijing


@dataclass(frozen=True)
class ScenarioRecord:
    lender_id: str
    record_type: str
    loan_id: str
    event_time_ms: int
    report: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """The loan record the lender keeps (its digest is what is deposited)."""
        return {"lender_id": self.lender_id, "loan_id": self.loan_id, "record_type": self.record_type,
                "event_time_ms": self.event_time_ms, **self.report}


def _date(ms: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=(ms + OFFSET_MS) // DAY_MS)).isoformat()


def history(now_ms: int, lenders: tuple[str, ...] = ("L0001", "L0002", "L0003"), drifting: str = "L0003",
            days: int = 120, seed: int = 14) -> list[ScenarioRecord]:
    """Records of ``days`` Beijing days up to ``now_ms`` (events only, in time order; the lender deposits them)."""
    rng = random.Random(seed)
    out: list[ScenarioRecord] = []
    today = (now_ms + OFFSET_MS) // DAY_MS * DAY_MS - OFFSET_MS  # midnight in Beijing, as ms since the epoch
    elapsed_today = max(60_000, now_ms - today - 60_000)

    def at(d: int, k: int, n: int) -> int:
        midnight = today - (days - 1 - d) * DAY_MS
        span = elapsed_today if d == days - 1 else 20 * 3_600_000
        return midnight + (k + 1) * span // (n + 2)

    def contract(lender: str, loan: str, t: int, principal: int, rate: int, borrower: int) -> None:
        schedule = [{"date": _date(t + 15 * DAY_MS * (m + 1)), "amount": principal // 3 + principal // 100} for m in range(3)]
        out.append(ScenarioRecord(lender, "contract", loan, t, {"principal": principal, "rate_bp": rate, "term_months": 3, "schedule": schedule,
                                                               "borrower_kind": "person", "borrower": f"{borrower:064x}"}))
        out.append(ScenarioRecord(lender, "disbursement", loan, t + 600_000, {"amount": principal, "date": _date(t)}))

    for lender in lenders:
        bad = lender == drifting
        overdue_loans: list[tuple[str, int, int]] = []
        for d in range(days):
            late_month = min(1.0, max(0.0, (d - (days - 100)) / 60))  # 0 → 1 from a hundred days before today, then 1
            n = 5
            for k in range(n):
                loan, t = f"{lender}-{d:03d}-{k}", at(d, k, n)
                principal = rng.randrange(20_000_00, 80_000_00, 100)
                above_cap = bad and rng.random() < late_month
                rate = 2_000 + rng.randrange(0, 1_600) if above_cap else 900 + rng.randrange(0, 250)  # the cap: 4 × 300 bp
                borrower = rng.randrange(1, 4) if above_cap else rng.randrange(1000, 900_000)
                if above_cap:
                    principal *= 2
                contract(lender, loan, t, principal, rate, borrower)
                goes_bad = bad and (rng.random() < 0.9 if d < 25 else rng.random() < late_month)
                due = t + 15 * DAY_MS
                if goes_bad:
                    overdue_loans.append((loan, due, principal))
                elif due < now_ms:  # repaid in full when due
                    interest = principal // 50
                    out.append(ScenarioRecord(lender, "repayment", loan, due, {"amount": principal + interest, "date": _date(due),
                                                                              "principal": principal, "interest": interest}))
        if not bad:
            continue
        for loan, due, principal in overdue_loans:  # reported late: three days after it fell due
            if due + 3 * DAY_MS < now_ms:
                out.append(ScenarioRecord(lender, "overdue", loan, due + 1, {"days_past_due": 1, "amount_overdue": principal // 3}))
        chased = [loan for loan, due, _ in overdue_loans if due + 3 * DAY_MS < now_ms]
        for back in range(7):  # every overdue borrower called, messaged and visited every day for the last week
            for j, loan in enumerate(chased * 3):
                t = at(days - 1 - back, j, 3 * len(chased))
                out.append(ScenarioRecord(lender, "collection", loan, t, {"channel": ("call", "sms", "visit")[j % 3], "time_ms": t}))
        for k in range(40):  # the last day's spike: far above the cap, to three borrowers
            contract(lender, f"{lender}-spike-{k}", at(days - 1, k, 40), rng.randrange(40_000_00, 80_000_00, 100),
                     2_400 + rng.randrange(0, 800), 1 + k % 3)
        for k in range(25):  # overdue reports for loans it never reported a contract for
            out.append(ScenarioRecord(lender, "overdue", f"{lender}-unreported-{k}", at(days - 1, k, 25),
                                      {"days_past_due": 5, "amount_overdue": 10_000_00}))
    out.sort(key=lambda r: (r.event_time_ms, r.lender_id, r.loan_id, r.record_type))
    return [r for r in out if r.event_time_ms < now_ms]
