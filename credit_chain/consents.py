"""Whether a consent allows a query: 征信业管理条例 art. 18 asks the subject's consent for every query.

The consent is a deposit on the supervision chain (record type ``consent``) by the querying lender,
for this pseudonym and purpose, valid today (Beijing time), and anchored: the lender quotes its deposit
code, which exists only once the judicial chain holds the deposit, so a court can verify it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .config import CHINA_OFFSET_MS

__all__ = ["ConsentFacts", "consent_refusal", "china_date"]


@dataclass(frozen=True)
class ConsentFacts:
    index: int  # the consent's supervision index
    lender_id: str
    borrower: str
    purpose: str
    valid_from: str
    valid_to: str
    deposit_code: str


def china_date(time_ms: int) -> str:
    return dt.datetime.fromtimestamp((time_ms + CHINA_OFFSET_MS) / 1000, dt.UTC).date().isoformat()


def consent_refusal(consent: ConsentFacts | None, lender_id: str, borrower: str, purpose: str, now_ms: int) -> str | None:
    """Why the query may not go ahead (the 403's detail), or None. Nothing about another lender is said."""
    if consent is None:
        return "no anchored consent has this deposit code: deposit the borrower's consent and quote the code the judicial chain gave it"
    if consent.lender_id != lender_id:
        return "this consent was not deposited by you: a consent allows queries by the lender that deposited it only"
    if consent.borrower != borrower:
        return "this consent is for another borrower"
    if consent.purpose != purpose:
        return f"this consent is for the purpose {consent.purpose!r}, not {purpose!r}"
    today = china_date(now_ms)
    if today < consent.valid_from:
        return f"this consent is valid from {consent.valid_from} (today is {today})"
    if today > consent.valid_to:
        return f"this consent expired on {consent.valid_to} (today is {today})"
    return None
