"""`fivechains credit …` against the running system (`fivechains up`, tests/credit/world.py): a lender computes the
applicant's pseudonym and checks them with their consent (refused with another lender's key); the bureau's operator
prints the applicant's report, which `verify-report` accepts and refuses once a byte or an entry is changed; a lender
deposits a consent naming the borrower by ID number (`lender deposit --bureau`) and checks with its code; a dispute is
filed, seen and answered; the regulator reads the evaluations. The CLI runs as a subprocess. One system for the module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.borrower_ids import check_character_enterprise
from evidence.digests import digest_json
from supervision_chain.client import LenderClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import ROOT  # noqa: E402
from world import APPLICANT, PURPOSE, CreditWorld, consent  # noqa: E402

WRONG_CHECK = APPLICANT[:-1] + "3"  # the check character of 11010519491231002 is X


def fc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    made = CreditWorld(tmp_path_factory.mktemp("credit-cli"))
    made.wait_for_feed()
    yield made
    made.system.stop()


def lender_args(world: CreditWorld, lender: str) -> list[str]:
    return ["--lender", lender, "--key", str(world.key_files[lender]), "--server", world.system.credit]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_pseudonym_of_the_id_is_the_applicants(world: CreditWorld, tmp_path: Path) -> None:
    answer = json.loads(ok(fc("credit", "pseudonym", APPLICANT, "--json", *lender_args(world, "L0004"))).stdout)
    assert answer["pseudonyms"] == [world.applicant]
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{APPLICANT.lower()}\n\n{APPLICANT}\n")  # lowercase x is the same person
    shown = ok(fc("credit", "pseudonym", "--file", str(ids), *lender_args(world, "L0004"))).stdout
    assert shown.count(world.applicant) == 2 and APPLICANT not in shown  # the identifier itself is masked


def test_a_wrong_check_character_is_named_and_nothing_is_sent(world: CreditWorld) -> None:
    result = fc("credit", "pseudonym", WRONG_CHECK, *lender_args(world, "L0004"))
    assert result.returncode != 0 and "check character should be X, not 3" in result.stderr
    assert WRONG_CHECK not in result.stderr and "Traceback" not in result.stderr


def test_check_with_the_consent_shows_the_flag_and_another_lenders_key_is_refused(world: CreditWorld) -> None:
    table = ok(fc("credit", "check", APPLICANT, "--consent", world.consent_code, "--purpose", PURPOSE, *lender_args(world, "L0004"))).stdout
    assert "multi-head flag" in table and "YES" in table and "¥60,000.00" in table and "query receipt" in table
    answer = json.loads(ok(fc("credit", "check", world.applicant, "--consent", world.consent_code, "--purpose", PURPOSE, "--json",
                              *lender_args(world, "L0004"))).stdout)
    assert answer["multi_head"]["flag"] is True and answer["other_lenders_with_open_loans"] == 3 and answer["query"]["index"] > 0
    refused = fc("credit", "check", world.applicant, "--consent", world.consent_code, "--purpose", PURPOSE, *lender_args(world, "L0001"))
    assert refused.returncode == 1 and "refused (403)" in refused.stderr and "not deposited by you" in refused.stderr


def test_the_report_lists_loans_and_queries_and_verifies_until_changed(world: CreditWorld, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    shown = ok(fc("credit", "report", "--id", APPLICANT, "--data-dir", str(world.up), "--server", world.system.credit,
                  "--out", str(out))).stdout
    assert all(f"LOAN-{lender}-1" in shown for lender in ("L0001", "L0002", "L0003"))
    assert "L0004" in shown and PURPOSE in shown and world.consent_code.replace("-", "") in shown and "verified" in shown
    report = json.loads(out.read_text())
    assert len(report["loans"]) == 3 and report["queries"] and report["borrower"] == world.applicant
    assert "verified" in ok(fc("credit", "verify-report", str(out), "--server", world.system.credit)).stdout
    assert json.loads(ok(fc("credit", "verify-report", str(out), "--vkey", report["vkey"], "--json")).stdout)["ok"] is True

    changed = json.loads(out.read_text())
    doc = changed["entries"][0]["document"]
    changed["entries"][0]["document"] = doc.replace('"subject_seq":1', '"subject_seq":2')  # one byte
    assert changed["entries"][0]["document"] != doc
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    refused = fc("credit", "verify-report", str(tmp_path / "changed.json"), "--server", world.system.credit)
    assert refused.returncode == 1 and "does not verify" in refused.stdout and "digest" in refused.stdout

    removed = json.loads(out.read_text())
    del removed["entries"][1]
    (tmp_path / "removed.json").write_text(json.dumps(removed))
    problems = json.loads(fc("credit", "verify-report", str(tmp_path / "removed.json"), "--json").stdout)["problems"]
    assert any("1.." in p for p in problems) and any("report entry says" in p for p in problems)


def test_lender_deposit_with_the_bureau_deposits_the_pseudonym(world: CreditWorld, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good_line = {"record_type": "consent", "loan_id": "APP-L0003-CLI", "report": consent(APPLICANT)}
    bad.write_text(json.dumps(good_line) + "\n" + json.dumps({**good_line, "report": consent(WRONG_CHECK)}) + "\n")
    deposit = ["lender", "deposit", "--server", world.system.url, "--lender", "L0003", "--key", str(world.key_files["L0003"]),
               "--bureau", world.system.credit]
    refused = fc(*deposit, str(bad), "--out", str(tmp_path / "bad-receipts.json"))
    assert refused.returncode != 0 and f"{bad} line 2" in refused.stderr and "check character" in refused.stderr
    assert not (tmp_path / "bad-receipts.json").exists()

    records = tmp_path / "consents.jsonl"
    records.write_text(json.dumps(good_line) + "\n")
    code17 = "91440101MA5CYK8B0"  # a unified social credit code, in a CSV row
    table = tmp_path / "consents.csv"
    table.write_text("record_type,loan_id,event_time_ms,borrower,purpose,valid_from,valid_to\n"
                     f"consent,APP-L0003-CSV,1700000000000,{code17 + check_character_enterprise(code17)},{PURPOSE},2020-01-01,2099-12-31\n")
    receipts = tmp_path / "receipts.json"
    ok(fc(*deposit, str(records), str(table), "--out", str(receipts), "--json"))
    items = json.loads(receipts.read_text())["items"]
    assert items[0]["report"]["borrower"] == world.applicant and len(items[1]["report"]["borrower"]) == 64
    assert APPLICANT not in receipts.read_text()
    assert items[0]["digest"] == digest_json(good_line, items[0]["salt"])  # the lender's own line is still the evidence
    with LenderClient(world.system.url, "L0003", world.keys["L0003"]) as client:
        code = client.wait_for([items[0]["index"]])[items[0]["index"]]["deposit_code"]
    answer = json.loads(ok(fc("credit", "check", APPLICANT, "--consent", code, "--purpose", PURPOSE, "--json",
                              *lender_args(world, "L0003"))).stdout)
    assert answer["borrower"] == world.applicant and answer["other_lenders_with_open_loans"] == 2


def test_a_dispute_is_filed_seen_and_answered(world: CreditWorld) -> None:
    filed = json.loads(ok(fc("credit", "dispute", APPLICANT, "--target", "loan", "--lender-id", "L0001", "--ref", "LOAN-L0001-1",
                             "--reason", "我已还清 I repaid this loan", "--data-dir", str(world.up), "--server", world.system.credit,
                             "--json")).stdout)
    mine = ok(fc("credit", "disputes", *lender_args(world, "L0001"))).stdout
    assert filed["id"] in mine and "I repaid this loan" in mine
    answered = ok(fc("credit", "answer", filed["id"], "--outcome", "upheld", "--reasons", "the repayment was not received",
                     *lender_args(world, "L0001"))).stdout
    assert "answered upheld" in answered
    rows = json.loads(ok(fc("credit", "disputes", "--json", *lender_args(world, "L0001"))).stdout)["disputes"]
    assert [(d["id"], d["state"], d["outcome"]) for d in rows] == [(filed["id"], "answered", "upheld")]
    assert fc("credit", "answer", filed["id"], "--outcome", "maybe", "--reasons", "x", *lender_args(world, "L0001")).returncode == 2


def test_the_regulator_sees_the_evaluations_and_shares(world: CreditWorld) -> None:
    shown = ok(fc("credit", "evaluations", "--data-dir", str(world.up), "--server", world.system.credit)).stdout
    assert "L0004" in shown
    rows = json.loads(ok(fc("credit", "evaluations", "--json", "--token-file", str(world.up / "credit" / "regulator.token"),
                            "--server", world.system.credit)).stdout)["lenders"]
    assert {r["lender_id"]: r for r in rows}["L0004"]["evaluations"] >= 3
    shares = json.loads(ok(fc("credit", "shares", "--json", "--data-dir", str(world.up), "--server", world.system.credit)).stdout)
    assert {r["lender_id"] for r in shares["lenders"]} >= {"L0001", "L0002", "L0003"}
