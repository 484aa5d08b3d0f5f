"""Role commands on a `fivechains up` directory, tokens kept off the command line, and a court's proof bundles.

Every command runs as a real `fivechains` process against a real `fivechains up` on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from judicial.test_end_to_end import System
from servers import ROOT

from chain_sql import open_store
from judicial_chain.portal.accounts import list_judges
from supervision_chain.registry import list_lenders
from supervision_chain.service import SupervisionConfig, open_supervision_store


def fc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("FIVECHAINS_TOKEN", "FIVECHAINS_REGULATOR_TOKEN")}
    return subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=180,
                          env={**clean, "PYTHONPATH": str(ROOT), **(env or {})})


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    s = System(tmp_path_factory.mktemp("up") / "fc").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lender_key(system: System, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lender registered with `regulator lender add --data-dir` given the `up` directory itself."""
    key = tmp_path_factory.mktemp("lender") / "lender.key"
    assert fc("keys", "generate", "--out", str(key)).returncode == 0
    added = fc("regulator", "lender", "add", "L1", "--name", "Lender One", "--licence", "GZ-1", "--pubkey", f"{key}.pub",
               "--data-dir", str(system.data_dir))
    assert added.returncode == 0, added.stderr
    return key


def test_lender_add_on_the_up_directory_registers_in_the_running_chain(system: System, lender_key: Path) -> None:
    store = open_supervision_store(SupervisionConfig(system.data_dir / "supervision"))
    try:
        assert [lender["id"] for lender in list_lenders(store.engine)] == ["L1"]
    finally:
        store.close()
    assert not (system.data_dir / "supervision.db").exists() and not (system.data_dir / "signer.key").exists()
    # the running chain knows the lender: it accepts its deposits
    records = lender_key.parent / "r.jsonl"
    records.write_text(json.dumps({"loan_id": "loan-1"}) + "\n")
    deposited = fc("lender", "deposit", str(records), "--server", system.url, "--lender", "L1", "--key", str(lender_key),
                   "--out", str(lender_key.parent / "receipts-1.json"))
    assert deposited.returncode == 0, deposited.stderr


def test_other_role_commands_on_the_up_directory(system: System) -> None:
    judge = fc("judicial", "judge", "add", "J1", "--name", "Judge One", "--data-dir", str(system.data_dir), "--json")
    assert judge.returncode == 0, judge.stderr
    store = open_store(system.data_dir / "judicial" / "judicial.db")
    try:
        assert [j["id"] for j in list_judges(store.engine)] == ["J1"]
    finally:
        store.close()
    assert not (system.data_dir / "judicial.db").exists()
    # a forgotten one-time password: a new one replaces it, and only the new one signs in
    from judicial_chain.portal.accounts import judge_by_password

    first = json.loads(judge.stdout)["password"]
    reset = fc("judicial", "judge", "reset-password", "J1", "--data-dir", str(system.data_dir), "--json")
    assert reset.returncode == 0, reset.stderr
    second = json.loads(reset.stdout)["password"]
    assert second != first and second not in reset.stderr
    store = open_store(system.data_dir / "judicial" / "judicial.db")
    try:
        assert judge_by_password(store.engine, "J1", first) is None
        signed_in = judge_by_password(store.engine, "J1", second)
        assert signed_in is not None and signed_in.judge_id == "J1" and signed_in.must_change_password
    finally:
        store.close()
    token = fc("regulator", "token", "--data-dir", str(system.data_dir))
    assert token.returncode == 0 and token.stdout.strip() == (system.data_dir / "supervision" / "regulator.token").read_text().strip()
    for chain in ("supervision", "judicial"):
        current = fc("db", "current", "--chain", chain, "--data-dir", str(system.data_dir), "--json")
        assert current.returncode == 0 and json.loads(current.stdout)["up_to_date"] is True, current.stderr


@pytest.mark.parametrize("command", [
    ["regulator", "lender", "add", "L9", "--name", "N", "--licence", "X", "--pubkey", "{key}"],
    ["regulator", "lender", "list"],
    ["regulator", "lender", "disable", "L9"],
    ["regulator", "token"],
    ["judicial", "judge", "add", "J9", "--name", "N"],
    ["judicial", "judge", "list"],
    ["judicial", "source", "add", "x.example/1", "--vkey", "x.example/1+00000000+AA"],
    ["db", "current", "--chain", "supervision"],
    ["db", "upgrade", "--chain", "judicial"],
    ["backup", "create", "--out", "{out}"],
    ["ledger", "seal"],
    ["ledger", "audit"],
], ids=lambda c: " ".join(c[:3]))
def test_a_directory_without_a_chain_is_refused_and_stays_empty(tmp_path: Path, command: list[str]) -> None:
    key = tmp_path / "keys" / "l.key"
    assert fc("keys", "generate", "--out", str(key)).returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [a.format(key=f"{key}.pub", out=tmp_path / "b.tar.gz") for a in command]
    refused = fc(*args, "--data-dir", str(empty))
    assert refused.returncode in (1, 2), refused.stdout
    assert "no " in refused.stderr and "chain" in refused.stderr and "Traceback" not in refused.stderr
    assert "fivechains up" in refused.stderr or "ledger init" in refused.stderr
    assert list(empty.iterdir()) == []
    missing = fc(*args, "--data-dir", str(tmp_path / "missing"))
    assert missing.returncode in (1, 2) and not (tmp_path / "missing").exists()


def test_the_token_warns_on_the_command_line_not_from_a_file_or_the_environment(system: System, lender_key: Path) -> None:
    token_file = system.data_dir / "supervision" / "regulator.token"
    token = token_file.read_text().strip()
    on_line = fc("regulator", "lender", "list", "--server", system.url, "--token", token, "--json")
    assert on_line.returncode == 0 and "warning" in on_line.stderr and "process list" in on_line.stderr
    assert "--token-file" in on_line.stderr and token not in on_line.stderr + on_line.stdout
    from_file = fc("regulator", "lender", "list", "--server", system.url, "--token-file", str(token_file), "--json")
    assert from_file.returncode == 0 and from_file.stderr == "" and [x["id"] for x in json.loads(from_file.stdout)] == ["L1"]
    from_env = fc("regulator", "lender", "list", "--server", system.url, "--json", env={"FIVECHAINS_REGULATOR_TOKEN": token})
    assert from_env.returncode == 0 and from_env.stderr == ""
    wrong = token_file.parent.parent.parent / "wrong.token"
    wrong.write_text("not-the-token\n")
    refused = fc("regulator", "lender", "list", "--server", system.url, "--token-file", str(wrong))
    assert refused.returncode == 2 and "401" in refused.stderr and "not-the-token" not in refused.stderr
    both = fc("regulator", "lender", "list", "--server", system.url, "--token-file", str(token_file), "--token", token)
    assert both.returncode == 2 and token not in both.stderr
    court = fc("court", "verify", str(wrong), "--portal", system.portal, "--token", "fcj_secret_value")
    assert "process list" in court.stderr and "fcj_secret_value" not in court.stderr


def test_court_verify_saves_each_verified_items_bundle(system: System, lender_key: Path, tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    (case / "contract.pdf").write_bytes(b"%PDF-1.7 loan contract 7")
    (case / "repayments.jsonl").write_text("".join(json.dumps({"loan_id": "loan-7", "instalment": i}) + "\n" for i in (1, 2)))
    receipts = case / "receipts.json"
    deposited = fc("lender", "deposit", str(case / "contract.pdf"), str(case / "repayments.jsonl"), "--server", system.url,
                   "--lender", "L1", "--key", str(lender_key), "--out", str(receipts), "--wait", "--timeout", "60")
    assert deposited.returncode == 0, deposited.stderr
    made = fc("judicial", "judge", "add", "J2", "--name", "Judge Two", "--data-dir", str(system.data_dir), "--json")
    judge_token = tmp_path / "judge.token"
    judge_token.write_text(json.loads(made.stdout)["token"])
    (case / "contract.pdf").write_bytes(b"%PDF-1.7 loan contract 7 (edited)")  # one item no longer verifies: no bundle for it
    bundles = tmp_path / "bundles"
    verified = fc("court", "verify", str(receipts), "--portal", system.portal, "--token-file", str(judge_token), "--json",
                  "--bundles", str(bundles))
    assert verified.returncode == 1, verified.stderr  # not every item verified
    items = json.loads(verified.stdout)["items"]
    assert [i["verdict"] for i in items].count("verified") == 2
    saved = sorted(p.name for p in bundles.iterdir())
    assert saved == sorted(Path(i["bundle_file"]).name for i in items if i["verdict"] == "verified") and len(saved) == 2
    for position, item in enumerate(items):
        if item["verdict"] == "verified":
            name = Path(item["bundle_file"]).name
            assert name.startswith(f"{position:04d}_{item['code']}_repayments.jsonl-line") and name.endswith(".tlog-proof")
        else:
            assert "bundle_file" not in item
    line = next(i for i in items if i["verdict"] == "verified")
    salt = next(r["salt"] for r in json.loads(receipts.read_text())["items"] if r.get("line") == line["line"])
    record = tmp_path / "record.json"
    record.write_text((case / "repayments.jsonl").read_text().splitlines()[line["line"] - 1])
    vkey = httpx.get(system.portal + "/v1/chain").json()["vkey"]
    checked = fc("verify-bundle", line["bundle_file"], "--pubkey", vkey, "--record", str(record), "--json-record", "--salt", salt, "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"] is True, checked.stdout + checked.stderr
    other = fc("verify-bundle", line["bundle_file"], "--pubkey", vkey, "--digest", "00" * 32)
    assert other.returncode == 1
    again = fc("court", "verify", str(receipts), "--portal", system.portal, "--token-file", str(judge_token), "--bundles", str(bundles))
    assert again.returncode == 2 and "not an empty directory" in again.stderr
