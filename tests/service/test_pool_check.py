"""The verdict on one loan of a pool (service_chain.pool_check.check_loan), from crafted deposits: a good loan is
eligible with its outstanding principal recomputed; each kind of bad loan yields exactly its exception code."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from service_chain.pool_check import EXCEPTION_CODES, ClaimState, Deposit, LoanVerdict, Submitted, check_loan
from service_chain.rules import load_rules

RULES = load_rules()
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
BEIJING = dt.timezone(dt.timedelta(hours=8))
T0 = int(dt.datetime(2026, 3, 1, 10, 0, tzinfo=BEIJING).timestamp() * 1000)  # the contract is signed
PRINCIPAL = 1_000_000
REPAID = (200_000, 150_000)
OUTSTANDING = PRINCIPAL - sum(REPAID)


def dep(index: int, record_type: str, event_ms: int, *, late: int = 5 * MIN, amount: int | None = None, rate_bp: int | None = None,
        dpd: int | None = None, anchored: bool = True) -> Deposit:
    """A deposit with a digest and code of its own, deposited ``late`` ms after its event."""
    digest = hashlib.sha256(f"{index}/{record_type}/{event_ms}/{amount}".encode()).hexdigest()
    return Deposit(index, record_type, event_ms, event_ms + late, digest, ("DC" + digest[:14]) if anchored else None, amount, rate_bp, dpd)


def contract(index: int = 10, event_ms: int = T0, **kw) -> Deposit:
    kw.setdefault("amount", PRINCIPAL)
    kw.setdefault("rate_bp", 1800)
    return dep(index, "contract", event_ms, **kw)


def disbursement(index: int = 11, event_ms: int = T0 + 2 * HOUR, **kw) -> Deposit:
    kw.setdefault("amount", PRINCIPAL)
    return dep(index, "disbursement", event_ms, **kw)


def repayment(index: int, event_ms: int, amount: int, **kw) -> Deposit:
    return dep(index, "repayment", event_ms, amount=amount, **kw)


def overdue(index: int, event_ms: int, dpd: int, **kw) -> Deposit:
    return dep(index, "overdue", event_ms, dpd=dpd, **kw)


def good_loan() -> list[Deposit]:
    return [contract(), disbursement(), repayment(12, T0 + 30 * DAY, REPAID[0]), repayment(13, T0 + 60 * DAY, REPAID[1])]


def submitted(deposits: list[Deposit]) -> list[Submitted]:
    """What an honest lender hands over: each record's digest and the code its deposit got."""
    return [Submitted(d.digest, d.deposit_code or "DC-none") for d in deposits]


def check(deposits: list[Deposit], records: list[Submitted] | None = None, claim: int = OUTSTANDING, state: ClaimState = ClaimState(),
          purpose: str = "financing") -> LoanVerdict:
    return check_loan("LOAN-1", claim, submitted(deposits) if records is None else records, deposits, state, purpose, RULES)


def codes(verdict: LoanVerdict) -> list[str]:
    return [e["code"] for e in verdict.exceptions]


def detail(verdict: LoanVerdict, code: str) -> str:
    [found] = [e["detail"] for e in verdict.exceptions if e["code"] == code]
    return found


# --- the good loan ------------------------------------------------------------------------------------------------


def test_a_good_loan_is_eligible() -> None:
    deposits = good_loan()
    verdict = check(deposits)
    assert verdict.exceptions == []
    assert verdict.eligible is True
    assert verdict.outstanding_fen == OUTSTANDING == 650_000
    assert verdict.claimed_fen == OUTSTANDING and verdict.loan_id == "LOAN-1"
    assert verdict.records == deposits  # every deposit matched, in the order submitted


def test_records_follow_the_submitted_order() -> None:
    deposits = good_loan()
    verdict = check(deposits, submitted(deposits[::-1]))
    assert verdict.eligible and verdict.records == deposits[::-1]


def test_a_loan_disbursed_in_two_parts_is_eligible() -> None:
    deposits = [contract(), disbursement(amount=600_000), disbursement(14, T0 + 3 * HOUR, amount=400_000),
                repayment(12, T0 + 30 * DAY, 100_000)]
    verdict = check(deposits, claim=900_000)
    assert verdict.exceptions == [] and verdict.outstanding_fen == 900_000


def test_the_limits_are_inclusive() -> None:
    # deposited exactly 24 h after the event, at exactly the rate cap, exactly 30 days past due: all allowed
    deposits = [contract(late=24 * HOUR, rate_bp=2400), disbursement(late=24 * HOUR), *good_loan()[2:], overdue(20, T0 + 90 * DAY, 30)]
    verdict = check(deposits)
    assert verdict.exceptions == [] and verdict.outstanding_fen == OUTSTANDING


def test_a_late_repayment_report_is_not_back_filled() -> None:
    # the reporting limit is for the contract and the disbursement (financing must not be back-filled); reports after may lag
    deposits = [contract(), disbursement(), repayment(12, T0 + 30 * DAY, REPAID[0], late=10 * DAY), repayment(13, T0 + 60 * DAY, REPAID[1])]
    assert check(deposits).exceptions == []


# --- each bad loan, exactly its exception ---------------------------------------------------------------------------
# (name, deposits, submitted or None for "all, honestly", claim, claim state, purpose, the exception codes, the outstanding)

def _tampered() -> tuple[list[Deposit], list[Submitted]]:
    deposits = good_loan()
    records = submitted(deposits)
    records[2] = Submitted(hashlib.sha256(b"the repayment record, altered").hexdigest(), records[2].deposit_code)
    return deposits, records


def _extra() -> tuple[list[Deposit], list[Submitted]]:
    deposits = good_loan()
    return deposits, [*submitted(deposits), Submitted(hashlib.sha256(b"never deposited").hexdigest(), "DC-made-up")]


def _wrong_code() -> tuple[list[Deposit], list[Submitted]]:
    deposits = good_loan()
    records = submitted(deposits)
    records[1] = Submitted(records[1].digest, submitted(good_loan())[3].deposit_code)  # another deposit's code
    return deposits, records


def _not_anchored() -> tuple[list[Deposit], list[Submitted]]:
    deposits = good_loan()
    deposits[3] = replace(deposits[3], deposit_code=None)
    records = submitted(deposits)
    records[3] = Submitted(records[3].digest, "DC-quoted-anyway")
    return deposits, records


def _missing() -> tuple[list[Deposit], list[Submitted]]:
    deposits = good_loan()
    return deposits, submitted(deposits[:3])


def _duplicate() -> tuple[list[Deposit], list[Submitted]]:
    deposits = good_loan()
    records = submitted(deposits)
    return deposits, [*records, records[2]]


def _honest(deposits: list[Deposit]) -> Callable[[], tuple[list[Deposit], list[Submitted]]]:
    return lambda: (deposits, submitted(deposits))


G = good_loan()
CASES: dict[str, tuple[Callable[[], tuple[list[Deposit], list[Submitted]]], int, ClaimState, str, list[str], int | None]] = {
    "tampered-record": (_tampered, OUTSTANDING, ClaimState(), "financing", ["unknown-record", "missing-records"], OUTSTANDING),
    "record-never-deposited": (_extra, OUTSTANDING, ClaimState(), "financing", ["unknown-record"], OUTSTANDING),
    "wrong-code": (_wrong_code, OUTSTANDING, ClaimState(), "financing", ["wrong-code"], OUTSTANDING),
    "not-anchored": (_not_anchored, OUTSTANDING, ClaimState(), "financing", ["not-anchored"], OUTSTANDING),
    "missing-records": (_missing, OUTSTANDING, ClaimState(), "financing", ["missing-records"], OUTSTANDING),
    "duplicate-record": (_duplicate, OUTSTANDING, ClaimState(), "financing", ["duplicate-record"], OUTSTANDING),
    "no-contract": (_honest(G[1:]), OUTSTANDING, ClaimState(), "financing", ["no-contract"], None),
    "no-disbursement": (_honest([G[0]]), PRINCIPAL, ClaimState(), "financing", ["no-disbursement"], None),
    "contract-back-filled": (_honest([contract(late=25 * HOUR), *G[1:]]), OUTSTANDING, ClaimState(), "financing", ["back-filled"], OUTSTANDING),
    "contract-back-filled-by-1-ms": (_honest([contract(late=24 * HOUR + 1), *G[1:]]), OUTSTANDING, ClaimState(), "financing", ["back-filled"],
                                     OUTSTANDING),
    "disbursement-back-filled": (_honest([G[0], disbursement(late=25 * HOUR), *G[2:]]), OUTSTANDING, ClaimState(), "financing", ["back-filled"],
                                 OUTSTANDING),
    "both-back-filled": (_honest([contract(late=3 * DAY), disbursement(late=25 * HOUR), *G[2:]]), OUTSTANDING, ClaimState(), "financing",
                         ["back-filled", "back-filled"], OUTSTANDING),
    "disbursed-not-the-principal": (_honest([G[0], disbursement(amount=900_000), *G[2:]]), 550_000, ClaimState(), "financing", ["lifecycle"],
                                    550_000),
    "disbursed-before-the-contract": (_honest([G[0], disbursement(event_ms=T0 - HOUR), *G[2:]]), OUTSTANDING, ClaimState(), "financing",
                                      ["lifecycle"], OUTSTANDING),
    "repaid-before-disbursed": (_honest([*G[:2], repayment(12, T0 + HOUR, REPAID[0]), G[3]]), OUTSTANDING, ClaimState(), "financing",
                                ["lifecycle"], OUTSTANDING),
    "over-repaid": (_honest([*G[:2], repayment(12, T0 + 30 * DAY, 600_000), repayment(13, T0 + 60 * DAY, 500_000)]), 0, ClaimState(), "financing",
                    ["lifecycle", "paid-off"], 0),
    "two-contracts": (_honest([*G, contract(14, T0 + HOUR)]), OUTSTANDING, ClaimState(), "financing", ["lifecycle"], OUTSTANDING),
    "claim-mismatch": (_honest(G), OUTSTANDING + 50_000, ClaimState(), "financing", ["claim-mismatch"], OUTSTANDING),
    "overdue": (_honest([*G, overdue(20, T0 + 90 * DAY, 45)]), OUTSTANDING, ClaimState(), "financing", ["overdue"], OUTSTANDING),
    "overdue-by-a-day": (_honest([*G, overdue(20, T0 + 90 * DAY, 31)]), OUTSTANDING, ClaimState(), "financing", ["overdue"], OUTSTANDING),
    "overdue-again-after-a-repayment": (_honest([*G, overdue(20, T0 + 40 * DAY, 5), overdue(21, T0 + 90 * DAY, 45)]), OUTSTANDING, ClaimState(),
                                        "financing", ["overdue"], OUTSTANDING),
    "rate-cap": (_honest([contract(rate_bp=3000), *G[1:]]), OUTSTANDING, ClaimState(), "financing", ["rate-cap"], OUTSTANDING),
    "rate-cap-for-transfer": (_honest([contract(rate_bp=2401), *G[1:]]), OUTSTANDING, ClaimState(), "transfer", ["rate-cap"], OUTSTANDING),
    "paid-off": (_honest([*G[:2], repayment(12, T0 + 30 * DAY, 600_000), repayment(13, T0 + 60 * DAY, 400_000)]), 0, ClaimState(), "financing",
                 ["paid-off"], 0),
    "pledged": (_honest(G), OUTSTANDING, ClaimState(pledged_ms=T0 + 5 * DAY), "financing", ["pledged"], OUTSTANDING),
    "transferred": (_honest(G), OUTSTANDING, ClaimState(transferred_ms=T0 + 5 * DAY), "transfer", ["transferred"], OUTSTANDING),
    "pledged-and-transferred": (_honest(G), OUTSTANDING, ClaimState(T0 + 5 * DAY, T0 + 9 * DAY), "financing", ["pledged", "transferred"],
                                OUTSTANDING),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_bad_loan_has_exactly_its_exceptions(name: str) -> None:
    build, claim, state, purpose, expected, outstanding = CASES[name]
    deposits, records = build()
    verdict = check(deposits, records, claim, state, purpose)
    assert codes(verdict) == expected
    assert verdict.eligible is False
    assert verdict.outstanding_fen == outstanding  # the good parts are still computed
    assert all(e["detail"] and e["code"] in EXCEPTION_CODES for e in verdict.exceptions)


def test_the_cases_cover_every_exception_code() -> None:
    assert {code for case in CASES.values() for code in case[4]} == set(EXCEPTION_CODES)


def test_the_details_say_what_is_wrong() -> None:
    deposits, records = _tampered()
    assert "record 3 " in detail(check(deposits, records), "unknown-record")
    assert "(repayment)" in detail(check(deposits, records), "missing-records")
    deposits, records = _wrong_code()
    assert detail(check(deposits, records), "wrong-code").startswith("record 2 (disbursement)")
    deposits, records = _not_anchored()
    assert detail(check(deposits, records), "not-anchored").startswith("record 4 (repayment)")
    deposits, records = _duplicate()
    assert detail(check(deposits, records), "duplicate-record") == "record 5 is submitted twice"
    deposits = good_loan()
    missing = detail(check(deposits, submitted([deposits[0], deposits[2]])), "missing-records")
    assert missing.startswith("2 deposit(s)") and "(disbursement, repayment)" in missing
    back = detail(check([contract(late=25 * HOUR), *G[1:]]), "back-filled")
    assert back.startswith("the contract was deposited 25.0 h after the event") and "limit 24.0 h" in back
    assert detail(check([G[0], disbursement(late=30 * HOUR), *G[2:]]), "back-filled").startswith("the disbursement was deposited 30.0 h")
    assert "900000 fen" in detail(check([G[0], disbursement(amount=900_000), *G[2:]], claim=550_000), "lifecycle")
    assert "2 contracts" in detail(check([*G, contract(14, T0 + HOUR)]), "lifecycle")
    assert "before the contract" in detail(check([G[0], disbursement(event_ms=T0 - HOUR), *G[2:]]), "lifecycle")
    assert "before the disbursement" in detail(check([*G[:2], repayment(12, T0 + HOUR, 1), G[3]], claim=PRINCIPAL - 1 - REPAID[1]), "lifecycle")
    mismatch = detail(check(G, claim=700_000), "claim-mismatch")
    assert "700000" in mismatch and str(OUTSTANDING) in mismatch
    assert detail(check([*G, overdue(20, T0 + 90 * DAY, 45)]), "overdue") == "45 days past due (at most 30 for financing)"
    rate = detail(check([contract(rate_bp=3000), *G[1:]]), "rate-cap")
    assert "3000 bp" in rate and "2400 bp" in rate and "financing" in rate


def test_a_lifecycle_can_fail_in_several_ways_at_once() -> None:
    deposits = [contract(), disbursement(amount=900_000, event_ms=T0 - HOUR), repayment(12, T0 - 2 * HOUR, 950_000), contract(14, T0 + HOUR)]
    verdict = check(deposits, claim=0)
    assert codes(verdict) == ["lifecycle"] * 5 + ["paid-off"]  # two contracts, disbursed ≠ principal, before contract, repaid before, over-repaid
    assert verdict.outstanding_fen == 0


# --- overdue and purpose ----------------------------------------------------------------------------------------------


def test_a_repayment_after_the_overdue_report_makes_the_loan_current() -> None:
    deposits = [*G, overdue(20, T0 + 90 * DAY, 45), repayment(21, T0 + 95 * DAY, 50_000)]
    verdict = check(deposits, claim=OUTSTANDING - 50_000)
    assert verdict.exceptions == [] and verdict.outstanding_fen == OUTSTANDING - 50_000


def test_a_repayment_before_the_overdue_report_does_not() -> None:
    deposits = [*G, overdue(20, T0 + 90 * DAY, 45)]  # both repayments (day 30, day 60) come before the report
    assert codes(check(deposits)) == ["overdue"]


def test_the_latest_overdue_report_counts() -> None:
    assert check([*G, overdue(20, T0 + 70 * DAY, 60), overdue(21, T0 + 100 * DAY, 10)]).exceptions == []
    # in the deposits list, the later report may come first
    assert codes(check([*G, overdue(21, T0 + 100 * DAY, 60), overdue(20, T0 + 70 * DAY, 10)])) == ["overdue"]


def test_a_transfer_allows_an_overdue_loan() -> None:
    deposits = [*G, overdue(20, T0 + 90 * DAY, 45)]
    assert check(deposits, purpose="transfer").exceptions == []
    assert codes(check(deposits, purpose="financing")) == ["overdue"]


# --- encumbrance: a Beijing date, never a party -----------------------------------------------------------------------


def test_pledged_and_transferred_name_the_beijing_date_only() -> None:
    late_evening_utc = int(dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC).timestamp() * 1000)  # 00:30 on 2 March in Beijing
    verdict = check(G, state=ClaimState(pledged_ms=late_evening_utc, transferred_ms=late_evening_utc - HOUR))
    assert verdict.exceptions == [{"code": "pledged", "detail": "already pledged: registered 2026-03-02"},
                                  {"code": "transferred", "detail": "already transferred: registered 2026-03-01"}]
    for e in verdict.exceptions:
        assert re.fullmatch(r"already (pledged|transferred): registered \d{4}-\d{2}-\d{2}", e["detail"])


# --- properties -------------------------------------------------------------------------------------------------------


@st.composite
def lifecycles(draw: st.DrawFn) -> tuple[int, list[int], list[Deposit]]:
    """A valid lifecycle: contract, disbursement of the principal, 0–10 repayments summing to at most the principal, all on time."""
    principal = draw(st.integers(1, 10**11), label="principal")
    n = draw(st.integers(0, 10), label="repayments")
    cuts = sorted(draw(st.lists(st.integers(0, principal), min_size=n, max_size=n)))
    repaid = [b - a for a, b in zip([0, *cuts], cuts)]
    start = T0 + draw(st.integers(0, 365 * DAY))
    lag = st.integers(0, RULES.reporting_limit_ms)
    deposits = [dep(100, "contract", start, late=draw(lag), amount=principal, rate_bp=draw(st.integers(0, 2400))),
                dep(101, "disbursement", start + draw(st.integers(0, 10 * DAY)), late=draw(lag), amount=principal)]
    t = deposits[1].event_ms
    for i, amount in enumerate(repaid):
        t += draw(st.integers(0, 60 * DAY))
        deposits.append(dep(102 + i, "repayment", t, late=draw(st.integers(0, 30 * DAY)), amount=amount))
    return principal, repaid, deposits


def _same(a: LoanVerdict, b: LoanVerdict) -> None:
    assert (a.loan_id, a.claimed_fen, a.outstanding_fen, a.exceptions) == (b.loan_id, b.claimed_fen, b.outstanding_fen, b.exceptions)


@given(data=st.data(), life=lifecycles(), claim_equals=st.booleans())
@settings(max_examples=300, deadline=None)
def test_outstanding_and_eligibility_of_valid_lifecycles(data: st.DataObject, life: tuple[int, list[int], list[Deposit]],
                                                         claim_equals: bool) -> None:
    principal, repaid, deposits = life
    expected = principal - sum(repaid)
    claim = expected if claim_equals else data.draw(st.integers(0, 10**12).filter(lambda c: c != expected), label="claim")
    shuffled = data.draw(st.permutations(deposits), label="deposits order")
    records = submitted(data.draw(st.permutations(deposits), label="submitted order"))
    verdict = check_loan("L", claim, records, shuffled, ClaimState(), "financing", RULES)
    assert verdict.outstanding_fen == expected
    assert verdict.eligible == (claim == expected and expected >= 1)
    assert set(codes(verdict)) <= {"claim-mismatch", "paid-off"}
    assert ("claim-mismatch" in codes(verdict)) == (claim != expected)
    assert ("paid-off" in codes(verdict)) == (expected == 0)
    assert [d.digest for d in verdict.records] == [r.digest for r in records]
    # the verdict depends neither on the order of the deposits nor on that of the submitted records
    _same(verdict, check_loan("L", claim, submitted(deposits), deposits, ClaimState(), "financing", RULES))
    other = check_loan("L", claim, records, list(reversed(shuffled)), ClaimState(), "financing", RULES)
    _same(verdict, other)
    assert other.records == verdict.records


RECORD_TYPES = ("contract", "disbursement", "repayment", "overdue")


@st.composite
def any_deposits(draw: st.DrawFn) -> list[Deposit]:
    """Deposits that need not add up: any types, times, amounts and codes (each with its own index and digest)."""
    n = draw(st.integers(0, 8))
    out = []
    for i in range(n):
        event = T0 + draw(st.integers(0, 5)) * DAY  # few distinct times, so ties happen
        out.append(dep(i, draw(st.sampled_from(RECORD_TYPES)), event, late=draw(st.sampled_from([0, 25 * HOUR])),
                       amount=draw(st.none() | st.integers(0, 3)) if draw(st.booleans()) else draw(st.integers(0, 3)) * 100,
                       rate_bp=draw(st.sampled_from([None, 1000, 3000])), dpd=draw(st.sampled_from([None, 10, 45])),
                       anchored=draw(st.booleans())))
    return out


@given(data=st.data(), deposits=any_deposits(), claim=st.integers(0, 1000), purpose=st.sampled_from(["financing", "transfer"]),
       state=st.builds(ClaimState, st.none() | st.integers(0, 2**41), st.none() | st.integers(0, 2**41)))
@settings(max_examples=300, deadline=None)
def test_any_verdict_is_independent_of_the_deposits_order(data: st.DataObject, deposits: list[Deposit], claim: int, purpose: str,
                                                          state: ClaimState) -> None:
    records = submitted(data.draw(st.lists(st.sampled_from(deposits), max_size=10) if deposits else st.just([]), label="submitted"))
    shuffled = data.draw(st.permutations(deposits), label="deposits order")
    a = check_loan("L", claim, records, deposits, state, purpose, RULES)
    b = check_loan("L", claim, records, shuffled, state, purpose, RULES)
    _same(a, b)
    assert a.records == b.records
    assert all(e["code"] in EXCEPTION_CODES for e in a.exceptions)
    assert a.eligible == (not a.exceptions)


def test_a_record_deposited_twice_gives_one_verdict_whatever_the_order() -> None:
    first = G[2]
    again = replace(first, index=40, deposit_ms=first.deposit_ms + MIN, deposit_code="DC-second-deposit")
    deposits = [*G, again]
    records = submitted(G)  # the lender quotes the code its first deposit got
    a = check(deposits, records)
    b = check(deposits[::-1], records)
    assert (codes(a), [d.index for d in a.records]) == (codes(b), [d.index for d in b.records])
