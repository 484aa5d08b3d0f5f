"""Every indicator on small hand-computed data, its explanation, and incremental update == full recompute."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_chain.indicators import EXTERNAL_SCHEMA, RiskIndicators
from risk_chain.report_table import ReportRow, reports_table

D0 = dt.date(2026, 1, 1)
NOON_UTC8 = 4 * 3_600_000  # 12:00 in Beijing is 04:00 UTC


def ms(day: int) -> int:
    return int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1000) + day * 86_400_000 + NOON_UTC8


def row(idx: int, lender: str, kind: str, loan: str, day: int, dep: int | None = None, **fields: object) -> ReportRow:
    return ReportRow(idx, lender, kind, ms(day), ms(day if dep is None else dep), loan, **fields)


A = [
    row(1, "A", "contract", "loan1", 0, amount=10000, rate_bp=1000, borrower="b1"),
    row(2, "A", "contract", "loan2", 0, amount=30000, rate_bp=1500, borrower="b2"),
    row(3, "A", "repayment", "loan1", 1, dep=3, amount=2100, principal=2000),
    row(4, "A", "overdue", "loan2", 5, amount=5000, days_past_due=25),
    row(5, "A", "collection", "loan2", 6, channel="call"),
    row(6, "A", "collection", "loan2", 8, channel="sms"),
    row(7, "A", "disbursement", "loanX", 8, amount=500),
    row(8, "A", "repayment", "loan5", 9, amount=1000, principal=1000),
    row(9, "A", "contract", "loan5", 9, amount=5000, rate_bp=1200, borrower="b5"),
    row(10, "A", "overdue", "loan1", 20, amount=3000, days_past_due=100),
    row(11, "A", "repayment", "loan1", 25, amount=1000, principal=1000),
    row(12, "A", "contract", "loan3", 40, amount=60000, rate_bp=1200, borrower="b3"),
    row(13, "A", "collection", "loan2", 45, channel="letter"),
]
B = [row(100 + i, "B", "contract", f"B-{i}", i, amount=100 if i % 2 == 0 else 300, rate_bp=800, borrower=f"{i:064x}") for i in range(30)]
B.append(row(130, "B", "contract", "B-30", 30, amount=1000, rate_bp=800, borrower=f"{30:064x}"))
C = [row(200, "C", "collection", "c", 0, channel="call"), row(201, "C", "contract", "c1", 29, amount=600, rate_bp=800, borrower="c1"),
     row(202, "C", "contract", "c2", 30, amount=100, rate_bp=800, borrower="c2")]
ROWS = sorted(A + B + C, key=lambda r: r.idx)
COURT = pa.table({"lender_id": ["A", "A"], "day": [D0 + dt.timedelta(10), D0 + dt.timedelta(10)], "count": [2, 1]}, schema=EXTERNAL_SCHEMA)
COMPLAINTS = pa.table({"lender_id": ["B"], "day": [D0 + dt.timedelta(3)], "count": [4]}, schema=EXTERNAL_SCHEMA)


@pytest.fixture(scope="module")
def risk() -> RiskIndicators:
    indicators = RiskIndicators(court_failures=COURT, complaints=COMPLAINTS)
    indicators.recompute(reports_table(ROWS))
    return indicators


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(n)


# (lender, day, indicator, expected value worked out by hand: see the comments)
HAND = [
    # outstanding A: D0 40000; D1-8 38000; D9-24 42000 (loan5: 5000 - 1000); D25-39 41000; D40- 101000
    ("A", 10, "overdue_m1", 0.0),                      # loan2 25 days past due on D5: over 30 from D11
    ("A", 11, "overdue_m1", 30000 / 42000),
    ("A", 22, "overdue_m1", (30000 + 8000) / 42000),   # loan1 100 days past due on D20 at 8000 outstanding, until its repayment D25
    ("A", 25, "overdue_m1", 30000 / 41000),
    ("A", 22, "overdue_m3", 8000 / 42000),
    ("A", 25, "overdue_m3", 0.0),
    ("A", 45, "overdue_m1_change_30d", 30000 / 101000 - 30000 / 42000),
    ("A", 35, "overdue_m1_change_30d", 30000 / 41000),  # 30 days earlier (D5) nothing was over 30 days
    ("A", 22, "overdue_m3_change_30d", 8000 / 42000),
    ("A", 0, "above_cap_share", 0.5),                  # 1500 bp > 1200 bp (4 x 3.00% LPR), 1000 bp not
    ("A", 9, "above_cap_share", 0.0),                  # exactly at the cap is not above it
    ("A", 3, "late_share", 1.0),                       # deposited D3 for an event on D1
    ("A", 9, "late_share", 0.0),
    ("A", 19, "silence_days", 10.0),                   # last deposit D9
    ("A", 2, "silence_days", 2.0),
    ("A", 45, "silence_days", 0.0),
    ("B", 30, "lending_spike_z", (1000 - 200) / (1.4826 * 100)),  # trailing: 15 x 100, 15 x 300: median 200, MAD 100
    ("C", 30, "lending_spike_z", (100 - 0) / (1.2533 * 20)),     # trailing: 29 x 0 and 600: MAD 0, mean abs. deviation 20
    ("C", 29, "lending_spike_z", 0.0),                             # no spread at all in the trailing days
    ("B", 0, "lending_spike_z", 0.0),                              # no trailing days
    ("B", 29, "top10_share", 3000 / 6000),
    ("B", 30, "top10_share", (1000 + 9 * 300) / 7000),
    ("A", 40, "top10_share", 1.0),
    ("A", 8, "collection_intensity", 2.0),             # D6 and D8 collections, one overdue loan
    ("A", 13, "collection_intensity", 1.0),            # only D8 left in D7..D13
    ("A", 22, "collection_intensity", 0.0),
    ("A", 45, "collection_intensity", 1.0),            # the D45 letter; loan2 still overdue
    ("A", 8, "broken_lifecycles", 1.0),                # disbursement for a loan with no contract
    ("A", 9, "broken_lifecycles", 1.0),                # repayment before its contract in the ledger
    ("A", 1, "broken_lifecycles", 0.0),
    ("A", 10, "court_failures", 3.0),
    ("B", 3, "complaints", 4.0),
    ("A", 3, "complaints", 0.0),
]


@pytest.mark.parametrize(("lender", "n", "indicator", "expected"), HAND, ids=[f"{a}-{b}-{c}" for a, b, c, _ in HAND])
def test_hand_computed(risk: RiskIndicators, lender: str, n: int, indicator: str, expected: float) -> None:
    assert risk.value(lender, day(n), indicator) == pytest.approx(expected, rel=1e-12, abs=1e-12)


EXPLAINED = [
    ("A", 22, "overdue_m1", [1, 2, 3, 4, 8, 9, 10]),
    ("A", 25, "overdue_m3", [1, 2, 3, 8, 9, 11]),
    ("A", 8, "collection_intensity", [4, 5, 6]),
    ("A", 9, "broken_lifecycles", [8]),
    ("A", 3, "late_share", [3]),
    ("A", 19, "silence_days", [8, 9]),
    ("A", 0, "above_cap_share", [1, 2]),
    ("C", 30, "lending_spike_z", [201, 202]),
    ("A", 10, "court_failures", []),
]


@pytest.mark.parametrize(("lender", "n", "indicator", "indexes"), EXPLAINED, ids=[f"{a}-{b}-{c}" for a, b, c, _ in EXPLAINED])
def test_explain_names_the_entries(risk: RiskIndicators, lender: str, n: int, indicator: str, indexes: list[int]) -> None:
    explanation = risk.explain(lender, day(n), indicator)
    assert explanation.indexes == indexes
    assert explanation.value == risk.value(lender, day(n), indicator)


def test_explained_entries_alone_give_the_same_figure(risk: RiskIndicators) -> None:
    """The entries named are enough: recomputing from them alone (same last day) gives the same value."""
    for lender, n, indicator, _ in EXPLAINED[:5]:
        named = set(risk.explain(lender, day(n), indicator).indexes)
        alone = RiskIndicators()
        alone.recompute(reports_table([r for r in ROWS if r.idx in named or r.idx == 13]))  # idx 13 keeps the same last day
        assert alone.value(lender, day(n), indicator) == pytest.approx(risk.value(lender, day(n), indicator))


def test_rate_cap_follows_the_lpr_setting() -> None:
    from risk_chain.indicators import RiskSettings

    cheap = RiskIndicators(RiskSettings(lpr_bp=250))  # cap 1000 bp: 1000 is at it, 1500 above
    cheap.recompute(reports_table(A))
    assert cheap.value("A", day(9), "above_cap_share") == 1.0  # 1200 > 1000
    assert cheap.value("A", day(0), "above_cap_share") == 0.5


def test_unknown_indicator_and_day() -> None:
    risk = RiskIndicators()
    risk.recompute(reports_table(A))
    with pytest.raises(KeyError):
        risk.value("A", day(1), "nonsense")
    with pytest.raises(KeyError):
        risk.value("Z", day(1), "late_share")


@pytest.mark.parametrize("block", [1, 4, 7])
def test_incremental_equals_full_recompute(risk: RiskIndicators, block: int) -> None:
    incremental = RiskIndicators(court_failures=COURT, complaints=COMPLAINTS)
    for start in range(0, len(ROWS), block):
        incremental.add_block(reports_table(ROWS[start:start + block]))
    assert incremental.results().to_pylist() == risk.results().to_pylist()


def test_incremental_with_late_reports_equals_full_recompute() -> None:
    from risk_chain.synthetic import synthetic_reports

    table = synthetic_reports(lenders=5, days=60, reports=6000, seed=7)
    full = RiskIndicators()
    full.recompute(table)
    step = RiskIndicators()
    step.recompute(table.slice(0, 4000))
    for start in range(4000, 6000, 500):
        step.add_block(table.slice(start, 500))
    got, want = step.results().to_pylist(), full.results().to_pylist()
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == pytest.approx(w) if isinstance(g, float) else g == w


def test_rows_from_typed_reports() -> None:
    """A parsed report becomes the row the indicators read (amount and parts in the right columns)."""
    from evidence.loan_reports import parse_report
    from risk_chain.report_table import report_row

    contract = parse_report("contract", {"principal": 10000, "rate_bp": 1000, "term_months": 1, "schedule": [{"date": "2026-02-01", "amount": 10100}],
                                         "borrower_kind": "person", "borrower": "b" * 64})
    repayment = parse_report("repayment", {"amount": 2100, "date": "2026-01-02", "principal": 2000, "interest": 100})
    overdue = parse_report("overdue", {"days_past_due": 25, "amount_overdue": 5000})
    assert report_row(1, "A", "loan1", ms(0), ms(0), "contract", contract) == row(1, "A", "contract", "loan1", 0, amount=10000, rate_bp=1000, borrower="b" * 64)
    assert report_row(3, "A", "loan1", ms(1), ms(3), "repayment", repayment) == row(3, "A", "repayment", "loan1", 1, dep=3, amount=2100, principal=2000)
    assert report_row(4, "A", "loan2", ms(5), ms(5), "overdue", overdue) == row(4, "A", "overdue", "loan2", 5, amount=5000, days_past_due=25)
    shuffled = reports_table(A).select(list(reversed(reports_table(A).column_names)))  # columns are matched by name
    risk = RiskIndicators()
    risk.add_block(shuffled)
    assert risk.value("A", day(11), "overdue_m1") == pytest.approx(30000 / 42000)


def _synthetic(lenders: int = 4, days: int = 90, reports: int = 6000, seed: int = 11) -> pa.Table:
    from risk_chain.synthetic import synthetic_reports

    return synthetic_reports(lenders=lenders, days=days, reports=reports, seed=seed)


def _late(table: pa.Table, rows: list[int], days_back: int, first_idx: int) -> pa.Table:
    """Copies of ``rows`` of ``table`` as new ledger entries (from ``first_idx``) for events ``days_back`` days earlier,
    deposited at the table's last deposit: late reports for old days."""
    picked = table.take(rows)
    last = max(table.column("deposit_ms").to_pylist())
    return picked.set_column(0, "idx", pa.array(range(first_idx, first_idx + len(rows)), pa.int64())).set_column(
        picked.schema.get_field_index("event_ms"), "event_ms",
        pa.array([e - days_back * 86_400_000 for e in picked.column("event_ms").to_pylist()], pa.int64())).set_column(
        picked.schema.get_field_index("deposit_ms"), "deposit_ms", pa.array([last] * len(rows), pa.int64()))


S0 = dt.date(2025, 1, 1)  # the synthetic reports' first day


def _counts(lenders: list[str], days: list[int], counts: list[int]) -> pa.Table:
    return pa.table({"lender_id": lenders, "day": [S0 + dt.timedelta(d) for d in days], "count": counts}, schema=EXTERNAL_SCHEMA)


def test_incremental_equals_full_recompute_exactly_through_every_kind_of_block() -> None:
    """Blocks in ledger order after a recompute: recent ones (moving the last day forward, bringing contracts for repayments
    reported earlier, their late deposits), one of late reports for days 20 and 70 days back (the second beyond the joined
    look-back, so computed by windows), caller counts in between: every figure equals a full recompute's, bit for bit."""
    table = _synthetic()
    n = table.num_rows
    old_days = _late(table, list(range(0, 60, 3)), 20, n)
    very_old = _late(table, list(range(1, 90, 7)), 70, n + old_days.num_rows)
    blocks = [table.slice(4000, 700), table.slice(4700, 650), old_days, table.slice(5350, 650), very_old]
    lenders = sorted(set(table.column("lender_id").to_pylist()))
    complaints = _counts([lenders[0], lenders[1], "nobody"], [40, 95, 10], [2, 1, 5])
    court = _counts([lenders[2], lenders[2]], [-30, 60], [1, 3])  # before the lender's first day, and a day already computed
    step = RiskIndicators()
    step.recompute(table.slice(0, 4000))
    step.add_block(blocks[0])
    step.add_complaints(complaints)
    for block in blocks[1:3]:
        step.add_block(block)
    step.add_court_failures(court)
    for block in blocks[3:]:
        step.add_block(block)
    full = RiskIndicators(complaints=complaints, court_failures=court)
    full.recompute(pa.concat_tables([table, old_days, very_old]))
    assert step.latest_day() == full.latest_day() and step.lenders() == full.lenders() == lenders
    got, want = step.results(), full.results()
    assert got.num_rows == want.num_rows > 0
    assert got.equals(want)
    assert step.value(lenders[0], S0 + dt.timedelta(40), "complaints") == 2.0
    assert step.value(lenders[2], S0 + dt.timedelta(60), "court_failures") == 3.0


def test_counts_added_later_equal_counts_given_at_the_start() -> None:
    table = _synthetic(lenders=3, days=50, reports=2500, seed=4)
    lenders = sorted(set(table.column("lender_id").to_pylist()))
    complaints = _counts([lenders[0], lenders[1], lenders[0]], [45, 20, 70], [3, 1, 4])  # day 70: past the last day, for later
    court = _counts([lenders[2]], [30], [2])
    later = RiskIndicators()
    later.add_complaints(complaints.slice(0, 1))  # before any report
    later.recompute(table.slice(0, 2000))
    later.add_complaints(complaints.slice(1))
    later.add_court_failures(court)
    later.add_block(table.slice(2000))
    start = RiskIndicators(complaints=complaints, court_failures=court)
    start.recompute(table)
    assert later.results().equals(start.results())
    assert later.value(lenders[0], S0 + dt.timedelta(45), "complaints") == 3.0
    assert later.latest_day() < S0 + dt.timedelta(70)


def test_lenders_latest_day_and_row(risk: RiskIndicators) -> None:
    from risk_chain.indicators import INDICATORS

    assert risk.lenders() == ["A", "B", "C"]
    assert risk.latest_day() == day(45)
    values = risk.row("A", day(22))
    assert list(values) == list(INDICATORS)
    assert values["overdue_m1"] == pytest.approx((30000 + 8000) / 42000)
    assert all(values[name] == risk.value("A", day(22), name) for name in INDICATORS)
    with pytest.raises(KeyError):
        risk.row("A", day(46))
    with pytest.raises(KeyError):
        risk.row("Z", day(3))
    empty = RiskIndicators()
    assert empty.lenders() == [] and empty.latest_day() is None


def test_a_block_out_of_ledger_order_is_recomputed() -> None:
    table = _synthetic(lenders=2, days=40, reports=1500, seed=8)
    step = RiskIndicators()
    step.add_block(table.slice(0, 1000))
    step.add_block(table.slice(1200))
    step.add_block(table.slice(1000, 200))  # indexes before those held
    full = RiskIndicators()
    full.recompute(table)
    assert step.results().equals(full.results())


def test_a_key_shared_by_two_loans_changes_the_salt_and_recomputes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loans and borrowers are found by a salted hash; when a block finds two sharing one, everything is recomputed with
    another salt, and the figures do not depend on the salt."""
    import risk_chain.indicators as module

    table = _synthetic(lenders=2, days=40, reports=1500, seed=9)
    step = RiskIndicators()
    step.recompute(table.slice(0, 1000))
    monkeypatch.setattr(module, "COLLISIONS", "SELECT 1")  # as if the block had found one
    step.add_block(table.slice(1000, 250))
    monkeypatch.undo()
    assert step.salt == 1
    step.add_block(table.slice(1250))
    full = RiskIndicators()
    full.recompute(table)
    assert full.salt == 0 and step.results().equals(full.results())


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_incremental_equals_full_recompute_on_random_ledgers(data: st.DataObject) -> None:
    """Random small ledgers (contracts after their repayments, overdue reports crossing M1/M3, late deposits, loans without a
    contract, old days) cut into random blocks: the same figures as a full recompute."""
    kinds = ["contract", "contract", "repayment", "repayment", "overdue", "disbursement", "collection"]
    n = data.draw(st.integers(5, 30))
    rows = []
    for idx in range(n):
        kind = data.draw(st.sampled_from(kinds))
        event = data.draw(st.integers(0, 100))
        deposit = event + data.draw(st.sampled_from([0, 0, 0, 1, 3]))
        loan = f"L{data.draw(st.integers(0, 6))}"
        lender = data.draw(st.sampled_from(["A", "B"]))
        fields = {"contract": {"amount": data.draw(st.integers(1, 5000)), "rate_bp": data.draw(st.sampled_from([800, 1500])),
                               "borrower": data.draw(st.sampled_from(["b1", "b2", "b3"]))},
                  "repayment": {"amount": 100, "principal": data.draw(st.integers(0, 2000))},
                  "overdue": {"amount": 50, "days_past_due": data.draw(st.integers(1, 120))},
                  "disbursement": {"amount": 10}, "collection": {"channel": "call"}}[kind]
        rows.append(row(idx, lender, kind, loan, event, deposit, **fields))
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=3)))
    full = RiskIndicators()
    full.recompute(reports_table(rows))
    step = RiskIndicators()
    for a, b in zip([0, *cuts], [*cuts, n]):
        step.add_block(reports_table(rows[a:b]))
    assert step.results().equals(full.results())
