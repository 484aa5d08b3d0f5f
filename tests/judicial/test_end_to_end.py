"""Supervision → gRPC with mutual TLS → judicial chain → deposit codes back to the lender."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.keys import public_key_bytes
from evidence.deposit_codes import is_valid
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.registry import add_lender
from supervision_chain.service import SupervisionConfig, open_supervision_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import ROOT, free_port  # noqa: E402


class System:
    """`fivechains up` in a child process."""

    def __init__(self, data_dir: Path, *extra: str, credit: bool = False, service: bool = False) -> None:
        self.data_dir, self.extra = data_dir, extra  # extra: more `fivechains up` flags, e.g. --suite sm2
        # the credit and service chains anchor their keys and rules at start: off where judicial entries are counted
        self.with_credit, self.with_service = credit, service
        self.sv_port, self.jc_port, self.portal_port, self.risk_port = free_port(), free_port(), free_port(), free_port()
        self.credit_port, self.service_port = free_port(), free_port()
        self.service = f"http://127.0.0.1:{self.service_port}"
        self.risk = f"http://127.0.0.1:{self.risk_port}"
        self.credit = f"http://127.0.0.1:{self.credit_port}"
        self.portal = f"http://127.0.0.1:{self.portal_port}"
        self.url = f"http://127.0.0.1:{self.sv_port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> System:
        log = open(self.data_dir.parent / "up.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "up", "--data-dir", str(self.data_dir),
                                      "--supervision-port", str(self.sv_port), "--judicial-port", str(self.jc_port),
                                      "--portal-port", str(self.portal_port), "--risk-port", str(self.risk_port),
                                      "--credit-port", str(self.credit_port), "--service-port", str(self.service_port),
                                      "--seal-interval-ms", "100", *self.extra], stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONPATH": str(ROOT), **({} if self.with_credit else {"FIVECHAINS_CREDIT__ENABLED": "false"}),
                                          **({} if self.with_service else {"FIVECHAINS_SERVICE__ENABLED": "false"})})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "fivechains up exited; see up.log"
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("fivechains up did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def system(tmp_path: Path):
    s = System(tmp_path / "fc").start()
    yield s
    s.stop()


def _register(data_dir: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    store = open_supervision_store(SupervisionConfig(data_dir / "supervision"))
    try:
        add_lender(store.engine, "L1", "Lender One", "GZ-1", public_key_bytes(key.public_key()))
    finally:
        store.close()
    return key


def test_deposits_come_back_with_deposit_codes(system) -> None:
    key = _register(system.data_dir)
    with LenderClient(system.url, "L1", key) as client:
        answer = client.deposit([DepositItem(f"{i:064x}", "contract", f"loan-{i}", int(time.time() * 1000)) for i in range(5)])
        indexes = [i["index"] for i in answer["items"]]
        views = client.wait_for(indexes, "anchored", timeout=30)
    codes = [views[i]["deposit_code"] for i in indexes]
    assert all(views[i]["status"] == "anchored" for i in indexes)
    assert all(is_valid(c) for c in codes) and len(set(codes)) == 5


def test_lender_cli_waits_for_codes(system, tmp_path) -> None:
    import json

    key_file = tmp_path / "lender.key"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fc = lambda *a: subprocess.run([sys.executable, "-m", "fivechains.cli", *a], capture_output=True, text=True, env=env, timeout=120)  # noqa: E731
    assert fc("keys", "generate", "--out", str(key_file)).returncode == 0
    token = (system.data_dir / "supervision" / "regulator.token").read_text().strip()
    added = fc("regulator", "lender", "add", "L7", "--name", "Lender Seven", "--licence", "GZ-7", "--pubkey", f"{key_file}.pub",
               "--server", system.url, "--token", token)
    assert added.returncode == 0, added.stderr
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps({"loan_id": f"loan-{i}", "amount": i}) + "\n" for i in range(4)))
    out = tmp_path / "receipts.json"
    done = fc("lender", "deposit", str(records), "--server", system.url, "--lender", "L7", "--key", str(key_file),
              "--out", str(out), "--wait", "--timeout", "60")
    assert done.returncode == 0, done.stderr
    items = json.loads(out.read_text())["items"]
    assert len(items) == 4 and all(is_valid(i["deposit_code"]) and i["status"] == "anchored" for i in items)



def test_court_verifies_the_lenders_receipts(system, tmp_path) -> None:
    import json

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fc = lambda *a: subprocess.run([sys.executable, "-m", "fivechains.cli", *a], capture_output=True, text=True, env=env, timeout=180)  # noqa: E731
    key_file = tmp_path / "lender.key"
    fc("keys", "generate", "--out", str(key_file))
    token = (system.data_dir / "supervision" / "regulator.token").read_text().strip()
    assert fc("regulator", "lender", "add", "L8", "--name", "Lender Eight", "--licence", "GZ-8", "--pubkey", f"{key_file}.pub",
              "--server", system.url, "--token", token).returncode == 0
    case = tmp_path / "case"
    case.mkdir()
    (case / "contract.pdf").write_bytes(b"%PDF-1.7 loan contract 42")
    (case / "repayments.jsonl").write_text("".join(json.dumps({"loan_id": "loan-42", "instalment": i}) + "\n" for i in range(1, 4)))
    receipts = case / "receipts.json"
    deposited = fc("lender", "deposit", str(case / "contract.pdf"), str(case / "repayments.jsonl"), "--server", system.url,
                   "--lender", "L8", "--key", str(key_file), "--out", str(receipts), "--wait", "--timeout", "60")
    assert deposited.returncode == 0, deposited.stderr
    judge = json.loads(fc("judicial", "judge", "add", "J001", "--name", "Judge Chen", "--data-dir", str(system.data_dir / "judicial"), "--json").stdout)
    report = tmp_path / "report.html"
    ok = fc("court", "verify", str(receipts), "--portal", system.portal, "--token", judge["token"], "--case", "(2026)粤0192民初1号",
            "--json", "--report", str(report))
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert result["counts"]["verified"] == 4 and all(i["verdict"] == "verified" and i["lender_id"] == "L8" for i in result["items"])
    assert all(i["lender_name"] == "Lender Eight" for i in result["items"])
    assert "存证核验报告" in report.read_text() and "Evidence verification report" in report.read_text()
    # the evidence is changed after deposit: the court sees it, and nothing else about it
    (case / "contract.pdf").write_bytes(b"%PDF-1.7 loan contract 42 (edited)")
    changed = fc("court", "verify", str(receipts), "--portal", system.portal, "--token", judge["token"], "--json")
    assert changed.returncode == 1
    verdicts = {i.get("path", "").rsplit("/", 1)[-1] + str(i.get("line", "")): i for i in json.loads(changed.stdout)["items"]}
    tampered = verdicts["contract.pdf"]
    assert tampered["verdict"] == "tampered" and "lender_id" not in tampered and "digest" not in tampered
    refused = fc("court", "verify", str(receipts), "--portal", system.portal, "--token", "fcj_wrong", "--json")
    assert refused.returncode == 2 and "401" in refused.stderr
    listed = fc("judicial", "judge", "list", "--data-dir", str(system.data_dir / "judicial"), "--json")
    assert json.loads(listed.stdout)[0]["id"] == "J001"
    from chain_sql import open_store
    from judicial_chain.portal.accounts import verification_log

    store = open_store(system.data_dir / "judicial" / "judicial.db")
    try:
        log = verification_log(store.engine)
    finally:
        store.close()
    assert [(e["judge_id"], e["case_id"], e["items"]) for e in log] == [("J001", "(2026)粤0192民初1号", 4), ("J001", "unspecified", 4)]
    assert json.loads(log[1]["counts"])["tampered"] == 1


def test_judge_uses_the_web_page_in_a_real_browser(system, tmp_path) -> None:
    import json
    import shutil
    import zipfile

    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI: scripts/test should have installed Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fc = lambda *a: subprocess.run([sys.executable, "-m", "fivechains.cli", *a], capture_output=True, text=True, env=env, timeout=180)  # noqa: E731
    key_file = tmp_path / "lender.key"
    fc("keys", "generate", "--out", str(key_file))
    token = (system.data_dir / "supervision" / "regulator.token").read_text().strip()
    fc("regulator", "lender", "add", "L9", "--name", "Lender Nine", "--licence", "GZ-9", "--pubkey", f"{key_file}.pub", "--server", system.url, "--token", token)
    case = tmp_path / "case"
    case.mkdir()
    for n in range(3):
        (case / f"contract-{n}.pdf").write_bytes(f"%PDF-1.7 contract {n}".encode())
    deposited = fc("lender", "deposit", str(case), "--server", system.url, "--lender", "L9", "--key", str(key_file),
                   "--out", str(case / "receipts.json"), "--wait", "--timeout", "60")
    assert deposited.returncode == 0, deposited.stderr
    receipts = json.loads((case / "receipts.json").read_text())
    for item in receipts["items"]:
        item["path"] = Path(item["path"]).name  # paths inside the ZIP
    (case / "receipts.json").write_text(json.dumps(receipts))
    (case / "contract-2.pdf").write_bytes(b"%PDF-1.7 contract 2, edited")  # one item is tampered
    bundle = tmp_path / "case.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for f in case.iterdir():
            z.write(f, f.name)
    judge = json.loads(fc("judicial", "judge", "add", "J9", "--name", "Judge Lin", "--data-dir", str(system.data_dir / "judicial"), "--json").stdout)

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.goto(system.portal + "/web/login")
        assert "法官登录" in page.content() and "Judge sign-in" in page.content()
        page.fill("#judge_id", "J9")
        page.fill("#password", "wrong")
        page.click("#sign-in")
        assert "Wrong judge ID or password" in page.inner_text("#error")
        page.fill("#judge_id", "J9")
        page.fill("#password", judge["password"])
        page.click("#sign-in")
        # the one-time password must be replaced first
        assert page.url.endswith("/web/password")
        page.fill("#current", judge["password"])
        page.fill("#new", "a judge's own passphrase")
        page.fill("#confirm", "a judge's own passphrase")
        page.click("#change-password")
        page.fill("#case_id", "(2026)粤0192民初7号")
        page.set_input_files("#bundle", str(bundle))
        page.click("#verify")
        page.wait_for_selector("#results", state="visible", timeout=30_000)
        assert page.inner_text("#count-verified").endswith(": 2")
        assert page.inner_text("#count-tampered").endswith(": 1")
        page.click("th[data-key=verdict]")  # sortable
        verdicts = page.eval_on_selector_all("#results tbody tr td:nth-child(3)", "cells => cells.map(c => c.className)")
        assert verdicts == sorted(verdicts)
        page.screenshot(path=str(tmp_path / "portal.png"), full_page=True)
        report_url = page.get_attribute("#report-html", "href")
        page.goto(system.portal + report_url)
        report = page.content()
        assert "存证核验报告" in report and "(2026)粤0192民初7号" in report and "数据不一致 tampered" in report
        browser.close()
    shutil.copy(tmp_path / "portal.png", system.data_dir.parent / "portal-screenshot.png")


def test_portal_api_bundles_and_limits(system, tmp_path) -> None:
    import json

    from judicial_chain.verification import verify_bundle

    key = _register(system.data_dir)
    with LenderClient(system.url, "L1", key) as client:
        answer = client.deposit([DepositItem(f"{i:064x}", "contract", f"loan-{i}", int(time.time() * 1000)) for i in range(3)])
        views = client.wait_for([i["index"] for i in answer["items"]], "anchored", timeout=30)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    made = subprocess.run([sys.executable, "-m", "fivechains.cli", "judicial", "judge", "add", "J2", "--name", "Judge Wu",
                           "--data-dir", str(system.data_dir / "judicial"), "--json"], capture_output=True, text=True, env=env, timeout=60)
    auth = {"Authorization": "Bearer " + json.loads(made.stdout)["token"]}
    items = [{"code": views[i]["deposit_code"], "digest": f"{n:064x}"} for n, i in enumerate(sorted(views))]
    items.append({"code": "0000-0000-0000-00", "digest": "00" * 32})
    job = httpx.post(system.portal + "/v1/verifications", json={"case_id": "c1", "items": items}, headers=auth).json()["job_id"]
    for _ in range(100):
        view = httpx.get(f"{system.portal}/v1/verifications/{job}", headers=auth).json()
        if view["status"] == "done":
            break
        time.sleep(0.1)
    assert view["counts"]["verified"] == 3 and view["counts"]["unknown_code"] == 1
    bundle = httpx.get(f"{system.portal}/v1/verifications/{job}/items/1/bundle", headers=auth)
    vkey = httpx.get(system.portal + "/v1/chain").json()["vkey"]
    assert verify_bundle(bundle.text, vkey, f"{1:064x}")["source_index"] == sorted(views)[1]
    # the items' salts and loan ids stay on the supervision chain: in no judicial entry and no bundle
    with sqlite3.connect(system.data_dir / "judicial" / "judicial.db") as conn:
        judicial_entries = [bytes(row[0]).decode() for row in conn.execute("SELECT data FROM ledger_entry")]
    assert len(judicial_entries) >= 3
    for secret in [i["commitment_salt"] for i in answer["items"]] + [f'"loan-{i}"' for i in range(3)]:
        assert not any(secret in entry for entry in judicial_entries) and secret not in bundle.text
    assert httpx.get(f"{system.portal}/v1/verifications/{job}/items/3/bundle", headers=auth).status_code == 404
    # another judge cannot see this job; no token, no verification
    assert httpx.get(f"{system.portal}/v1/verifications/{job}").status_code == 401
    too_many = httpx.post(system.portal + "/v1/verifications", json={"case_id": "c2", "items": [{"code": "x"}] * 100_001}, headers=auth, timeout=60)
    assert too_many.status_code == 413 and too_many.headers["content-type"].startswith("application/problem+json")


def test_portal_api_takes_a_zip_case_bundle(system, tmp_path) -> None:
    import io
    import json
    import zipfile

    key = _register(system.data_dir)
    with LenderClient(system.url, "L1", key) as client:
        from supervision_chain.records import digest_bytes

        files = {"a.pdf": b"%PDF a", "b.pdf": b"%PDF b"}
        answer = client.deposit([DepositItem(digest_bytes(data), "contract", f"loan-{n}", int(time.time() * 1000)) for n, data in enumerate(files.values())])
        views = client.wait_for([i["index"] for i in answer["items"]], "anchored", timeout=30)
    manifest = {"items": [{"path": name, "code": views[item["index"]]["deposit_code"]} for name, item in zip(files, answer["items"])]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("manifest.json", json.dumps(manifest))
        z.writestr("a.pdf", files["a.pdf"])
        z.writestr("b.pdf", b"%PDF b, edited")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    made = subprocess.run([sys.executable, "-m", "fivechains.cli", "judicial", "judge", "add", "J3", "--name", "Judge He",
                           "--data-dir", str(system.data_dir / "judicial"), "--json"], capture_output=True, text=True, env=env, timeout=60)
    auth = {"Authorization": "Bearer " + json.loads(made.stdout)["token"]}
    submitted = httpx.post(system.portal + "/v1/verifications/bundle", data={"case_id": "zip-1"},
                           files={"bundle": ("case.zip", buffer.getvalue(), "application/zip")}, headers=auth)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()["job_id"]
    for _ in range(100):
        view = httpx.get(f"{system.portal}/v1/verifications/{job}", headers=auth).json()
        if view["status"] == "done":
            break
        time.sleep(0.1)
    assert {i["path"]: i["verdict"] for i in view["items"]} == {"a.pdf": "verified", "b.pdf": "tampered"}
    broken = httpx.post(system.portal + "/v1/verifications/bundle", data={"case_id": "zip-2"},
                        files={"bundle": ("case.zip", b"PK\x03\x04 not really", "application/zip")}, headers=auth)
    assert broken.status_code == 400 and broken.headers["content-type"].startswith("application/problem+json")  # a damaged ZIP


def test_audit_of_both_chains_and_a_tampered_row(system, tmp_path) -> None:
    import json
    import sqlite3

    key = _register(system.data_dir)
    with LenderClient(system.url, "L1", key) as client:
        for batch in range(3):
            answer = client.deposit([DepositItem(f"{batch:032x}{i:032x}", "repayment", f"loan-{i}", int(time.time() * 1000)) for i in range(20)])
            client.wait_for([i["index"] for i in answer["items"]], "anchored", timeout=30)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fc = lambda *a: subprocess.run([sys.executable, "-m", "fivechains.cli", *a], capture_output=True, text=True, env=env, timeout=180)  # noqa: E731
    certs = system.data_dir / "certs"
    assert fc("judicial", "certs", "--certs", str(certs), "--client", "regulator.audit").returncode == 0
    judicial_vkey = httpx.get(system.portal + "/v1/chain").json()["vkey"]
    state = tmp_path / "audit-state"
    args = ["audit", "--supervision", system.url, "--judicial", f"127.0.0.1:{system.jc_port}", "--certs", str(certs),
            "--cert-name", "regulator.audit", "--state", str(state), "--json"]
    first = fc(*args, "--judicial-vkey", judicial_vkey)
    assert first.returncode == 0, first.stdout + first.stderr
    report = json.loads(first.stdout)
    assert report["ok"] and report["supervision"]["entries"] == 60 and report["judicial"]["entries"] == 60
    again = fc(*args)  # keys and checkpoints now come from --state
    assert again.returncode == 0, again.stdout + again.stderr
    # the chain shows another history than the one seen last time: a fork, with its proof kept
    saved = json.loads((state / "state.json").read_text())
    forked = json.loads(json.dumps(saved))
    forked["checkpoints"]["supervision.fivechains.local/gz"]["root"] = "A" * 43 + "="
    (state / "state.json").write_text(json.dumps(forked))
    fork = fc(*args)
    assert fork.returncode == 1 and any("fork" in f["problem"] for f in json.loads(fork.stdout)["findings"])
    assert list(state.glob("misbehaviour-supervision-*.json"))
    (state / "state.json").write_text(json.dumps(saved))
    # a row edited directly in the supervision database: named by chain, block and entry
    with sqlite3.connect(system.data_dir / "supervision" / "supervision.db") as conn:
        conn.execute("UPDATE ledger_entry SET data = CAST(replace(CAST(data AS TEXT), 'repayment', 'collection') AS BLOB) WHERE idx = 25")
    broken = fc(*args, "--full")  # a later audit checks only what is new; --full reads every row again
    assert broken.returncode == 1
    findings = json.loads(broken.stdout)["findings"]
    assert {(f["chain"], f["block"], f["entry"]) for f in findings if f["entry"] is not None} == {("supervision.fivechains.local/gz", 1, 25)}, findings
    # and a row edited in the judicial database is named on the judicial chain
    with sqlite3.connect(system.data_dir / "supervision" / "supervision.db") as conn:
        conn.execute("UPDATE ledger_entry SET data = CAST(replace(CAST(data AS TEXT), 'collection', 'repayment') AS BLOB) WHERE idx = 25")
    assert fc(*args, "--full").returncode == 0  # put back: clean again
    with sqlite3.connect(system.data_dir / "judicial" / "judicial.db") as conn:
        conn.execute("UPDATE ledger_entry SET data = CAST(replace(CAST(data AS TEXT), '\"lender_id\":\"L1\"', '\"lender_id\":\"L2\"') AS BLOB) WHERE idx = 47")
    judicial_broken = json.loads(fc(*args, "--full").stdout)["findings"]
    assert ("judicial.fivechains.local/gz-internet-court", 2, 47) in {(f["chain"], f["block"], f["entry"]) for f in judicial_broken}, judicial_broken


def test_mirror_follows_verifies_and_can_be_audited(system, tmp_path) -> None:
    import json

    key = _register(system.data_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fc = lambda *a: subprocess.run([sys.executable, "-m", "fivechains.cli", *a], capture_output=True, text=True, env=env, timeout=180)  # noqa: E731
    certs = system.data_dir / "certs"
    assert fc("judicial", "certs", "--certs", str(certs), "--client", "notary.gz").returncode == 0
    vkey = httpx.get(system.portal + "/v1/chain").json()["vkey"]
    args = ["mirror", "--judicial", f"127.0.0.1:{system.jc_port}", "--data-dir", str(tmp_path / "mirror"), "--certs", str(certs),
            "--cert-name", "notary.gz", "--judicial-vkey", vkey, "--once", "--json"]
    with LenderClient(system.url, "L1", key) as client:
        for batch in range(2):
            answer = client.deposit([DepositItem(f"{batch:032x}{i:032x}", "repayment", f"loan-{i}", int(time.time() * 1000)) for i in range(7)])
            client.wait_for([i["index"] for i in answer["items"]], "anchored", timeout=30)
            run = fc(*args)
            assert run.returncode == 0, run.stderr
            assert json.loads(run.stdout)["tree_size"] == 7 * (batch + 1)
    audited = fc("ledger", "audit", "--data-dir", str(tmp_path / "mirror"), "--vkey", vkey, "--json")
    assert audited.returncode == 0, audited.stdout
    assert json.loads(audited.stdout)["entries"] == 14
