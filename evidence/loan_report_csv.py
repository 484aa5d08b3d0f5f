"""The CSV shape of regulatory reports: one row per record, for lenders whose systems export spreadsheets.

Columns (header required, any order, UTF-8): ``record_type``, ``loan_id``, ``event_time_ms`` and the
report fields of every type (``REPORT_COLUMNS``); a row fills the fields of its own record type and
leaves the others empty. Integers are plain decimal digits; a contract's schedule is one cell of
``date:amount`` pairs separated by ``;`` (``2026-02-01:10500;2026-03-01:10500``). Each row is
turned into the JSON report and checked by ``parse_report``, so both inputs obey the same rules and
an error names ``line N`` and the field.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from .loan_reports import REPORT_TYPES, ContractReport, Report, ReportError, parse_report, report_object

__all__ = ["BASE_COLUMNS", "REPORT_COLUMNS", "CsvRecord", "parse_reports_csv", "reports_csv"]

BASE_COLUMNS = ("record_type", "loan_id", "event_time_ms")
REPORT_COLUMNS = ("principal", "rate_bp", "term_months", "schedule", "borrower_kind", "borrower", "amount", "date", "interest",
                  "days_past_due", "amount_overdue", "channel", "time_ms", "purpose", "valid_from", "valid_to")
_INT_COLUMNS = {"principal", "rate_bp", "term_months", "amount", "interest", "days_past_due", "amount_overdue", "time_ms"}
_DIGITS = re.compile(r"-?\d{1,16}")


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One row: what the deposit item needs besides the digest, and the typed report (``line``: where the row ends in the file)."""

    record_type: str
    loan_id: str
    event_time_ms: int
    report: Report
    line: int = field(default=0, compare=False)


def _int_cell(text: str, path: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise ReportError(path, "must be an integer")
    return int(text)


def _schedule_cell(text: str, path: str) -> list[dict[str, Any]]:
    out = []
    for i, pair in enumerate(text.split(";")):
        date, sep, amount = pair.partition(":")
        if not sep:
            raise ReportError(f"{path}[{i}]", "must be date:amount")
        out.append({"date": date, "amount": _int_cell(amount, f"{path}[{i}].amount")})
    return out


def _row(row: dict[str, str], line: int) -> CsvRecord:
    where = f"line {line}"
    record_type, loan_id = row["record_type"], row["loan_id"]
    if record_type not in REPORT_TYPES:
        raise ReportError(f"{where}.record_type", f"must be one of {', '.join(REPORT_TYPES)}")
    if not loan_id:
        raise ReportError(f"{where}.loan_id", "missing field")
    event_time_ms = _int_cell(row["event_time_ms"], f"{where}.event_time_ms")
    obj: dict[str, Any] = {}
    for column in REPORT_COLUMNS:
        text = row.get(column, "")
        if text == "":
            continue
        path = f"{where}.report.{column}"
        obj[column] = _schedule_cell(text, path) if column == "schedule" else _int_cell(text, path) if column in _INT_COLUMNS else text
    return CsvRecord(record_type, loan_id, event_time_ms, parse_report(record_type, obj, f"{where}.report"), line)


def parse_reports_csv(text: str) -> list[CsvRecord]:
    """Every row of a reports CSV, or a ReportError naming the line and field of the first wrong one."""
    reader = csv.DictReader(io.StringIO(text), strict=True)
    header = reader.fieldnames or []
    for column in header:
        if column not in BASE_COLUMNS and column not in REPORT_COLUMNS:
            raise ReportError(f"header.{column}", "unknown column")
    for column in BASE_COLUMNS:
        if column not in header:
            raise ReportError(f"header.{column}", "missing column")
    records = []
    for row in reader:
        if None in row or None in row.values():
            raise ReportError(f"line {reader.line_num}", "must have as many cells as the header")
        records.append(_row(row, reader.line_num))
    return records


def reports_csv(records: list[CsvRecord]) -> str:
    """The CSV of these records, in the documented shape (the inverse of ``parse_reports_csv``)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*BASE_COLUMNS, *REPORT_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for record in records:
        obj = report_object(record.report)
        if isinstance(record.report, ContractReport):
            obj["schedule"] = ";".join(f"{i['date']}:{i['amount']}" for i in obj["schedule"])
        writer.writerow({"record_type": record.record_type, "loan_id": record.loan_id, "event_time_ms": record.event_time_ms, **obj})
    return out.getvalue()
