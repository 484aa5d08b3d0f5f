"""The warnings' closed loop on a real risk chain (SQLite, its ledger, signed steps): every transition and
its refusals, deadlines flagged, reopening on persistence, the last good model kept, complaints counted,
and public entries that reveal neither the lender nor the warning."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pyarrow as pa
import pytest

from chain.audit import audit_ledger
from chain.keys import generate_private_key, public_key_bytes
from evidence.loan_reports import parse_report
from evidence.supervision_entry import parse_supervision_entry
from risk_chain.closed_loop import STEPS, StepRefused, next_state, step_text
from risk_chain.config import DEFAULT_OFFICER, Deadlines, RiskConfig
from risk_chain.feed import FeedLender
from risk_chain.report_table import report_row, reports_table
from risk_chain.scenario import history
from risk_chain.service import RiskChain
from risk_chain.warning_book import entry_commitment
from service_kit.problems import ServiceError

DAY_MS = 86_400_000


def _table(records, now_ms: int, first_idx: int = 0) -> pa.Table:
    return reports_table([report_row(first_idx + i, r.lender_id, r.loan_id, r.event_time_ms, now_ms, r.record_type,
                                     parse_report(r.record_type, r.report)) for i, r in enumerate(records)])


class Loop:
    """A risk chain fed the scenario directly (as the feed would), with keys for two lenders and the first officer."""

    def __init__(self, tmp: Path, **config) -> None:
        self.chain = RiskChain(RiskConfig(tmp, **config))
        self.now = int(time.time() * 1000)
        self.keys = {lender: generate_private_key() for lender in ("L0001", "L0003")}
        self.chain.sync_lenders([FeedLender(k, f"Lender {k}", public_key_bytes(v.public_key()), True) for k, v in self.keys.items()])
        from chain.keys import load_private_key

        self.officer = load_private_key(tmp / "officer.key")
        self.records = history(self.now)
        self.chain.indicators.add_block(_table(self.records, self.now))
        self.chain.evaluate(self.chain.indicators.lenders())

    def warning(self, lender: str = "L0003") -> dict:
        [w] = self.chain.warnings(lender)
        return w

    def step(self, wid: str, step: str, body: dict, actor: str = DEFAULT_OFFICER, kind: str = "officer", key=None, at: int | None = None):
        at = at or int(time.time() * 1000)
        key = key or (self.officer if kind == "officer" else self.keys[actor])
        signature = key.sign(step_text(self.chain.config.chain_id, wid, step, actor, at, body).encode())
        return self.chain.take_step(wid, step, actor, kind, at, body, signature)


@pytest.fixture
def loop(tmp_path: Path):
    made = Loop(tmp_path / "risk")
    yield made
    made.chain.store.close()


def test_the_drifting_lender_is_warned_in_red_and_the_steady_ones_are_not(loop: Loop) -> None:
    w = loop.warning()
    assert (w["level"], w["band"], w["state"]) == ("red", "red", "opened") and w["risk_index"] >= 80
    assert loop.chain.warnings("L0001") == []
    view = loop.chain.warning_view(w["id"])
    e = view["explanation"]
    assert e["model"]["sha256"] == loop.chain.models.model.sha256 and e["lender_id"] == "L0003"
    lines = {line["indicator"]: line for line in e["lines"]}
    assert sum(line["points"] for line in e["lines"]) == e["risk_index"]
    own = {i for i, r in enumerate(loop.records) if r.lender_id == "L0003"}
    assert lines["overdue_m1"]["entries"] and set(lines["overdue_m1"]["entries"]) <= own  # the figures name this lender's entries only
    assert lines["broken_lifecycles"]["value"] == 25 and len(lines["broken_lifecycles"]["entries"]) == 25
    assert view["steps"][0]["step"] == "open" and view["steps"][0]["document"]["actor_kind"] == "centre"
    assert w["deadline_for"] == "answer" and w["deadline_ms"] - w["opened_ms"] == Deadlines().answer("red")


def test_every_transition_of_the_loop_and_who_may_take_it() -> None:
    path = ["opened", "assigned", "answered", "reviewed", "closed"]
    for step, state in zip(("assign", "answer", "review", "close"), path):
        kind = STEPS[step].actor_kind
        assert next_state(step, state, kind) == path[path.index(state) + 1]
        for other in ("officer", "lender", "centre"):
            if other != kind:
                with pytest.raises(StepRefused) as refused:
                    next_state(step, state, other)
                assert refused.value.status == 403
    assert next_state("reopen", "closed", "centre") == "opened"
    assert next_state("deadline", "assigned", "centre") == "assigned"
    for state in ("assigned", "answered", "reviewed"):
        assert next_state("escalate", state, "officer") == "escalated"
    refusals = [("answer", "opened"), ("review", "assigned"), ("close", "answered"), ("close", "opened"), ("escalate", "opened"),
                ("assign", "closed"), ("answer", "closed"), ("reopen", "assigned"), ("deadline", "closed"), ("deadline", "escalated")]
    for step, state in refusals:
        with pytest.raises(StepRefused) as refused:
            next_state(step, state, STEPS[step].actor_kind)
        assert refused.value.status == 409, (step, state)


def test_the_loop_through_the_service_with_its_refusals(loop: Loop) -> None:
    wid = loop.warning()["id"]

    def refused(status: int, *args, **kwargs) -> str:
        with pytest.raises(ServiceError) as exc:
            loop.step(wid, *args, **kwargs)
        assert exc.value.status == status, exc.value
        return str(exc.value)

    refused(409, "answer", {"text": "too early"}, actor="L0003", kind="lender")  # not assigned yet
    refused(422, "assign", {"assignee": "REG-002", "colour": "red"})  # unknown field
    refused(401, "assign", {"assignee": "REG-002"}, key=generate_private_key())  # not the officer's key
    refused(401, "assign", {"assignee": "REG-002"}, at=int(time.time() * 1000) - 10 * 60_000)  # outside the time window
    assert loop.step(wid, "assign", {"assignee": "REG-002", "note": "check the rates"})["state"] == "assigned"
    refused(404, "answer", {"text": "not ours"}, actor="L0001", kind="lender")  # another lender: as if it did not exist
    refused(401, "answer", {"text": "forged"}, actor="L0003", kind="lender", key=loop.keys["L0001"])
    refused(403, "review", {"finding": "accepted"}, actor="L0003", kind="lender")  # a lender cannot review
    refused(422, "answer", {"text": "see file", "attachments": [{"name": "../x", "digest": "00"}]}, actor="L0003", kind="lender")
    evidence = {"name": "rates-2026.pdf", "digest": hashlib.sha256(b"rates").hexdigest()}
    at = int(time.time() * 1000)
    answered = loop.step(wid, "answer", {"text": "We repriced the loans and call less.", "attachments": [evidence]}, actor="L0003",
                         kind="lender", at=at)
    assert answered["state"] == "answered" and answered["deadline_for"] == "decision"
    refused(409, "answer", {"text": "We repriced the loans and call less.", "attachments": [evidence]}, actor="L0003", kind="lender", at=at)
    refused(409, "close", {"note": "not reviewed"})
    refused(422, "review", {"finding": "maybe"})
    assert loop.step(wid, "review", {"finding": "accepted"})["state"] == "reviewed"
    closed = loop.step(wid, "close", {"note": "remedied"})
    assert closed["state"] == "closed" and closed["deadline_ms"] is None
    view = loop.chain.warning_view(wid)
    assert [s["step"] for s in view["steps"]] == ["open", "assign", "answer", "review", "close"]
    answer = view["steps"][2]["document"]
    assert answer["actor"] == "L0003" and answer["body"]["attachments"] == [evidence]
    # each step is one entry of the risk ledger, which audits clean once sealed
    assert loop.chain.ledger.store.size() == 5
    loop.chain.ledger.seal()
    assert audit_ledger(loop.chain.store, loop.chain.ledger.verifier).ok


def test_escalation_ends_the_loop(loop: Loop) -> None:
    wid = loop.warning()["id"]
    loop.step(wid, "assign", {"assignee": "REG-001"})
    assert loop.step(wid, "escalate", {"action": "on-site-inspection", "note": "no answer"})["state"] == "escalated"
    with pytest.raises(ServiceError) as exc:
        loop.step(wid, "close", {"note": "done"})
    assert exc.value.status == 409


def test_a_missed_deadline_is_flagged_once(tmp_path: Path) -> None:
    loop = Loop(tmp_path / "risk", deadlines=Deadlines(answer_ms={"red": 1_000}, review_ms=1_000))
    wid = loop.warning()["id"]
    assert loop.chain.check_deadlines(int(time.time() * 1000)) == []  # not due yet
    later = int(time.time() * 1000) + 2_000
    assert loop.chain.check_deadlines(later) == [wid]
    assert loop.chain.check_deadlines(later + 10) == []  # flagged once
    view = loop.chain.warning_view(wid)
    assert view["deadline_missed"] and view["steps"][-1]["step"] == "deadline"
    assert view["steps"][-1]["document"]["body"] == {"missed": "answer", "deadline_ms": view["deadline_ms"]}
    loop.step(wid, "assign", {"assignee": "REG-001"})
    answered = loop.step(wid, "answer", {"text": "late, sorry"}, actor="L0003", kind="lender")
    assert not answered["deadline_missed"] and answered["deadline_for"] == "decision"  # a new deadline, not yet missed
    loop.chain.store.close()


def _later_days(loop: Loop, days: int, first_idx: int, first_day: int = 1) -> int:
    """More days of L0003 going on as before — lending above the cap, overdue loans it never contracted — so that it
    stays in orange; returns the next ledger index."""
    rows = []
    for d in range(first_day, first_day + days):
        t = loop.now + d * DAY_MS
        for k in range(6):
            report = {"principal": 5_000_000, "rate_bp": 3_000, "term_months": 3, "schedule": [{"date": "2027-06-01", "amount": 5_100_000}],
                      "borrower_kind": "person", "borrower": f"{1:064x}"}
            rows.append(report_row(first_idx + len(rows), "L0003", f"L0003-later-{d}-{k}", t, t, "contract",
                                   parse_report("contract", report)))
        for k in range(25):
            rows.append(report_row(first_idx + len(rows), "L0003", f"L0003-unreported-{d}-{k}", t, t, "overdue",
                                   parse_report("overdue", {"days_past_due": 5, "amount_overdue": 1_000_000})))
    loop.chain.indicators.add_block(reports_table(rows))
    loop.chain.evaluate(["L0003", "L0001"])
    return first_idx + len(rows)


def _close(loop: Loop, wid: str) -> None:
    loop.step(wid, "assign", {"assignee": "REG-001"})
    loop.step(wid, "answer", {"text": "fixed"}, actor="L0003", kind="lender")
    loop.step(wid, "review", {"finding": "accepted"})
    loop.step(wid, "close", {"note": "fixed, they say"})


def test_a_closed_warning_reopens_when_the_risk_persists(loop: Loop) -> None:
    wid = loop.warning()["id"]
    _close(loop, wid)
    days = loop.chain.config.reopen_after_days
    nxt = _later_days(loop, days - 1, len(loop.records))
    assert loop.chain.warning_view(wid)["state"] == "closed"  # not yet long enough
    _later_days(loop, 1, nxt, first_day=days)
    view = loop.chain.warning_view(wid)
    assert view["state"] == "opened" and view["steps"][-1]["step"] == "reopen"
    assert view["steps"][-1]["document"]["body"]["in_band_days"] == loop.chain.config.reopen_after_days
    assert view["deadline_for"] == "answer" and not view["deadline_missed"]
    assert len(loop.chain.warnings("L0003")) == 1  # the same warning, not a new one


def test_decisions_are_not_taken_twice_when_the_data_is_read_again(loop: Loop) -> None:
    """After a restart the feed is read again from the start: nothing is opened a second time."""
    before = loop.chain.store.size()
    loop.chain.evaluate(loop.chain.indicators.lenders())
    assert loop.chain.store.size() == before and len(loop.chain.warnings()) == 1


def test_a_bad_model_file_leaves_the_last_good_one_in_force(tmp_path: Path) -> None:
    from risk_chain.scorecard import DEFAULT_MODEL, ModelError

    model = tmp_path / "model.toml"
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    loop = Loop(tmp_path / "risk", model_path=model)
    good = loop.chain.models.model
    model.write_text(DEFAULT_MODEL.read_text().replace("points = [0, 4, 8, 12, 16]", "points = [0, 4, 8, 12]"))
    with pytest.raises(ModelError) as error:
        loop.chain.reload_model()
    assert error.value.path == "indicators.overdue_m1.points"
    assert loop.chain.models.model is good and loop.chain.status()["model"]["last_error"]
    model.write_text(DEFAULT_MODEL.read_text().replace('version = "2026.2"', 'version = "2026.3"'))
    assert loop.chain.reload_model().version == "2026.3"
    assert loop.chain.model_text(good.sha256) == DEFAULT_MODEL.read_text()  # the old model stays retrievable by its hash
    loop.chain.store.close()


def test_complaints_are_entries_and_counted(loop: Loop) -> None:
    day = loop.chain.indicators.latest_day()
    before = loop.chain.indicators.row("L0001", day)["complaints"]
    at = loop.now
    answer = loop.chain.add_complaint("L0001", hashlib.sha256(b"they called me at night").hexdigest(), at)
    assert loop.chain.indicators.row("L0001", day)["complaints"] == before + 1
    entry = parse_supervision_entry(loop.chain.ledger.store.entries(answer["index"], answer["index"] + 1)[0].data)
    assert entry.record_type == "complaint" and entry.lender_id == loop.chain.config.centre_id


def test_public_entries_reveal_neither_the_lender_nor_the_warning(loop: Loop) -> None:
    wid = loop.warning()["id"]
    loop.step(wid, "assign", {"assignee": "REG-001"})
    entries = loop.chain.ledger.store.entries(0, loop.chain.ledger.store.size())
    for e in entries:
        assert b"L0003" not in e.data and wid.encode() not in e.data
        assert parse_supervision_entry(e.data).lender_id == loop.chain.config.centre_id
    # a guesser who knows the warning id, the digest and every possible lender id cannot open the commitment without the salt
    steps = loop.chain.book.steps(wid)
    first = parse_supervision_entry(entries[steps[0].idx].data)
    lenders = [f"L{n:04d}" for n in range(10_000)]
    guesses = {entry_commitment("warning-step", f"{wid}#0", lender, first.digest, "") for lender in lenders}
    assert first.commitment not in guesses
    assert entry_commitment("warning-step", f"{wid}#0", "L0003", first.digest, steps[0].commitment_salt) == first.commitment
    # and the document behind the digest is the one the regulator holds
    from evidence.digests import digest_json

    assert digest_json(json.loads(steps[0].document)) == first.digest


@pytest.mark.postgres
def test_the_loop_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """The same chain on PostgreSQL: a warning opened, steps taken and refused, the ledger sealed and audited."""
    loop = Loop(tmp_path / "risk", db_url=pg_url)
    try:
        wid = loop.warning()["id"]
        loop.step(wid, "assign", {"assignee": "REG-001"})
        with pytest.raises(ServiceError) as exc:
            loop.step(wid, "close", {"note": "too early"})
        assert exc.value.status == 409
        assert loop.step(wid, "answer", {"text": "on it"}, actor="L0003", kind="lender")["state"] == "answered"
        loop.chain.ledger.seal()
        assert audit_ledger(loop.chain.store, loop.chain.ledger.verifier).ok and loop.chain.store.size() == 3
    finally:
        loop.chain.store.close()
