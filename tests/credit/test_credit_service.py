"""The credit chain's decisions on a real SQLite ledger, in process: the loan book from report rows, consent
refusals, the multi-head answer, the dispute deadline, the evaluation limit and what public entries hide."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from credit_chain.config import DAY_MS, CreditConfig
from credit_chain.consents import ConsentFacts, china_date, consent_refusal
from credit_chain.documents import OpeningError, check_opening, entry_of, new_document
from credit_chain.feed_rows import CreditReport, CreditRow
from credit_chain.service import CreditChain, EvaluationLimit
from evidence import oprf
from evidence.canonical_json import canonical_json
from evidence.deposit_codes import new_code
from evidence.supervision_entry import parse_supervision_entry
from service_kit.problems import Forbidden, InvalidInput, NotFound

NOW = int(time.time() * 1000)
P1, P2, ENT = secrets.token_hex(32), secrets.token_hex(32), secrets.token_hex(32)


def row(index: int, lender: str, record_type: str, loan: str, event_ms: int = NOW - 5 * DAY_MS, **report: object) -> CreditRow:
    return CreditRow(index, lender, record_type, loan, event_ms, event_ms + 1000, secrets.token_hex(32), CreditReport(**report))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory):
    c = CreditChain(CreditConfig(tmp_path_factory.mktemp("credit") / "data", seal_interval_ms=20, evaluations_per_day=5))
    c.start()
    rows = [row(0, "L1", "contract", "A", borrower=P1, borrower_kind="person", principal=500_000),
            row(1, "L2", "contract", "B", borrower=P1, borrower_kind="person", principal=2_000_000),
            row(2, "L3", "contract", "C", borrower=P1, borrower_kind="person", principal=3_000_000, event_ms=NOW - 200 * DAY_MS),
            row(3, "L3", "repayment", "C", principal=3_000_000, amount=3_100_000),  # paid off: closed, and long ago
            row(4, "L2", "overdue", "B", days_past_due=45, amount_overdue=100_000),
            row(5, "L2", "contract", "B", borrower=P2, borrower_kind="person", principal=9),  # a second contract for B: ignored
            row(6, "L9", "repayment", "UNKNOWN", principal=1, amount=1),  # no such loan: skipped
            row(7, "L1", "contract", "E1", borrower=ENT, borrower_kind="enterprise", principal=10_000_000),
            row(8, "L1", "repayment", "E1", principal=1_000_000, amount=1_050_000),
            row(9, "L4", "consent", "APP", borrower=P1, purpose="loan-application", valid_from=china_date(NOW - DAY_MS),
                valid_to=china_date(NOW + 30 * DAY_MS))]
    result = c.book.apply(rows, 10)
    assert (result.loans_opened, result.loans_closed, result.skipped) == (4, 1, 2)
    code = new_code()
    with c.store.engine.begin() as conn:  # the code the judicial chain gave the consent (the feed lookup would store it)
        conn.exec_driver_sql("UPDATE cr_consent SET deposit_code = ? WHERE idx = 9", (code,))
    c.test_code = code  # type: ignore[attr-defined]
    yield c
    c.stop()


def test_the_loan_book_follows_the_reports(chain: CreditChain) -> None:
    with chain.store.read_engine.connect() as conn:
        loans = {r.loan_id: r for r in conn.exec_driver_sql("SELECT * FROM cr_loan")}
        kinds = [r[0] for r in conn.exec_driver_sql("SELECT kind FROM cr_entry WHERE subject = ? ORDER BY subject_seq", (P1,))]
    assert loans["B"].borrower == P1 and loans["B"].principal == 2_000_000 and loans["B"].dpd == 45  # the first contract stands
    assert loans["C"].closed_ms is not None and loans["C"].outstanding == 0 and loans["C"].on_time == 1
    assert loans["E1"].outstanding == 9_000_000 and loans["E1"].closed_ms is None
    assert kinds == ["loanopened", "loanopened", "loanopened", "loanclosed", "overdue"]


def test_the_multihead_answer_counts_other_lenders_only(chain: CreditChain) -> None:
    answer = chain.check("L4", P1, chain.test_code, "loan-application")  # type: ignore[attr-defined]
    assert answer["other_lenders_with_open_loans"] == 2  # L1 and L2; L3's loan is closed and 200 days old
    assert answer["outstanding_principal_fen"] == 2_500_000 and answer["outstanding_band"] == "¥10,000–¥50,000"
    assert answer["worst_current_overdue"] == {"days_past_due": 45, "status": "M2"}
    assert answer["multi_head"]["flag"] is False and answer["multi_head"]["other_lenders_in_window"] == 2
    assert not any(lender in json.dumps(answer) for lender in ("L1", "L2", "L3"))  # no other lender is ever named
    again = chain.check("L4", P1, chain.test_code, "loan-application")  # type: ignore[attr-defined]
    assert again["queries_by_other_lenders"] == {"30d": 0, "90d": 0}  # its own queries are not counted against it
    assert again["query"]["index"] > answer["query"]["index"]


def test_a_refused_check_writes_nothing(chain: CreditChain) -> None:
    before = chain.ledger.store.size()  # type: ignore[attr-defined]
    for lender, code, purpose, borrower in (("L1", chain.test_code, "loan-application", P1),  # type: ignore[attr-defined]
                                            ("L4", chain.test_code, "marketing", P1),  # type: ignore[attr-defined]
                                            ("L4", chain.test_code, "loan-application", P2),  # type: ignore[attr-defined]
                                            ("L4", new_code(), "loan-application", P1)):
        with pytest.raises(Forbidden):
            chain.check(lender, borrower, code, purpose)
    with pytest.raises(InvalidInput):
        chain.check("L4", P1, "NOT-A-CODE", "loan-application")
    with pytest.raises(InvalidInput):
        chain.check("L4", "Z" * 64, chain.test_code, "loan-application")  # type: ignore[attr-defined]
    assert chain.ledger.store.size() == before  # type: ignore[attr-defined]


def _consent(**changes: object) -> ConsentFacts:
    base = dict(index=1, lender_id="L4", borrower=P1, purpose="loan-application", valid_from=china_date(NOW - DAY_MS),
                valid_to=china_date(NOW + DAY_MS), deposit_code="X")
    return ConsentFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_consent_refusals_say_why_without_naming_others() -> None:
    assert consent_refusal(_consent(), "L4", P1, "loan-application", NOW) is None
    assert "no anchored consent" in consent_refusal(None, "L4", P1, "loan-application", NOW)  # type: ignore[operator]
    other = consent_refusal(_consent(lender_id="L1"), "L4", P1, "loan-application", NOW)
    assert other and "not deposited by you" in other and "L1" not in other
    assert "another borrower" in consent_refusal(_consent(borrower=P2), "L4", P1, "loan-application", NOW)  # type: ignore[operator]
    assert "purpose" in consent_refusal(_consent(), "L4", P1, "marketing", NOW)  # type: ignore[operator]
    assert "expired" in consent_refusal(_consent(valid_to=china_date(NOW - DAY_MS)), "L4", P1, "loan-application", NOW)  # type: ignore[operator]
    assert "valid from" in consent_refusal(_consent(valid_from=china_date(NOW + DAY_MS)), "L4", P1, "loan-application", NOW)  # type: ignore[operator]
    # the last day counts (Beijing time): valid through valid_to inclusive
    assert consent_refusal(_consent(valid_to=china_date(NOW)), "L4", P1, "loan-application", NOW) is None


def test_the_dispute_deadline_is_an_entry_and_the_record_stays_disputed(chain: CreditChain) -> None:
    opened = chain.open_dispute(P1, "loan", "L2", "B", "我从未在该机构借款 I never borrowed there", now_ms=NOW)
    assert opened["due_ms"] == NOW + 20 * DAY_MS
    with pytest.raises(NotFound):
        chain.open_dispute(P1, "loan", "L2", "NOT-MINE", "x")
    assert chain.check_deadlines(NOW + 19 * DAY_MS) == 0
    assert chain.check("L4", P1, chain.test_code, "loan-application")["disputed_records"] == 1  # type: ignore[attr-defined]
    assert chain.check_deadlines(NOW + 21 * DAY_MS) == 1 and chain.check_deadlines(NOW + 22 * DAY_MS) == 0  # flagged once
    [late] = [d for d in chain.disputes(lender_id="L2") if d["id"] == opened["id"]]
    assert late["state"] == "late"
    with pytest.raises(NotFound):
        chain.answer_dispute("L1", opened["id"], "upheld", "not yours to answer")  # another lender: as if it did not exist
    answered = chain.answer_dispute("L2", opened["id"], "corrected", "误报，已更正 reported in error, corrected", now_ms=NOW + 23 * DAY_MS)
    assert answered["late"] is True
    assert chain.check("L4", P1, chain.test_code, "loan-application")["disputed_records"] == 0  # type: ignore[attr-defined]
    with chain.store.read_engine.connect() as conn:
        kinds = [r[0] for r in conn.exec_driver_sql("SELECT kind FROM cr_entry WHERE subject = ? ORDER BY subject_seq", (P1,))]
    assert kinds.count("deadline") == 1 and kinds.index("dispute") < kinds.index("deadline") < kinds.index("answer")


def test_the_enterprise_summary_shows_its_factors(chain: CreditChain) -> None:
    code = new_code()
    with chain.store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO cr_consent (idx, lender_id, borrower, purpose, valid_from, valid_to, digest, deposit_code) "
                             "VALUES (100, 'L4', ?, 'credit-line', ?, ?, ?, ?)",
                             (ENT, china_date(NOW - DAY_MS), china_date(NOW + DAY_MS), "0" * 64, code))
    answer = chain.check("L4", ENT, code, "credit-line")
    summary = answer["enterprise_summary"]
    assert {f["factor"] for f in summary["factors"]} == {"on_time_share", "worst_overdue_24m", "open_loans", "queries_90d"}
    assert summary["score"] == min(900, max(300, summary["base"] + sum(f["points"] for f in summary["factors"])))  # clipped to the rule file's range
    assert [f["points"] for f in summary["factors"] if f["factor"] == "on_time_share"] == [300]  # its one repayment was on time
    assert summary["rules"]["sha256"] == chain.rules.sha256


def test_evaluations_are_counted_and_limited(chain: CreditChain) -> None:
    blinded = [oprf.blind(bytes([i]), oprf.MODE_VOPRF)[1] for i in range(3)]
    evaluated, proof = chain.evaluate("L4", blinded)
    assert len(evaluated) == 3 and len(proof) == 64
    with pytest.raises(EvaluationLimit):  # 3 + 3 > 5 a day
        chain.evaluate("L4", blinded)
    chain.evaluate("L5", blinded[:2])  # another lender's count is its own
    figures = {f["lender_id"]: f for f in chain.evaluation_figures()}
    assert figures["L4"]["evaluations"] == 3 and figures["L4"]["loans_reported"] == 0 and figures["L5"]["evaluations"] == 2
    with pytest.raises(InvalidInput):
        chain.evaluate("L6", [b"\x00" * 32])  # the identity is no blinded element


def test_the_borrower_report_verifies_and_one_changed_byte_is_caught(chain: CreditChain) -> None:
    from credit_chain.borrower_report import verify_report

    report = chain.borrower_report(P1)
    assert verify_report(report) == []
    assert {(x["lender_id"], x["status"]) for x in report["loans"]} == {("L1", "current"), ("L2", "M2"), ("L3", "closed")}
    assert report["queries"] and all(q["lender_id"] == "L4" for q in report["queries"])
    doc = report["entries"][0]["document"]
    broken = {**report, "entries": [{**report["entries"][0], "document": doc.replace('"principal":500000', '"principal":500001')}]
              + report["entries"][1:]}
    assert verify_report(broken)
    dropped = {**report, "entries": report["entries"][:2] + report["entries"][3:]}  # an entry left out
    assert any("numbered" in p or "says" in p for p in verify_report(dropped))
    fewer = {**report, "queries": report["queries"][1:]}
    assert any("queries" in p for p in verify_report(fewer))


def test_public_entries_hide_pseudonyms_lenders_and_amounts(chain: CreditChain) -> None:
    """Try to guess every loan entry back from everything but the salt: candidates of every lender, loan, amount
    and seq; none reproduces a digest."""
    entries = [chain.ledger.entry(i) for i in range(chain.ledger.store.size())]  # type: ignore[attr-defined]
    for raw in entries:
        text = raw.decode()
        assert P1 not in text and P2 not in text and ENT not in text
        assert not any(f'"{x}"' in text for x in ("L1", "L2", "L3", "L4", "A", "B", "C", "E1"))
        assert parse_supervision_entry(raw).lender_id == chain.config.bureau_id
    digests = {parse_supervision_entry(e).digest for e in entries}
    for lender, loan, principal in (("L1", "A", 500_000), ("L2", "B", 2_000_000), ("L3", "C", 3_000_000)):
        for seq in range(1, 6):
            for index in range(10):
                fields = {"subject": P1, "subject_seq": seq, "lender_id": lender, "loan_id": loan, "principal": principal,
                          "supervision_index": index, "tag": "fivechains.credit/v1", "kind": "loanopened"}
                for salt in ("", "0" * 64):
                    guess = hashlib.sha256(canonical_json({**fields, "salt": salt, "time_ms": NOW - 5 * DAY_MS})).hexdigest()
                    assert guess not in digests


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["loanopened", "query", "dispute"]), st.integers(0, 2**53 - 1), st.text(max_size=40), st.integers(0, 200))
def test_a_document_opens_its_entry_and_nothing_else(kind: str, time_ms: int, text: str, flip: int) -> None:
    doc = new_document(kind, time_ms, {"subject": P1, "note": text})
    entry = entry_of(doc, "GZ-CREDIT-BUREAU")
    assert check_opening(entry, doc.text)["note"] == text
    other = new_document(kind, time_ms, {"subject": P1, "note": text})  # same fields, another salt
    with pytest.raises(OpeningError):
        check_opening(entry, other.text)
    data = bytearray(doc.text.encode())
    data[flip % len(data)] ^= 1
    with pytest.raises((OpeningError, ValueError)):
        check_opening(entry, data.decode("utf-8", "replace"))


def test_the_bureau_publishes_its_oprf_key_and_rules_once(chain: CreditChain, tmp_path: Path) -> None:
    key = chain.published_key()
    assert key["public_key"] == chain.oprf_key.public.hex() and json.loads(key["document"])["public_key"] == key["public_key"]
    assert (chain.config.data_dir / "oprf.key").stat().st_mode & 0o777 == 0o600
    with chain.store.read_engine.connect() as conn:
        counts = dict(conn.exec_driver_sql("SELECT kind, count(*) FROM cr_entry WHERE kind IN ('oprfkey', 'rules') GROUP BY kind").all())
    assert counts == {"oprfkey": 1, "rules": 1}


@pytest.mark.postgres
def test_the_credit_chain_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """The same decisions on PostgreSQL: the loan book, a check with consent, a dispute and its answer, evaluations,
    the borrower's report verified, the ledger audited."""
    from chain.audit import audit_ledger
    from credit_chain.borrower_report import verify_report

    c = CreditChain(CreditConfig(tmp_path / "credit", db_url=pg_url, seal_interval_ms=20))
    c.start()
    try:
        c.book.apply([row(0, "L1", "contract", "A", borrower=P1, borrower_kind="person", principal=500_000),
                      row(1, "L2", "contract", "B", borrower=P1, borrower_kind="person", principal=700_000),
                      row(2, "L2", "repayment", "B", principal=700_000, amount=710_000),
                      row(3, "L4", "consent", "APP", borrower=P1, purpose="loan-application", valid_from=china_date(NOW - DAY_MS),
                          valid_to=china_date(NOW + DAY_MS))], 4)
        code = new_code()
        with c.store.engine.begin() as conn:
            conn.execute(text("UPDATE cr_consent SET deposit_code = :c WHERE idx = 3"), {"c": code})
        assert c.check("L4", P1, code, "loan-application")["other_lenders_with_open_loans"] == 1
        opened = c.open_dispute(P1, "loan", "L1", "A", "not mine")
        assert c.answer_dispute("L1", opened["id"], "upheld", "signed contract on file")["state"] == "answered"
        c.evaluate("L4", [oprf.blind(b"x", oprf.MODE_VOPRF)[1]])
        c.evaluate("L4", [oprf.blind(b"y", oprf.MODE_VOPRF)[1]])  # the day's count is updated in place (ON CONFLICT)
        assert {f["lender_id"]: f["evaluations"] for f in c.evaluation_figures()}["L4"] == 2
        report = c.borrower_report(P1)
        assert verify_report(report) == [] and {x["status"] for x in report["loans"]} == {"current", "closed"}
        assert audit_ledger(c.store, c.ledger.verifier).ok
    finally:
        c.stop()
