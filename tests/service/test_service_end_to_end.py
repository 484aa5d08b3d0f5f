"""The service chain end to end on a real `fivechains up`: pools checked against real anchored deposits, certificates
verified offline, a second pledge refused across funders, releases, transfers and the holder the court is told."""

from __future__ import annotations

import copy
import json
import time

import httpx
import pytest

from service_chain.certificate import CertificateError, verify_certificate
from service_chain.client import ServiceClient, ServiceError

from .world import BUYER, HOUR_MS, ServiceWorld


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    w = ServiceWorld(tmp_path_factory.mktemp("service"))
    yield w
    w.system.stop()


def _codes(verdict: dict) -> list[str]:
    return [e["code"] for e in verdict["exceptions"]]


def test_a_pool_of_good_and_crafted_bad_loans(world: ServiceWorld) -> None:
    good = world.make_loans("L0001", "GOOD", 4)
    late = world.make_loans("L0001", "LATE", 1, contract_late_ms=30 * HOUR_MS)[0]
    short = world.make_loans("L0001", "SHORT", 1, disbursed=900_000)[0]
    overdue = world.make_loans("L0001", "OVERDUE", 1, overdue_dpd=45)[0]
    tampered = world.make_loans("L0001", "TAMPER", 1)[0]
    changed = copy.deepcopy(tampered.records)
    changed[2]["report"]["principal"] += 1  # the repayment record as the lender now shows it: not what it deposited
    swapped = world.make_loans("L0001", "SWAP", 1)[0]
    missing = world.make_loans("L0001", "MISS", 1)[0]
    claimed = world.make_loans("L0001", "CLAIM", 1)[0]
    with world.lender("L0001") as lender:
        pool_id = lender.new_pool("financing", "F001")
        verdicts = lender.add_loans(pool_id, [loan.entry() for loan in good] + [
            late.entry(), short.entry(), overdue.entry(), tampered.entry(records=changed),
            swapped.entry(codes=[swapped.codes[1], swapped.codes[0], *swapped.codes[2:]]),
            missing.entry(records=missing.records[:-1], codes=missing.codes[:-1]),
            {**good[0].entry(), "loan_id": "GHOST-1"}, claimed.entry(claimed=claimed.outstanding + 100)])
    by_id = {v["loan_id"]: v for v in verdicts}
    for loan in good:
        assert by_id[loan.loan_id]["eligible"], by_id[loan.loan_id]["exceptions"]
        assert by_id[loan.loan_id]["outstanding_fen"] == loan.outstanding == 850_000
    assert "back-filled" in _codes(by_id[late.loan_id]) and "31.0 h" in json.dumps(by_id[late.loan_id])
    assert "lifecycle" in _codes(by_id[short.loan_id])
    assert _codes(by_id[overdue.loan_id]) == ["overdue"]
    assert _codes(by_id[tampered.loan_id]) == ["unknown-record", "missing-records"]
    assert _codes(by_id[swapped.loan_id]) == ["wrong-code", "wrong-code"]
    assert _codes(by_id[missing.loan_id]) == ["missing-records"]
    assert _codes(by_id[claimed.loan_id]) == ["claim-mismatch"] and "850000" in by_id[claimed.loan_id]["exceptions"][0]["detail"]
    assert "no-contract" in _codes(by_id["GHOST-1"]) and "unknown-record" in _codes(by_id["GHOST-1"])
    world.good, world.pool_id = good, pool_id


def test_chunks_sent_two_at_a_time_keep_the_pools_order(world: ServiceWorld) -> None:
    """The SDK sends a pool's chunks two at a time, numbered: the verdicts and the certified pool's leaves come back in
    the order given, and a chunk numbered out of turn is refused (409 pool-state) without writing."""
    loans = world.make_loans("L0001", "ORDER", 7)
    with world.lender("L0001") as lender:
        pool_id = lender.new_pool("financing", "F001")
        verdicts = lender.add_loans(pool_id, [loan.entry() for loan in loans], chunk=2, in_flight=2)
        assert [v["loan_id"] for v in verdicts] == [loan.loan_id for loan in loans] and all(v["eligible"] for v in verdicts)
        with pytest.raises(ServiceError) as refused:
            lender._send("POST", f"/v1/pools/{pool_id}/loans", {"position": 3, "loans": [world.make_loans("L0001", "LATER", 1)[0].entry()]})  # noqa: SLF001
        assert (refused.value.status, refused.value.slug) == (409, "pool-state") and "holds 7" in refused.value.detail
        cert = lender.certify(pool_id)
        proofs = lender.proofs(pool_id, start=0, limit=100)["proofs"]
    assert cert["loans"] == 7
    assert [json.loads(p["leaf"])["loan_id"] for p in sorted(proofs, key=lambda p: p["index"])] == [loan.loan_id for loan in loans]


def test_claim_mismatch_and_the_pool_certificate_verify_offline(world: ServiceWorld) -> None:
    with world.lender("L0001") as lender:
        pool_id = world.pool_id
        cert = lender.certify(pool_id)
        pool = lender.pool(pool_id)
        proofs = lender.proofs(pool_id, start=0, limit=100)["proofs"]
        with pytest.raises(ServiceError) as closed:
            lender.add_loans(pool_id, [world.good[0].entry()])
        assert closed.value.status == 409
    assert pool["state"] == "certified" and pool["loans"] == 12 and pool["eligible"] == 4 and pool["outstanding_fen"] == 4 * 850_000
    vkey = cert["vkey"]
    certificate, _ = verify_certificate(cert["certificate"], vkey)
    assert (certificate.loans, certificate.eligible, certificate.outstanding, certificate.offered_to) == (12, 4, 3_400_000, "F001")
    leaves = ServiceClient.verify(cert["certificate"], vkey, proofs)
    assert [leaf["loan_id"] for leaf in leaves][:4] == [loan.loan_id for loan in world.good]
    assert all(leaf["eligible"] == (leaf["exceptions"] == []) for leaf in leaves)
    text = cert["certificate"]
    at = text.index("outstanding ") + len("outstanding ")
    with pytest.raises(CertificateError):
        verify_certificate(text[:at] + "9" + text[at + 1:], vkey)
    bad = dict(proofs[0], leaf=proofs[0]["leaf"].replace('"eligible":true', '"eligible":false'))
    with pytest.raises(CertificateError):
        verify_certificate(text, vkey, bad)
    world.certificate = cert


def test_party_isolation(world: ServiceWorld) -> None:
    with world.party("F002") as other, world.lender("L0002") as other_lender, world.party("F001") as funder:
        for client in (other, other_lender):
            with pytest.raises(ServiceError) as hidden:
                client.pool(world.pool_id)
            assert hidden.value.status == 404
            assert world.pool_id not in json.dumps(client.pools())
        assert funder.pool(world.pool_id)["eligible"] == 4
        with pytest.raises(ServiceError) as not_a_lender:
            funder.new_pool("financing", "F001")
        assert not_a_lender.value.status == 403
    with world.lender("L0002") as other_lender:  # another lender's records do not match its deposits
        pool = other_lender.new_pool("financing", "F002")
        verdict = other_lender.add_loans(pool, [world.good[0].entry()])[0]
    assert not verdict["eligible"] and "unknown-record" in _codes(verdict) and "no-contract" in _codes(verdict)


def test_second_pledge_refused_across_funders_then_released(world: ServiceWorld) -> None:
    with world.lender("L0001") as lender:  # a second pool of the same loans, certified before the first is registered
        second = lender.new_pool("financing", "F002")
        assert all(v["eligible"] for v in lender.add_loans(second, [loan.entry() for loan in world.good[:2]]))
        lender.certify(second)
        proposal = lender.propose(world.pool_id, 3_000_000, 12, "R-FIRST")
    with world.party("F001") as funder:
        registered = funder.accept(proposal)
    assert registered["state"] == "registered" and registered["index"] is not None
    with world.lender("L0001") as lender:
        with pytest.raises(ServiceError) as refused:
            lender.propose(second, 1_000_000, 6, "R-SECOND")
        third = lender.new_pool("financing", "F002")
        again = lender.add_loans(third, [world.good[0].entry()])[0]
    assert refused.value.status == 409 and refused.value.slug == "already-encumbered"
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    assert world.good[0].loan_id in refused.value.detail and today in refused.value.detail
    assert "F001" not in refused.value.detail and "Funder" not in refused.value.detail
    assert _codes(again) == ["pledged"] and "F001" not in json.dumps(again)
    with world.party("F001") as funder:
        assert funder.release("R-FIRST")["state"] == "released"
    with world.lender("L0001") as lender:
        proposal = lender.propose(second, 1_000_000, 6, "R-SECOND")
    with world.party("F002") as funder:
        assert funder.accept(proposal)["state"] == "registered"


def test_accept_needs_the_funders_signature_over_the_same_terms(world: ServiceWorld) -> None:
    loans = world.make_loans("L0002", "SIG", 1)
    with world.lender("L0002") as lender:
        pool = lender.new_pool("financing", "F001")
        lender.add_loans(pool, [loan.entry() for loan in loans])
        lender.certify(pool)
        proposal = lender.propose(pool, 500_000, 3, "R-SIG")
    with world.party("F002") as wrong_party:
        with pytest.raises(ServiceError) as not_yours:
            wrong_party.accept(proposal)
    assert not_yours.value.status == 404
    with world.party("F001") as funder:
        forged = dict(proposal, terms=proposal["terms"].replace('"amount_fen":500000', '"amount_fen":5'))
        with pytest.raises(ServiceError) as bad:
            funder.accept(forged)
        assert bad.value.status == 401
        assert funder.accept(proposal)["state"] == "registered"


def test_transfer_records_the_holder_the_court_sees(world: ServiceWorld) -> None:
    loans = world.make_loans("L0002", "SOLD", 2, overdue_dpd=90)
    with world.lender("L0002") as lender:
        pool = lender.new_pool("transfer", BUYER)
        assert all(v["eligible"] for v in lender.add_loans(pool, [loan.entry() for loan in loans]))
        lender.certify(pool)
        proposal = lender.propose(pool, 300_000, 0, "R-SALE")
    with world.party(BUYER) as buyer:
        sold = buyer.accept(proposal)
    assert sold["kind"] == "transfer"
    with world.court() as court:
        holders = {h["supervision_index"]: h for h in court.holders([*loans[0].indexes, world.good[3].indexes[0], 10**9])}
    assert holders[loans[0].indexes[0]]["holder_id"] == BUYER and holders[loans[0].indexes[0]]["holder_kind"] == "buyer"
    assert holders[loans[0].indexes[0]]["since_ms"] == sold["registered_ms"]
    assert holders[world.good[3].indexes[0]]["holder_id"] == "L0001" and not holders[world.good[3].indexes[0]]["pledged"]
    assert 10**9 not in holders
    deadline = time.monotonic() + 30
    while holders[loans[0].indexes[0]]["transfer_code"] is None and time.monotonic() < deadline:
        time.sleep(0.2)
        with world.court() as court:
            holders = {h["supervision_index"]: h for h in court.holders(loans[0].indexes)}
    assert holders[loans[0].indexes[0]]["transfer_code"]
    with world.lender("L0002") as lender:  # sold: no second sale, no pledge
        again = lender.new_pool("financing", "F001")
        assert _codes(lender.add_loans(again, [loans[1].entry()])[0]) == ["overdue", "transferred"]
    with world.regulator() as reg:
        with pytest.raises(ServiceError) as wrong_token:
            ServiceClient(world.system.service, token=world.regulator_token).holders([1])
        assert wrong_token.value.status == 401
        overview = reg.overview()
    assert overview["loans_transferred"] == 2


def test_the_court_portal_shows_who_holds_the_claim(world: ServiceWorld) -> None:
    """A loan sold to the buyer, verified at the court by record and code: the verdict names the buyer and since when."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from evidence.digests import digest_json

    loan = world.make_loans("L0002", "COURT", 1, overdue_dpd=120)[0]
    with world.lender("L0002") as lender:
        pool = lender.new_pool("transfer", BUYER)
        lender.add_loans(pool, [loan.entry()])
        lender.certify(pool)
        proposal = lender.propose(pool, 10_000, 0, "R-COURT")
    with world.party(BUYER) as buyer:
        sold = buyer.accept(proposal)
    made = subprocess.run([sys.executable, "-m", "fivechains.cli", "judicial", "judge", "add", "J-SVC", "--name", "Judge Lin",
                           "--data-dir", str(world.up / "judicial"), "--json"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    auth = {"Authorization": "Bearer " + json.loads(made.stdout)["token"]}
    items = [{"code": code, "digest": digest_json(record)} for record, code in zip(loan.records, loan.codes, strict=True)]
    job = httpx.post(world.system.portal + "/v1/verifications", json={"case_id": "(2026)粤0192民初11号", "items": items}, headers=auth,
                     timeout=30).json()["job_id"]
    deadline = time.monotonic() + 60
    while True:
        view = httpx.get(f"{world.system.portal}/v1/verifications/{job}", headers=auth, timeout=30).json()
        if view["status"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert view["status"] == "done" and all(item["verdict"] == "verified" for item in view["items"])
    assert not view.get("holders_unavailable")
    holder = view["items"][0]["holder"]
    assert holder["holder_id"] == BUYER and holder["holder_kind"] == "buyer" and holder["since_ms"] == sold["registered_ms"]
    assert holder["loan_id"] == loan.loan_id and holder["lender_id"] == "L0002"


def test_payoff_releases_the_pledge(world: ServiceWorld) -> None:
    loan = world.make_loans("L0001", "PAYOFF", 1)[0]
    with world.lender("L0001") as lender:
        pool = lender.new_pool("financing", "F002")
        lender.add_loans(pool, [loan.entry()])
        lender.certify(pool)
        proposal = lender.propose(pool, 100_000, 1, "R-PAYOFF")
    with world.party("F002") as funder:
        funder.accept(proposal)
    from evidence.digests import digest_json
    from supervision_chain.client import DepositItem, LenderClient

    record = {"lender": "L0001", "loan": loan.loan_id, "type": "repayment", "final": True}
    report = {"amount": loan.outstanding, "date": "2026-12-01", "principal": loan.outstanding, "interest": 0}
    with LenderClient(world.system.url, "L0001", world.keys["L0001"]) as client:
        index = client.deposit([DepositItem(digest_json(record), "repayment", loan.loan_id, int(time.time() * 1000), report=report)])["items"][0]["index"]
        client.wait_for([index])
    world.wait_for_feed()
    with world.court() as court:
        deadline = time.monotonic() + 30
        while court.holders([index])[0]["pledged"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not court.holders([index])[0]["pledged"]


def test_bad_requests_are_problems_not_crashes(world: ServiceWorld) -> None:
    with world.lender("L0001") as lender:
        pool = lender.new_pool("financing", "F001")
        for body, word in ((b"not json", "JSON"), (b'{"loans": []}', "at least one"), (b'{"loans": [{"loan_id": "x"}]}', "shape"),
                           (b'{"loans": [{"loan_id": "x", "claimed_outstanding_fen": 1, "records": [{"deposit_code": "A"}]}]}', "exactly one")):
            with pytest.raises(ServiceError) as bad:
                lender._send("POST", f"/v1/pools/{pool}/loans", content=body)
            assert bad.value.status == 422 and word in bad.value.detail
        for purpose, party in (("lend", "F001"), ("financing", BUYER), ("transfer", "F001"), ("financing", "NOBODY")):
            with pytest.raises(ServiceError) as bad:
                lender.new_pool(purpose, party)
            assert bad.value.status == 422
        with pytest.raises(ServiceError) as empty:
            lender.certify(pool)
        assert empty.value.status == 409
    with world.operator() as op:
        for key in (b"short", b"\x04" + bytes(10), bytes(33)):
            with pytest.raises(ServiceError) as bad_key:
                op.add_party("F-BAD", "Bad key", "funder", key)
            assert bad_key.value.status == 422 and "public_key" in bad_key.value.detail
    unsigned = httpx.post(world.system.service + "/v1/pools", json={"purpose": "financing", "offered_to": "F001"}, timeout=10)
    assert unsigned.status_code == 401 and unsigned.headers["content-type"].startswith("application/problem+json")
    too_big = httpx.post(world.system.service + "/v1/pools/PX/loans", content=b"x" * (33 * 1024 * 1024), timeout=30)
    assert too_big.status_code == 413


def test_public_entries_reveal_nothing(world: ServiceWorld) -> None:
    entries = httpx.get(world.system.service + "/v1/entries", params={"start": 0, "end": 200}, timeout=10).json()["entries"]
    text = json.dumps(entries)
    assert entries and "GOOD-00000" not in text and "F001" not in text and "L0001" not in text and "850000" not in text


def test_a_registration_cannot_be_guessed_back_from_its_public_entry(world: ServiceWorld) -> None:
    """Knowing every field of a pledge (pool, parties, amount, signatures) but the salt, its public entry is not matched."""
    import hashlib
    import sqlite3

    from evidence.canonical_json import canonical_json
    from evidence.supervision_entry import parse_supervision_entry
    from service_chain.documents import SERVICE_DOCUMENTS

    with sqlite3.connect(world.up / "service" / "service.db") as db:
        idx, text = db.execute("SELECT idx, document FROM sc_entry WHERE kind = 'pledge' ORDER BY idx LIMIT 1").fetchone()
    data = httpx.get(world.system.service + "/v1/entries", params={"start": idx, "end": idx + 1}, timeout=10).json()["entries"][0]["data"]
    public = parse_supervision_entry(data.encode())
    assert SERVICE_DOCUMENTS.check_opening(data.encode(), text)["kind"] == "pledge"  # the true document opens it: the test can fail
    doc = json.loads(text)
    for guess in ("00" * 32, "ff" * 32, hashlib.sha256(b"guess").hexdigest()):
        guessed = canonical_json({**doc, "salt": guess}).decode()
        assert hashlib.sha256(guessed.encode()).hexdigest() != public.digest
        assert SERVICE_DOCUMENTS.commitment(public.digest, guess) != public.commitment
    assert public.lender_id == "GZ-SERVICE-PLATFORM" and public.record_type == "pledge"
    assert doc["terms"]["lender_id"] not in data and str(doc["terms"]["amount_fen"]) not in data and doc["registration_id"] not in data


def test_the_regulators_dashboard_links_the_five_views(world: ServiceWorld) -> None:
    with httpx.Client(base_url=world.system.url, timeout=10) as client:
        page = client.post("/regulator/login", data={"token": world.sv_token}, follow_redirects=True)
    assert page.status_code == 200 and 'id="five-views"' in page.text
    for url in (world.system.service + "/service/", world.system.risk + "/risk/", world.system.portal + "/web/"):
        assert f'href="{url}"' in page.text
    assert world.system.credit not in page.text  # the credit chain is off in this world: a view that is not running is not linked
    assert 'aria-current="page"' in page.text and "服务链" in page.text


def test_the_audit_covers_all_five_chains_and_names_a_changed_service_entry(world: ServiceWorld) -> None:
    """Run last in the module: it edits the service chain's database."""
    import os
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    def fc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=180,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "COLUMNS": "200"})

    certs = world.up / "certs"
    assert fc("judicial", "certs", "--certs", str(certs), "--client", "regulator.service-test").returncode == 0
    vkey = httpx.get(world.system.portal + "/v1/chain").json()["vkey"]
    args = ["audit", "--supervision", world.system.url, "--judicial", f"127.0.0.1:{world.system.jc_port}", "--certs", str(certs),
            "--cert-name", "regulator.service-test", "--judicial-vkey", vkey, "--risk", world.system.risk, "--service", world.system.service,
            "--json"]
    deadline = time.monotonic() + 60
    while True:  # the last entries may still be on their way to the judicial chain
        report = json.loads(fc(*args).stdout)
        if report["ok"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert report["ok"], report["findings"]
    assert report["service"]["entries"] >= 10 and report["service"]["chain"] == "service.fivechains.local/gz-service-platform"
    with sqlite3.connect(world.up / "service" / "service.db") as db:  # a clerk edits the first pledge entry directly
        idx = db.execute("SELECT min(idx) FROM sc_entry WHERE kind = 'pledge'").fetchone()[0]
        db.execute("UPDATE ledger_entry SET data = replace(data, 'pledge', 'pledgx') WHERE idx = ?", (idx,))
    report = json.loads(fc(*args).stdout)
    assert not report["ok"]
    named = [f for f in report["findings"] if f["chain"] == "service.fivechains.local/gz-service-platform"]
    assert named and named[0]["entry"] == idx
