"""Typed regulatory reports (数据报送): the loan facts a lender reports with each record type.

The risk, credit and service chains need the facts, not only digests, and every figure they derive
must be recomputable: so a report has exactly one valid shape per record type, one canonical byte
form (RFC 8785, to be committed inside a supervision item), and anything else is refused with a
``ReportError`` naming the field path and the rule it broke. Amounts are integer fen (分), dates are
ISO ``YYYY-MM-DD``, times are milliseconds since the epoch; no floats anywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from .canonical_json import MAX_SAFE_INT, canonical_json

__all__ = [
    "BORROWER_KINDS",
    "CHANNELS",
    "REPORT_TYPES",
    "CollectionReport",
    "ConsentReport",
    "ContractReport",
    "DisbursementReport",
    "Installment",
    "OverdueReport",
    "Report",
    "ReportError",
    "RepaymentReport",
    "parse_report",
    "report_json",
    "report_object",
]

BORROWER_KINDS = ("person", "enterprise")
CHANNELS = ("call", "sms", "letter", "visit", "legal")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


class ReportError(ValueError):
    """A report that does not have the one valid shape: ``path`` names the field, ``rule`` the broken rule."""

    def __init__(self, path: str, rule: str) -> None:
        super().__init__(f"{path}: {rule}")
        self.path = path
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Installment:
    """One scheduled repayment: its date and amount (principal and interest together)."""

    date: str
    amount: int


@dataclass(frozen=True, slots=True)
class ContractReport:
    """A signed loan contract: principal, all-in annual rate (basis points), term and schedule, and who borrows."""

    principal: int
    rate_bp: int
    term_months: int
    schedule: tuple[Installment, ...]
    borrower_kind: str
    borrower: str


@dataclass(frozen=True, slots=True)
class DisbursementReport:
    """Money paid out to the borrower."""

    amount: int
    date: str


@dataclass(frozen=True, slots=True)
class RepaymentReport:
    """Money paid back; ``principal + interest == amount``."""

    amount: int
    date: str
    principal: int
    interest: int


@dataclass(frozen=True, slots=True)
class OverdueReport:
    """The loan is overdue by ``days_past_due`` days on ``amount_overdue`` fen (as of the item's event time)."""

    days_past_due: int
    amount_overdue: int


@dataclass(frozen=True, slots=True)
class CollectionReport:
    """One collection action (催收) and when it happened."""

    channel: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class ConsentReport:
    """The borrower's signed authorisation to query credit data, for a purpose, within dates (inclusive)."""

    borrower: str
    purpose: str
    valid_from: str
    valid_to: str


Report = ContractReport | DisbursementReport | RepaymentReport | OverdueReport | CollectionReport | ConsentReport
REPORT_TYPES: dict[str, type] = {
    "contract": ContractReport,
    "disbursement": DisbursementReport,
    "repayment": RepaymentReport,
    "overdue": OverdueReport,
    "collection": CollectionReport,
    "consent": ConsentReport,
}


def _int(obj: dict[str, Any], key: str, path: str, *, low: int = 0) -> int:
    value = obj[key]
    if type(value) is not int:
        raise ReportError(f"{path}.{key}", "must be an integer")
    if value < 0:
        raise ReportError(f"{path}.{key}", "must not be negative")
    if value < low:
        raise ReportError(f"{path}.{key}", f"must be at least {low}")
    if value > MAX_SAFE_INT:
        raise ReportError(f"{path}.{key}", "must be at most 2^53-1")
    return value


def _str(obj: dict[str, Any], key: str, path: str) -> str:
    value = obj[key]
    if type(value) is not str:
        raise ReportError(f"{path}.{key}", "must be a string")
    return value


def _date(obj: dict[str, Any], key: str, path: str) -> str:
    value = _str(obj, key, path)
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        raise ReportError(f"{path}.{key}", "must be a date YYYY-MM-DD") from None
    return value


def _choice(obj: dict[str, Any], key: str, path: str, choices: tuple[str, ...]) -> str:
    value = _str(obj, key, path)
    if value not in choices:
        raise ReportError(f"{path}.{key}", f"must be one of {', '.join(choices)}")
    return value


def _pseudonym(obj: dict[str, Any], key: str, path: str) -> str:
    value = _str(obj, key, path)
    if not _HEX64.fullmatch(value):
        raise ReportError(f"{path}.{key}", "must be 64 lowercase hex characters")
    return value


def _fields(obj: Any, path: str, names: tuple[str, ...]) -> dict[str, Any]:
    """The object itself, once it is an object with exactly these keys (unknown keys first: they are the likelier typo)."""
    if not isinstance(obj, dict):
        raise ReportError(path, "must be an object")
    for key in sorted(obj):
        if key not in names:
            raise ReportError(f"{path}.{key}", "unknown field")
    for key in names:
        if key not in obj:
            raise ReportError(f"{path}.{key}", "missing field")
    return obj


def _schedule(value: Any, path: str) -> tuple[Installment, ...]:
    if not isinstance(value, list):
        raise ReportError(path, "must be a list")
    if not value:
        raise ReportError(path, "must not be empty")
    out: list[Installment] = []
    for i, raw in enumerate(value):
        p = f"{path}[{i}]"
        obj = _fields(raw, p, ("date", "amount"))
        item = Installment(_date(obj, "date", p), _int(obj, "amount", p, low=1))
        if out and item.date <= out[-1].date:
            raise ReportError(f"{p}.date", "schedule dates must be strictly ascending")
        out.append(item)
    return tuple(out)


def _contract(obj: dict[str, Any], p: str) -> ContractReport:
    principal = _int(obj, "principal", p, low=1)
    schedule = _schedule(obj["schedule"], f"{p}.schedule")
    if sum(i.amount for i in schedule) < principal:
        raise ReportError(f"{p}.schedule", "scheduled amounts must add up to at least the principal")
    return ContractReport(principal, _int(obj, "rate_bp", p), _int(obj, "term_months", p, low=1), schedule,
                          _choice(obj, "borrower_kind", p, BORROWER_KINDS), _pseudonym(obj, "borrower", p))


def _repayment(obj: dict[str, Any], p: str) -> RepaymentReport:
    report = RepaymentReport(_int(obj, "amount", p, low=1), _date(obj, "date", p), _int(obj, "principal", p), _int(obj, "interest", p))
    if report.principal + report.interest != report.amount:
        raise ReportError(f"{p}.amount", "must equal principal + interest")
    return report


def _consent(obj: dict[str, Any], p: str) -> ConsentReport:
    purpose = _str(obj, "purpose", p)
    if not _TEXT.fullmatch(purpose):
        raise ReportError(f"{p}.purpose", "must be 1–200 characters without control characters")
    report = ConsentReport(_pseudonym(obj, "borrower", p), purpose, _date(obj, "valid_from", p), _date(obj, "valid_to", p))
    if report.valid_to < report.valid_from:
        raise ReportError(f"{p}.valid_to", "must not be before valid_from")
    return report


_PARSERS = {
    "contract": (("principal", "rate_bp", "term_months", "schedule", "borrower_kind", "borrower"), _contract),
    "disbursement": (("amount", "date"), lambda o, p: DisbursementReport(_int(o, "amount", p, low=1), _date(o, "date", p))),
    "repayment": (("amount", "date", "principal", "interest"), _repayment),
    "overdue": (("days_past_due", "amount_overdue"),
                lambda o, p: OverdueReport(_int(o, "days_past_due", p, low=1), _int(o, "amount_overdue", p, low=1))),
    "collection": (("channel", "time_ms"), lambda o, p: CollectionReport(_choice(o, "channel", p, CHANNELS), _int(o, "time_ms", p))),
    "consent": (("borrower", "purpose", "valid_from", "valid_to"), _consent),
}


def parse_report(record_type: str, obj: Any, path: str = "report") -> Report:
    """The typed report of ``record_type`` in the JSON value ``obj``, or a ReportError naming the field and rule."""
    if record_type not in _PARSERS:
        raise ReportError("record_type", f"no report for record type {record_type!r} (one of {', '.join(_PARSERS)})")
    names, build = _PARSERS[record_type]
    return build(_fields(obj, path, names), path)


def report_object(report: Report) -> dict[str, Any]:
    """The report as a JSON object (the inverse of ``parse_report``)."""
    obj = asdict(report)
    if isinstance(report, ContractReport):
        obj["schedule"] = [{"date": i.date, "amount": i.amount} for i in report.schedule]
    return obj


def report_json(report: Report) -> bytes:
    """The report's one byte form (RFC 8785): what a supervision item commits to."""
    return canonical_json(report_object(report))
