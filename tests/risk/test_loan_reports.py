"""Regulatory reports: valid reports round-trip, every kind of wrong field is refused by name, and the CSV shape."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.canonical_json import canonical_json
from evidence.loan_report_csv import CsvRecord, parse_reports_csv, reports_csv
from evidence.loan_reports import ContractReport, ReportError, parse_report, report_json, report_object

HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
AMOUNT = st.integers(1, 10**12)
DATES = st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)


@st.composite
def reports(draw: Any) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["contract", "disbursement", "repayment", "overdue", "collection", "consent"]))
    if kind == "contract":
        dates = sorted(draw(st.sets(DATES, min_size=1, max_size=6)))
        principal = draw(AMOUNT)
        amounts = [principal // len(dates) + 1] * len(dates)
        return kind, {"principal": principal, "rate_bp": draw(st.integers(0, 10_000)), "term_months": draw(st.integers(1, 60)),
                      "schedule": [{"date": d, "amount": a} for d, a in zip(dates, amounts)],
                      "borrower_kind": draw(st.sampled_from(["person", "enterprise"])), "borrower": draw(HEX)}
    if kind == "disbursement":
        return kind, {"amount": draw(AMOUNT), "date": draw(DATES)}
    if kind == "repayment":
        p, i = draw(st.integers(0, 10**10)), draw(st.integers(0, 10**10))
        return kind, {"amount": p + i or 1, "date": draw(DATES), "principal": p if p + i else 1, "interest": i}
    if kind == "overdue":
        return kind, {"days_past_due": draw(st.integers(1, 3000)), "amount_overdue": draw(AMOUNT)}
    if kind == "collection":
        return kind, {"channel": draw(st.sampled_from(["call", "sms", "letter", "visit", "legal"])), "time_ms": draw(st.integers(0, 2**50))}
    a, b = sorted([draw(DATES), draw(DATES)])
    return kind, {"borrower": draw(HEX), "purpose": draw(st.text(st.characters(min_codepoint=32, max_codepoint=0x7e), min_size=1, max_size=40)),
                  "valid_from": a, "valid_to": b}


@settings(max_examples=300, deadline=None)
@given(reports())
def test_valid_reports_round_trip(case: tuple[str, dict[str, Any]]) -> None:
    kind, obj = case
    report = parse_report(kind, obj)
    assert report_object(report) == obj
    assert report_json(report) == canonical_json(obj)
    assert parse_report(kind, json.loads(report_json(report))) == report


def _mutations(kind: str, obj: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """(mutated object, field path expected, words expected in the rule)."""
    out = []
    field = sorted(obj)[0]
    extra = copy.deepcopy(obj)
    extra["zz_extra"] = 1
    out.append((extra, "report.zz_extra", "unknown field"))
    missing = copy.deepcopy(obj)
    del missing[field]
    out.append((missing, f"report.{field}", "missing field"))
    wrong = copy.deepcopy(obj)
    wrong[field] = [1]
    out.append((wrong, f"report.{field}", "must be"))
    for key in ("principal", "amount", "amount_overdue", "interest", "time_ms"):
        if key in obj:
            neg = copy.deepcopy(obj)
            neg[key] = -1
            out.append((neg, f"report.{key}", "negative"))
    if kind == "repayment":
        bad = copy.deepcopy(obj)
        bad["interest"] += 1
        out.append((bad, "report.amount", "principal + interest"))
    if kind == "contract":
        bad = copy.deepcopy(obj)
        bad["schedule"] = bad["schedule"] + [dict(bad["schedule"][-1])]
        out.append((bad, f"report.schedule[{len(obj['schedule'])}].date", "ascending"))
        bad = copy.deepcopy(obj)
        bad["borrower"] = obj["borrower"].upper() if obj["borrower"].upper() != obj["borrower"] else "g" * 64
        out.append((bad, "report.borrower", "64 lowercase hex"))
    if kind == "consent" and obj["valid_from"] != obj["valid_to"]:
        bad = dict(obj, valid_from=obj["valid_to"], valid_to=obj["valid_from"])
        out.append((bad, "report.valid_to", "before valid_from"))
    return out


@settings(max_examples=200, deadline=None)
@given(reports())
def test_each_mutation_is_refused_naming_the_field(case: tuple[str, dict[str, Any]]) -> None:
    kind, obj = case
    for mutated, path, words in _mutations(kind, obj):
        with pytest.raises(ReportError) as refused:
            parse_report(kind, mutated)
        assert refused.value.path == path, (mutated, str(refused.value))
        assert words in refused.value.rule


@pytest.mark.parametrize(("kind", "obj", "path", "rule"), [
    ("repayment", {"amount": 100, "date": "2026-02-30", "principal": 100, "interest": 0}, "report.date", "YYYY-MM-DD"),
    ("repayment", {"amount": True, "date": "2026-02-01", "principal": 1, "interest": 0}, "report.amount", "integer"),
    ("disbursement", {"amount": 1.5, "date": "2026-02-01"}, "report.amount", "integer"),
    ("collection", {"channel": "email", "time_ms": 1}, "report.channel", "one of"),
    ("overdue", {"days_past_due": 0, "amount_overdue": 1}, "report.days_past_due", "at least 1"),
    ("contract", {"principal": 100, "rate_bp": 1, "term_months": 1, "schedule": [{"date": "2026-01-01", "amount": 99}],
                  "borrower_kind": "person", "borrower": "a" * 64}, "report.schedule", "at least the principal"),
    ("other", {}, "record_type", "no report"),
    ("overdue", [], "report", "object"),
])
def test_specific_rules(kind: str, obj: Any, path: str, rule: str) -> None:
    with pytest.raises(ReportError) as refused:
        parse_report(kind, obj)
    assert (refused.value.path, rule in refused.value.rule) == (path, True)


@settings(max_examples=100, deadline=None)
@given(st.lists(reports(), min_size=1, max_size=8))
def test_csv_round_trip(cases: list[tuple[str, dict[str, Any]]]) -> None:
    records = [CsvRecord(kind, f"loan-{i}", 1_700_000_000_000 + i, parse_report(kind, obj)) for i, (kind, obj) in enumerate(cases)]
    assert parse_reports_csv(reports_csv(records)) == records


def test_csv_documented_shape_and_errors() -> None:
    text = ("record_type,loan_id,event_time_ms,principal,rate_bp,term_months,schedule,borrower_kind,borrower,amount,date,interest\n"
            f"contract,L-1,1767225600000,20000,1500,2,2026-02-01:10500;2026-03-01:10500,person,{'ab' * 32},,,\n"
            "repayment,L-1,1769904000000,10500,2026-02-01,500\n")
    with pytest.raises(ReportError) as refused:
        parse_reports_csv(text)
    assert (refused.value.path, refused.value.rule) == ("line 3", "must have as many cells as the header")
    good = text.replace("repayment,L-1,1769904000000,10500,2026-02-01,500", "repayment,L-1,1769904000000,10000,,,,,,10500,2026-02-01,500")
    first, second = parse_reports_csv(good)
    assert isinstance(first.report, ContractReport) and [i.amount for i in first.report.schedule] == [10500, 10500]
    assert (second.loan_id, second.report.principal, second.report.interest) == ("L-1", 10000, 500)
    for bad, path in [(good.replace("schedule", "schedules"), "header.schedules"),
                      (good.replace("2026-02-01:10500;", "2026-02-01;"), "line 2.report.schedule[0]"),
                      (good.replace(",1500,", ",1.5e3,"), "line 2.report.rate_bp"),
                      (good.replace(",10500,2026-02-01,500", ",,2026-02-01,500"), "line 3.report.amount"),
                      (good.replace("1767225600000", "soon"), "line 2.event_time_ms"),
                      (good.replace("2026-02-01:10500;2026-03-01", "2026-03-01:10500;2026-02-01"), "line 2.report.schedule[1].date")]:
        with pytest.raises(ReportError) as refused:
            parse_reports_csv(bad)
        assert refused.value.path == path
