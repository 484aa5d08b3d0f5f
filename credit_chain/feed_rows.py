"""The supervision feed's rows as the credit chain reads them: msgspec decodes only the report fields it uses."""

from __future__ import annotations

import msgspec

__all__ = ["CreditReport", "CreditRow", "CreditPage", "decode_page", "decode_consent"]


class CreditReport(msgspec.Struct, frozen=True):
    borrower: str | None = None
    borrower_kind: str | None = None
    principal: int | None = None
    amount: int | None = None
    days_past_due: int | None = None
    amount_overdue: int | None = None
    purpose: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None


class CreditRow(msgspec.Struct, frozen=True):
    index: int
    lender_id: str
    record_type: str
    loan_id: str
    event_time_ms: int
    deposit_time_ms: int
    digest: str
    report: CreditReport
    deposit_code: str | None = None


class CreditPage(msgspec.Struct, frozen=True):
    sealed_size: int
    next: int
    reports: list[CreditRow]


decode_page = msgspec.json.Decoder(CreditPage).decode
decode_consent = msgspec.json.Decoder(CreditRow).decode
