"""One loan of a pool, checked against the deposits its lender made: pure, so every verdict can be recomputed.

The lender hands over each record with its deposit code and the outstanding principal it claims. The
loan is eligible when every record is one of the lender's anchored deposits of this loan (same digest,
same code) and none is missing; the contract and disbursement were deposited within the reporting
limit of the event (not back-filled before financing); the lifecycle adds up (contract → disbursement
of the principal → repayments, the outstanding principal recomputed from the reports equals the claim);
the rule file's limits for the purpose hold (days past due, rate); and the loan is neither pledged nor
transferred already. Each failure is an exception with a stable ``code`` and a sentence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import msgspec

from .rules import Rules

__all__ = ["Deposit", "Submitted", "ClaimState", "LoanVerdict", "check_loan", "EXCEPTION_CODES"]

EXCEPTION_CODES = ("unknown-record", "wrong-code", "not-anchored", "missing-records", "duplicate-record", "no-contract",
                   "no-disbursement", "back-filled", "lifecycle", "claim-mismatch", "overdue", "rate-cap", "paid-off",
                   "pledged", "transferred")
_CHINA = dt.timezone(dt.timedelta(hours=8))


class Deposit(msgspec.Struct, frozen=True, gc=False):
    """One deposit of the loan as the supervision feed gave it (a struct: hundreds of thousands are made per pool)."""

    index: int
    record_type: str
    event_ms: int
    deposit_ms: int
    digest: str
    deposit_code: str | None
    amount: int | None
    rate_bp: int | None
    dpd: int | None


@dataclass(frozen=True, slots=True)
class Submitted:
    """A record as the lender submitted it: the digest recomputed from its bytes, and the code it quoted."""

    digest: str
    deposit_code: str


@dataclass(frozen=True, slots=True)
class ClaimState:
    """What the registry says of the loan: pledged since, transferred since (Beijing dates only, never to whom)."""

    pledged_ms: int | None = None
    transferred_ms: int | None = None


@dataclass
class LoanVerdict:
    loan_id: str
    claimed_fen: int
    outstanding_fen: int | None
    exceptions: list[dict[str, str]] = field(default_factory=list)
    records: list[Deposit] = field(default_factory=list)  # the matched deposits, in the order submitted

    @property
    def eligible(self) -> bool:
        return not self.exceptions

    def add(self, code: str, detail: str) -> None:
        self.exceptions.append({"code": code, "detail": detail})


def china_day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, _CHINA).strftime("%Y-%m-%d")


def _hours(ms: int) -> str:
    return f"{ms / 3_600_000:.1f} h"


def _event_order(d: Deposit) -> tuple[int, int]:
    return d.event_ms, d.index


def check_loan(loan_id: str, claimed_fen: int, submitted: list[Submitted], deposits: list[Deposit], claim: ClaimState,
               purpose: str, rules: Rules) -> LoanVerdict:
    """The verdict on one loan of a pool (``deposits``: every deposit of this loan by this lender, any order)."""
    verdict = LoanVerdict(loan_id, claimed_fen, None)
    # one record deposited twice (a retry without an idempotency key) is one record: its first deposit stands for it,
    # and either deposit's code names it. One pass sorts the deposits by digest and by type.
    by_digest: dict[str, list[Deposit]] = {}
    by_type: dict[str, list[Deposit]] = {}
    for d in sorted(deposits, key=_index_of):
        same = by_digest.get(d.digest)
        if same is None:
            by_digest[d.digest] = [d]
            by_type.setdefault(d.record_type, []).append(d)
        else:
            same.append(d)
    seen: set[str] = set()
    for n, record in enumerate(submitted, start=1):
        copies = by_digest.get(record.digest)
        if copies is None:
            verdict.add("unknown-record", f"record {n} matches no deposit of this loan by this lender (altered, or never deposited)")
            continue
        if record.digest in seen:
            verdict.add("duplicate-record", f"record {n} is submitted twice")
            continue
        seen.add(record.digest)
        found = copies[0]
        if len(copies) > 1:
            found = next((d for d in copies if d.deposit_code == record.deposit_code), found)
        if found.deposit_code is None:
            verdict.add("not-anchored", f"record {n} ({found.record_type}) is deposited but not anchored yet: it has no deposit code")
        elif found.deposit_code != record.deposit_code:
            verdict.add("wrong-code", f"record {n} ({found.record_type}): the deposit code quoted is not this deposit's")
        verdict.records.append(found)
    if len(seen) < len(by_digest):
        missing = [same[0] for digest, same in by_digest.items() if digest not in seen]
        kinds = ", ".join(sorted({d.record_type for d in missing}))
        verdict.add("missing-records", f"{len(missing)} deposit(s) of this loan are not in the pool ({kinds}): a pool carries every record")
    contract = _lifecycle(verdict, by_type, rules)
    outstanding = verdict.outstanding_fen
    eligibility = rules.purposes[purpose]
    if outstanding is not None:
        if outstanding != claimed_fen:
            verdict.add("claim-mismatch", f"claimed outstanding {claimed_fen} fen; the deposited reports give {outstanding} fen")
        if outstanding < eligibility.min_outstanding_fen:
            verdict.add("paid-off", "the loan is paid off: nothing is outstanding")
    if contract is not None and contract.rate_bp is not None and contract.rate_bp > eligibility.max_rate_bp:
        verdict.add("rate-cap", f"the contract's rate {contract.rate_bp} bp is above the cap of {eligibility.max_rate_bp} bp for {purpose}")
    dpd = _days_past_due(by_type)
    if dpd > eligibility.max_days_past_due:
        verdict.add("overdue", f"{dpd} days past due (at most {eligibility.max_days_past_due} for {purpose})")
    if claim.pledged_ms is not None:
        verdict.add("pledged", f"already pledged: registered {china_day(claim.pledged_ms)}")
    if claim.transferred_ms is not None:
        verdict.add("transferred", f"already transferred: registered {china_day(claim.transferred_ms)}")
    return verdict


def _index_of(d: Deposit) -> int:
    return d.index


def _lifecycle(verdict: LoanVerdict, by_type: dict[str, list[Deposit]], rules: Rules) -> Deposit | None:
    """Contract → disbursement of the principal → repayments, each on time; sets the recomputed outstanding and
    returns the contract (the earliest, if several)."""
    contracts = by_type.get("contract")
    disbursements = by_type.get("disbursement", [])
    if not contracts:
        verdict.add("no-contract", "no contract is deposited for this loan")
        return None
    if len(contracts) > 1:
        verdict.add("lifecycle", f"{len(contracts)} contracts are deposited for one loan")
    contract = contracts[0] if len(contracts) == 1 else min(contracts, key=_event_order)
    limit = rules.reporting_limit_ms
    for d in [contract, *disbursements]:
        late = d.deposit_ms - d.event_ms
        if late > limit:
            verdict.add("back-filled", f"the {d.record_type} was deposited {_hours(late)} after the event "
                                       f"(limit {_hours(limit)}): back-filled, not real-time")
    if not disbursements:
        verdict.add("no-disbursement", "no disbursement is deposited: nothing was paid out")
        return contract
    principal = contract.amount or 0
    disbursed = 0
    first_paid_out = disbursements[0].event_ms
    for d in disbursements:
        disbursed += d.amount or 0
        first_paid_out = min(first_paid_out, d.event_ms)
    if disbursed != principal:
        verdict.add("lifecycle", f"disbursed {disbursed} fen against a contract principal of {principal} fen")
    if first_paid_out < contract.event_ms:
        verdict.add("lifecycle", "a disbursement is dated before the contract")
    repaid, early = 0, False
    for r in by_type.get("repayment", ()):
        repaid += r.amount or 0
        early = early or r.event_ms < first_paid_out
    if early:
        verdict.add("lifecycle", "a repayment is dated before the disbursement")
    if repaid > disbursed:
        verdict.add("lifecycle", f"repaid principal {repaid} fen is more than the {disbursed} fen paid out")
    verdict.outstanding_fen = max(disbursed - repaid, 0)
    return contract


def _days_past_due(by_type: dict[str, list[Deposit]]) -> int:
    """The latest overdue report's days past due, unless a repayment came after it (then the loan is current)."""
    overdue = by_type.get("overdue")
    if not overdue:
        return 0
    latest = max(overdue, key=_event_order)
    if any(d.event_ms > latest.event_ms for d in by_type.get("repayment", ())):
        return 0
    return latest.dpd or 0
