"""The risk-control chain in the running system (`fivechains up`): lenders deposit four months of records with
their reports on the supervision chain, the risk chain follows the feed and warns the lender drifting into
red; the warning is explained, recomputed bit for bit from the supervision data, answered by the lender's
key, closed by the regulator, anchored in the judicial chain and verified by the court by its code, and the
regulator's audit covers the risk chain and names a changed risk entry. One system for the module."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chain.keys import generate_keypair, load_private_key, public_key_bytes
from evidence.digests import digest_json
from risk_chain.scenario import history
from supervision_chain.client import DepositItem, LenderClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from judicial.test_end_to_end import System  # noqa: E402
from servers import ROOT  # noqa: E402

LENDERS = ("L0001", "L0002", "L0003")


def fc(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"})


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.system = System(root / "fc").start()
        try:
            self._set_up()
        except BaseException:
            self.system.stop()  # a failed set-up leaves no system running
            raise

    def _set_up(self) -> None:
        root = self.root
        self.up = self.system.data_dir
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.system.risk + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        self.token = (self.up / "risk" / "regulator.token").read_text().strip()
        sv_token = (self.up / "supervision" / "regulator.token").read_text().strip()
        self.keys: dict[str, Path] = {}
        for lender in LENDERS:
            key_file = root / f"{lender}.key"
            generate_keypair(key_file)
            self.keys[lender] = key_file
            public = base64.b64encode(public_key_bytes(load_private_key(key_file).public_key())).decode()
            added = httpx.post(self.system.url + "/v1/admin/lenders", headers={"Authorization": f"Bearer {sv_token}"},
                               json={"id": lender, "name": f"Lender {lender}", "licence": f"GZ-{lender}", "public_key": public})
            assert added.status_code == 201, added.text
        self.records = history(int(time.time() * 1000))
        self.first_index: dict[str, int] = {}
        for lender in LENDERS:  # each lender's history in one signed request (one block, one page of the feed)
            mine = [r for r in self.records if r.lender_id == lender]
            with LenderClient(self.system.url, lender, load_private_key(self.keys[lender])) as client:
                answer = client.deposit([DepositItem(digest_json(r.record()), r.record_type, r.loan_id, r.event_time_ms, report=r.report)
                                         for r in mine])
            self.first_index[lender] = answer["items"][0]["index"]
        self.warning_id = self._wait_for_warning()

    def regulator(self, path: str) -> httpx.Response:
        return httpx.get(self.system.risk + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def _wait_for_warning(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            warnings = self.regulator("/v1/warnings").json()["warnings"]
            if warnings:
                return warnings[0]["id"]
            time.sleep(0.2)
        raise AssertionError(f"no warning was raised: {self.regulator('/v1/status').json()}")

    def risk_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return fc("risk", *args, "--server", self.system.risk)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    made = World(tmp_path_factory.mktemp("risk-e2e"))
    yield made
    made.system.stop()


def test_only_the_drifting_lender_is_warned_and_the_warning_explains_itself(world: World) -> None:
    warnings = world.regulator("/v1/warnings").json()["warnings"]
    assert [(w["lender_id"], w["level"], w["state"]) for w in warnings] == [("L0003", "red", "opened")]
    shown = world.risk_cli("explain", world.warning_id, "--data-dir", str(world.up))
    assert shown.returncode == 0, shown.stderr
    assert "overdue_m1" in shown.stdout and "explanation" in shown.stdout
    view = json.loads(world.risk_cli("explain", world.warning_id, "--data-dir", str(world.up), "--json").stdout)
    e = view["explanation"]
    first, count = world.first_index["L0003"], sum(r.lender_id == "L0003" for r in world.records)
    entries = {i for line in e["lines"] for i in line["entries"]}
    assert entries and all(first <= i < first + count for i in entries)  # only this lender's deposits, by ledger index
    assert e["supervision"]["fed_up_to"] >= first + count and e["supervision"]["checkpoint"].startswith("supervision.fivechains.local/gz\n")


def test_the_warning_recomputes_bit_for_bit_from_the_supervision_data(world: World) -> None:
    done = world.risk_cli("recompute", world.warning_id, "--data-dir", str(world.up), "--supervision", world.system.url, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["agree"] and result["compared"] >= 5 * 12


def test_a_lender_sees_only_its_own_warnings(world: World) -> None:
    mine = world.risk_cli("mine", "--lender", "L0003", "--key", str(world.keys["L0003"]), "--json")
    assert [w["id"] for w in json.loads(mine.stdout)["warnings"]] == [world.warning_id]
    other = world.risk_cli("mine", "--lender", "L0001", "--key", str(world.keys["L0001"]), "--json")
    assert json.loads(other.stdout)["warnings"] == []
    peek = world.risk_cli("show", world.warning_id, "--lender", "L0001", "--key", str(world.keys["L0001"]))
    assert peek.returncode == 1 and "404" in peek.stdout + peek.stderr
    forged = world.risk_cli("mine", "--lender", "L0003", "--key", str(world.keys["L0001"]))
    assert forged.returncode == 1 and "401" in forged.stdout + forged.stderr
    unsigned = httpx.get(world.system.risk + "/v1/warnings")
    assert unsigned.status_code == 401 and unsigned.headers["content-type"].startswith("application/problem+json")


def test_the_lender_checks_the_entries_behind_its_warning(world: World) -> None:
    checked = world.risk_cli("proofs", world.warning_id, "--lender", "L0003", "--key", str(world.keys["L0003"]),
                             "--supervision", world.system.url, "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = json.loads(checked.stdout)
    assert result["ok"] and result["entries"] > 100


def test_the_closed_loop_answered_by_the_lender_and_closed_by_the_regulator(world: World) -> None:
    wid, up = world.warning_id, str(world.up)
    early = world.risk_cli("answer", wid, "--lender", "L0003", "--key", str(world.keys["L0003"]), "--text", "not yet asked")
    assert early.returncode == 1 and "409" in early.stdout + early.stderr
    assert world.risk_cli("assign", wid, "--to", "REG-002", "--data-dir", up).returncode == 0
    other = world.risk_cli("answer", wid, "--lender", "L0001", "--key", str(world.keys["L0001"]), "--text", "not ours")
    assert other.returncode == 1 and "404" in other.stdout + other.stderr
    evidence = world.root / "remediation-plan.pdf"
    evidence.write_bytes(b"%PDF-1.7 repricing and collection plan")
    answered = world.risk_cli("answer", wid, "--lender", "L0003", "--key", str(world.keys["L0003"]), "--text",
                              "已整改：利率下调至上限以内，催收频次降低。Rates repriced under the cap; collection reduced.",
                              "--attach", str(evidence), "--json")
    assert answered.returncode == 0, answered.stdout + answered.stderr
    assert json.loads(answered.stdout)["state"] == "answered"
    assert world.risk_cli("close", wid, "--note", "no review yet", "--data-dir", up).returncode == 1  # must be reviewed first
    assert world.risk_cli("review", wid, "--finding", "accepted", "--data-dir", up).returncode == 0
    closed = world.risk_cli("close", wid, "--note", "remediation accepted", "--data-dir", up, "--json")
    assert closed.returncode == 0 and json.loads(closed.stdout)["state"] == "closed"
    steps = json.loads(closed.stdout)["steps"]
    assert [s["step"] for s in steps] == ["open", "assign", "answer", "review", "close"]
    assert steps[2]["document"]["actor"] == "L0003" and steps[2]["document"]["body"]["attachments"][0]["name"] == "remediation-plan.pdf"


def test_the_court_verifies_the_warning_by_its_deposit_code(world: World) -> None:
    wid = world.warning_id
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the risk chain seals and anchors the step entries like the supervision chain
        view = world.regulator(f"/v1/warnings/{wid}").json()
        if view["steps"][0]["deposit_code"]:
            break
        time.sleep(0.2)
    code = view["steps"][0]["deposit_code"]
    assert code, "the warning's entry never got a deposit code"
    case = world.root / "case"
    case.mkdir()
    saved = world.risk_cli("document", wid, "0", "--out", str(case / "warning.json"), "--data-dir", str(world.up))
    assert saved.returncode == 0, saved.stderr
    (case / "manifest.json").write_text(json.dumps({"items": [{"path": "warning.json", "line": 1, "deposit_code": code}]}))
    tampered = json.loads((case / "warning.json").read_text())
    tampered["body"]["explanation"]["risk_index"] = 20
    (case / "edited.json").write_text(json.dumps(tampered) + "\n")
    manifest = {"items": [{"path": "warning.json", "line": 1, "deposit_code": code}, {"path": "edited.json", "line": 1, "deposit_code": code}]}
    (case / "manifest.json").write_text(json.dumps(manifest))
    judge = json.loads(fc("judicial", "judge", "add", "J-RISK", "--name", "Judge Risk", "--data-dir", str(world.up / "judicial"), "--json").stdout)
    verified = fc("court", "verify", str(case / "manifest.json"), "--portal", world.system.portal, "--token", judge["token"],
                  "--case", "(2026)粤0192行初7号", "--json")
    assert verified.returncode in (0, 1), verified.stderr
    items = json.loads(verified.stdout)["items"]
    assert [i["verdict"] for i in items] == ["verified", "tampered"]
    assert items[0]["supervision_chain"] == "risk.fivechains.local/gz-risk-centre" and items[0]["lender_id"] == "GZ-RISK-CENTRE"


def test_the_audit_covers_the_risk_chain_and_names_a_changed_risk_entry(world: World) -> None:
    certs = world.up / "certs"
    assert fc("judicial", "certs", "--certs", str(certs), "--client", "regulator.risk-test").returncode == 0
    vkey = httpx.get(world.system.portal + "/v1/chain").json()["vkey"]
    args = ["audit", "--supervision", world.system.url, "--judicial", f"127.0.0.1:{world.system.jc_port}", "--certs", str(certs),
            "--cert-name", "regulator.risk-test", "--judicial-vkey", vkey, "--risk", world.system.risk, "--json"]
    deadline = time.monotonic() + 60
    while True:  # the last steps' entries may still be on their way to the judicial chain
        report = json.loads(fc(*args).stdout)
        if report["ok"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert report["ok"], report["findings"]
    assert report["risk"]["entries"] >= 5 and report["risk"]["chain"] == "risk.fivechains.local/gz-risk-centre"
    with sqlite3.connect(world.up / "risk" / "risk.db") as db:  # a regulator's clerk edits a step entry directly
        db.execute("UPDATE ledger_entry SET data = replace(data, 'closure', 'review') WHERE idx = 4")
    report = json.loads(fc(*args).stdout)
    assert not report["ok"]
    named = [f for f in report["findings"] if f["chain"] == "risk.fivechains.local/gz-risk-centre"]
    assert named and named[0]["entry"] == 4


def test_evidence_failing_at_court_counts_against_its_lender(world: World) -> None:
    """A record of L0003 judged tampered by the court becomes a court failure in L0003's figures."""
    record = next(r for r in world.records if r.lender_id == "L0003" and r.record_type == "contract")
    index = world.first_index["L0003"] + [r for r in world.records if r.lender_id == "L0003"].index(record)
    with LenderClient(world.system.url, "L0003", load_private_key(world.keys["L0003"])) as client:
        code = client.wait_for([index], "anchored", timeout=60)[index]["deposit_code"]
    case = world.root / "failing-case"
    case.mkdir()
    edited = dict(record.record(), principal=1)  # the lender's file, edited after the deposit
    (case / "contract.json").write_text(json.dumps(edited) + "\n")
    (case / "manifest.json").write_text(json.dumps({"items": [{"path": "contract.json", "line": 1, "deposit_code": code}]}))
    judge = json.loads(fc("judicial", "judge", "add", "J-FAIL", "--name", "Judge Fail", "--data-dir", str(world.up / "judicial"), "--json").stdout)
    verified = fc("court", "verify", str(case / "manifest.json"), "--portal", world.system.portal, "--token", judge["token"],
                  "--case", "(2026)粤0192民初9号", "--json")
    assert [i["verdict"] for i in json.loads(verified.stdout)["items"]] == ["tampered"]
    refused = httpx.get(world.system.portal + "/v1/outcomes/failures", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        days = world.regulator("/v1/lenders/L0003/series").json()["days"]
        if days and days[-1]["values"]["court_failures"] == 1:
            break
        time.sleep(0.5)
    assert days[-1]["values"]["court_failures"] == 1
    assert all(d["values"]["court_failures"] == 0 for d in world.regulator("/v1/lenders/L0001/series").json()["days"])
