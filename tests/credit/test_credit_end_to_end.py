"""The credit chain in the running system (`fivechains up`): an applicant with loans at three lenders applies at a
fourth; the fourth computes the pseudonym through the bureau's OPRF, deposits the consent on the supervision chain,
quotes its deposit code and gets the multi-head flag; every kind of bad consent is refused; the borrower's report
shows the query and proves itself complete; public entries and answers name nobody; the credit chain anchors into
the judicial chain. One system for the module (tests/credit/world.py)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from credit_chain.borrower_report import verify_report
from credit_chain.client import CreditError
from evidence.deposit_codes import new_code
from evidence.supervision_entry import parse_supervision_entry
from supervision_chain.client import LenderClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from world import APPLICANT, LENDERS, PURPOSE, CreditWorld, consent  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    made = CreditWorld(tmp_path_factory.mktemp("credit-e2e"))
    made.wait_for_feed()
    yield made
    made.system.stop()


def _refused(world: CreditWorld, lender: str, code: str, purpose: str = PURPOSE, borrower: str | None = None) -> CreditError:
    with world.lender(lender) as client, pytest.raises(CreditError) as caught:
        client.check(borrower or world.applicant, code, purpose)
    return caught.value


def test_the_fourth_lender_sees_three_other_lenders_and_the_flag(world: CreditWorld) -> None:
    with world.lender("L0004") as client:
        answer = client.check(world.applicant, world.consent_code, PURPOSE)
    assert answer["other_lenders_with_open_loans"] == 3 and answer["outstanding_principal_fen"] == 6_000_000
    assert answer["multi_head"]["flag"] is True and answer["multi_head"]["other_lenders_in_window"] == 3
    assert not any(lender in json.dumps(answer) for lender in LENDERS[:3])  # counts, never names
    assert answer["query"]["consent_code"] == world.consent_code.replace("-", "")


def test_every_bad_consent_is_refused_and_leaves_no_query(world: CreditWorld) -> None:
    with world.operator() as op:
        before = len(op.report(world.applicant)["queries"])
    expired = world.deposit_consent("L0004", consent(world.applicant, days_from=-60, days_to=-1))
    other_purpose = world.deposit_consent("L0004", consent(world.applicant, purpose="marketing"))
    contract_index = world.deposit("L0004", "contract", "LOAN-L0004-X", {"principal": 5, "rate_bp": 1, "term_months": 1,
                                   "schedule": [{"date": "2027-01-01", "amount": 6}], "borrower_kind": "person", "borrower": "ab" * 32})
    with LenderClient(world.system.url, "L0004", world.keys["L0004"]) as client:
        contract_code = client.wait_for([contract_index])[contract_index]["deposit_code"]
    cases = {
        "missing": _refused(world, "L0004", new_code()),
        "another lender's": _refused(world, "L0001", world.consent_code),
        "expired": _refused(world, "L0004", expired),
        "wrong purpose": _refused(world, "L0004", other_purpose),
        "another borrower": _refused(world, "L0004", world.consent_code, borrower="cd" * 32),
        "not a consent (a contract's code)": _refused(world, "L0004", contract_code),
    }
    assert {name: e.status for name, e in cases.items()} == dict.fromkeys(cases, 403)
    assert "expired" in cases["expired"].detail and "purpose" in cases["wrong purpose"].detail
    assert "no anchored consent" in cases["missing"].detail and "no anchored consent" in cases["not a consent (a contract's code)"].detail
    assert _refused(world, "L0004", "1234").status == 422  # not a deposit code at all
    with world.operator() as op:
        assert len(op.report(world.applicant)["queries"]) == before  # a refusal is no query


def test_the_borrowers_report_shows_the_query_and_proves_itself_complete(world: CreditWorld) -> None:
    with world.lender("L0004") as client:
        client.check(world.applicant, world.consent_code, PURPOSE)
    with world.operator() as op:
        report = op.report(world.applicant)
    assert verify_report(report) == [] and verify_report(report, httpx.get(world.system.credit + "/v1/chain").json()["vkey"]) == []
    assert sorted(x["lender_id"] for x in report["loans"]) == list(LENDERS[:3])
    assert report["queries"] and {q["lender_id"] for q in report["queries"]} == {"L0004"}
    assert all(q["purpose"] == PURPOSE and q["consent_code"] == world.consent_code.replace("-", "") for q in report["queries"])
    with pytest.raises(CreditError) as caught, world.lender("L0004") as lender:
        lender.report(world.applicant)  # a lender's key is no operator's token
    assert caught.value.status == 401


def test_no_public_entry_or_answer_reveals_a_lender_or_a_pseudonym(world: CreditWorld) -> None:
    size = httpx.get(world.system.credit + "/v1/chain").json()["sealed_size"]
    entries = httpx.get(world.system.credit + "/v1/entries", params={"start": 0, "end": size}).json()["entries"]
    assert len(entries) == size >= 6
    for e in entries:
        raw = e["data"].encode()
        text = e["data"]
        assert world.applicant not in text and not any(lender in text for lender in LENDERS) and "LOAN-" not in text
        assert parse_supervision_entry(raw).lender_id == "GZ-CREDIT-BUREAU"
    unsigned = httpx.post(world.system.credit + "/v1/checks/multihead", json={"borrower": world.applicant, "consent_code": world.consent_code,
                                                                               "purpose": PURPOSE})
    assert unsigned.status_code == 401 and unsigned.headers["content-type"].startswith("application/problem+json")


def test_pseudonyms_are_the_same_for_every_lender_and_counted(world: CreditWorld) -> None:
    with world.lender("L0001") as a, world.lender("L0002") as b:
        assert a.pseudonyms([APPLICANT]) == b.pseudonyms([APPLICANT.lower()]) == [world.applicant]
    with world.regulator() as reg:
        figures = {f["lender_id"]: f for f in reg.evaluations()}
    assert figures["L0004"]["evaluations"] >= 1 and figures["L0001"]["evaluations"] >= 1 and figures["L0001"]["loans_reported"] == 1


def test_the_credit_chain_is_anchored_in_the_judicial_chain(world: CreditWorld) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with world.operator() as op:
            report = op.report(world.applicant)
        if all(e["deposit_code"] for e in report["entries"]):
            break
        time.sleep(0.3)
    assert all(e["deposit_code"] for e in report["entries"]), "credit entries got no deposit codes from the judicial chain"


def test_the_supervision_chain_finds_a_consent_by_its_code_for_the_regulator_only(world: CreditWorld) -> None:
    url = world.system.url + "/v1/feed/consents/"
    auth = {"Authorization": f"Bearer {world.sv_token}"}
    found = httpx.get(url + world.consent_code, headers=auth).json()
    assert found["record_type"] == "consent" and found["lender_id"] == "L0004" and found["report"]["borrower"] == world.applicant
    assert found["deposit_code"] == world.consent_code.replace("-", "")
    assert httpx.get(url + world.consent_code).status_code == 401  # the feed is the regulator's
    assert httpx.get(url + new_code(), headers=auth).status_code == 404
    bad = httpx.get(url + "ABC", headers=auth)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_the_risk_chain_scores_each_lenders_multihead_share(world: CreditWorld) -> None:
    """L0001's one borrower also borrows at L0002 and L0003 and was checked by L0004: three other lenders, so all of
    L0001's borrowers are multi-head (share 1.0) — the credit chain says so and the risk chain scores it."""
    with world.lender("L0004") as client:
        client.check(world.applicant, world.consent_code, PURPOSE)
    with world.regulator() as reg:
        shares = {row["lender_id"]: row for row in reg.multihead_shares()["lenders"]}
    assert shares["L0001"]["share"] == 1.0 and shares["L0001"]["borrowers"] == 1
    risk_token = (world.up / "risk" / "regulator.token").read_text().strip()
    deadline, last = time.monotonic() + 40, None
    while time.monotonic() < deadline:
        days = httpx.get(world.system.risk + "/v1/lenders/L0001/series", headers={"Authorization": f"Bearer {risk_token}"}, timeout=10).json()["days"]
        last = days[-1]["values"].get("multihead_share") if days else None
        if last == 1.0:
            break
        time.sleep(0.5)
    assert last == 1.0, "the risk chain never read the credit chain's multi-head share"


def test_the_audit_covers_the_credit_chain_and_names_a_changed_credit_entry(world: CreditWorld) -> None:
    """Run last in the module: it edits the credit chain's database."""

    def fc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=180,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "COLUMNS": "200"})

    certs = world.up / "certs"
    assert fc("judicial", "certs", "--certs", str(certs), "--client", "regulator.credit-test").returncode == 0
    vkey = httpx.get(world.system.portal + "/v1/chain").json()["vkey"]
    args = ["audit", "--supervision", world.system.url, "--judicial", f"127.0.0.1:{world.system.jc_port}", "--certs", str(certs),
            "--cert-name", "regulator.credit-test", "--judicial-vkey", vkey, "--risk", world.system.risk, "--credit", world.system.credit, "--json"]
    deadline = time.monotonic() + 60
    while True:  # the last entries may still be on their way to the judicial chain
        report = json.loads(fc(*args).stdout)
        if report["ok"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert report["ok"], report["findings"]
    assert report["credit"]["entries"] >= 6 and report["credit"]["chain"] == "credit.fivechains.local/gz-credit-bureau"
    with sqlite3.connect(world.up / "credit" / "credit.db") as db:  # a clerk edits the first loan entry directly
        idx = db.execute("SELECT min(idx) FROM cr_entry WHERE kind = 'loanopened'").fetchone()[0]
        db.execute("UPDATE ledger_entry SET data = replace(data, 'loanopened', 'loanclosed') WHERE idx = ?", (idx,))
    report = json.loads(fc(*args).stdout)
    assert not report["ok"]
    named = [f for f in report["findings"] if f["chain"] == "credit.fivechains.local/gz-credit-bureau"]
    assert named and named[0]["entry"] == idx
