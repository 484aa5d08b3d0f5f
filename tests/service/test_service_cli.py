"""`fivechains service …` against the running system (`fivechains up` with the service chain, tests/service/world.py):
the operator registers a funder (from its key file) and lists parties; a lender opens a pool, adds loans from a JSON
Lines file (one with a changed record: an exception), certifies it and writes its proofs; `verify-certificate` accepts
them and refuses a changed byte of the certificate or of a proof's leaf (exit 1); the pool is proposed, accepted with
--yes (refused without it when not at a terminal) and released; the court asks who holds the loans; the regulator
reads the overview; a missing token is a clear error. The CLI runs in this process (typer's runner). One system for the module."""

from __future__ import annotations

import copy
import json
import subprocess
import threading
from pathlib import Path

import pytest

from chain.keys import generate_keypair

from .world import ServiceWorld

ROOT = Path(__file__).resolve().parents[2]
_RUNNER_LOCK = threading.Lock()  # the runner swaps sys.stdout: one command at a time
TOKEN_ENVS = ("FIVECHAINS_SERVICE_TOKEN", "FIVECHAINS_SERVICE_OPERATOR_TOKEN", "FIVECHAINS_SERVICE_COURT_TOKEN")


def fc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real command, in this process (typer's runner: the same code without a second interpreter's start-up)."""
    from typer.testing import CliRunner

    from fivechains import output
    from fivechains.cli import app

    env = {k: None for k in TOKEN_ENVS}
    for c in (output.console, output.err_console):
        c.width = 200
    with _RUNNER_LOCK:
        result = CliRunner(env=env).invoke(app, list(args), input="", catch_exceptions=False)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def fc_all(*commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    return [fc(*args) for args in commands]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    w = ServiceWorld(tmp_path_factory.mktemp("service-cli"))
    yield w
    w.system.stop()


def signed(world: ServiceWorld, flag: str, who: str) -> list[str]:
    return [flag, who, "--key", str(world.key_files[who]), "--server", world.system.service]


def operator(world: ServiceWorld) -> list[str]:
    return ["--data-dir", str(world.up), "--server", world.system.service]


def test_the_group_lists_its_commands() -> None:
    shown, pool = (ok(r).stdout for r in fc_all(["service", "--help"], ["service", "pool", "--help"]))
    for command in ("pool", "party", "propose", "registrations", "accept", "release", "holders", "overview", "status", "verify-certificate"):
        assert command in shown
    assert all(c in pool for c in ("new", "add", "certify", "show", "proofs"))


def test_the_operator_adds_a_party_from_its_key_file_and_lists_them(world: ServiceWorld, tmp_path: Path) -> None:
    generate_keypair(tmp_path / "F003.key")
    generate_keypair(tmp_path / "B003.key")
    added, shown, wrong = fc_all(
        ["service", "party", "add", "F003", "--name", "资金方 Funder Three", "--kind", "funder", "--public-key", str(tmp_path / "F003.key.pub"),
         "--json", *operator(world)],
        # the private key file works too: its public half is registered
        ["service", "party", "add", "B003", "--name", "Buyer Three", "--kind", "buyer", "--public-key", str(tmp_path / "B003.key"), *operator(world)],
        ["service", "party", "add", "F004", "--name", "x", "--kind", "bank", "--public-key", str(tmp_path / "F003.key.pub"), *operator(world)])
    added = json.loads(ok(added).stdout)
    assert added["id"] == "F003" and added["index"] > 0 and added["key_type"] == "ed25519"
    assert "registered buyer B003" in ok(shown).stdout
    assert wrong.returncode == 2 and "--kind must be one of funder, buyer" in wrong.stderr
    listed, table, again = fc_all(
        ["service", "party", "list", "--json", *operator(world)],
        ["service", "party", "list", "--token-file", str(world.up / "service" / "operator.token"), "--server", world.system.service],
        ["service", "party", "add", "F003", "--name", "x", "--kind", "funder", "--public-key", str(tmp_path / "F003.key.pub"), *operator(world)])
    parties = {p["id"]: p for p in json.loads(ok(listed).stdout)["parties"]}
    assert {"F001", "F002", "B001", "F003", "B003"} <= set(parties) and parties["F003"]["kind"] == "funder" and parties["B003"]["enabled"]
    assert "Funder Three" in ok(table).stdout and "B003" in table.stdout
    assert again.returncode == 1 and "409" in again.stderr and "Traceback" not in again.stderr
    assert "disabled" in ok(fc("service", "party", "disable", "B003", *operator(world))).stdout
    parties = {p["id"]: p for p in json.loads(ok(fc("service", "party", "list", "--json", *operator(world))).stdout)["parties"]}
    assert parties["B003"]["enabled"] is False
    assert "enabled" in ok(fc("service", "party", "enable", "B003", *operator(world))).stdout


def test_a_missing_token_is_a_clear_error(world: ServiceWorld, tmp_path: Path) -> None:
    (tmp_path / "wrong.token").write_text("not-the-token\n")
    *missing, nowhere, refused = fc_all(
        *(["service", *args, "--server", world.system.service] for args in (("party", "list"), ("overview",), ("holders", "1"))),
        ["service", "overview", "--data-dir", str(tmp_path), "--server", world.system.service],
        ["service", "overview", "--token-file", str(tmp_path / "wrong.token"), "--server", world.system.service])
    for result in missing:
        assert result.returncode != 0 and "token is needed" in result.stderr and "Traceback" not in result.stderr
    assert nowhere.returncode != 0 and "no service chain in" in nowhere.stderr and "Traceback" not in nowhere.stderr
    assert refused.returncode == 1 and "refused: 401" in refused.stderr and "Traceback" not in refused.stderr


def test_pool_certificate_proofs_registration_and_holders(world: ServiceWorld, tmp_path: Path) -> None:
    loans = world.make_loans("L0001", "CLI", 4)
    changed = copy.deepcopy(loans[3].records)
    changed[2]["report"]["principal"] += 1  # the repayment record as the lender now shows it: not what it deposited
    lines = [loan.entry() for loan in loans[:2]]
    record_form = loans[2].entry()  # the JSON records themselves ("record"): converted to their RFC 8785 text before sending
    for entry, record in zip(record_form["records"], loans[2].records, strict=True):
        del entry["canonical"]
        entry["record"] = record
    lines += [record_form, loans[3].entry(records=changed)]
    loans_file = tmp_path / "loans.jsonl"
    loans_file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    bad_file = tmp_path / "bad.jsonl"
    bad_file.write_text(json.dumps(lines[0]) + "\n" + json.dumps({**lines[1], "claimed_outstanding_fen": "lots"}) + "\n" + json.dumps(lines[0]) + "\n")
    lender, funder = signed(world, "--lender", "L0001"), signed(world, "--party", "F001")

    pool_id = ok(fc("service", "pool", "new", "--purpose", "financing", "--offered-to", "F001", *lender)).stdout.strip()
    assert pool_id.startswith("P") and len(pool_id) == 21
    refused, added = fc_all(["service", "pool", "add", pool_id, str(bad_file), *lender], ["service", "pool", "add", pool_id, str(loans_file), *lender])
    assert refused.returncode == 2 and f"{bad_file} line 2" in refused.stderr and f"{bad_file} line 3" in refused.stderr
    assert "already on line 1" in refused.stderr and "nothing was sent" in refused.stderr
    shown = ok(added).stdout
    assert "added 4 loans" in shown and "eligible 合格 3" in shown and "exceptions 异常 1" in shown
    assert loans[3].loan_id in shown and "unknown-record" in shown and loans[0].loan_id not in shown
    pool, hidden = fc_all(["service", "pool", "show", pool_id, "--json", *funder], ["service", "pool", "show", pool_id, *signed(world, "--party", "F002")])
    pool = json.loads(ok(pool).stdout)
    assert (pool["loans"], pool["eligible"], pool["state"]) == (4, 3, "open")
    assert [e["loan_id"] for e in pool["exceptions"]] == [loans[3].loan_id]
    assert hidden.returncode == 1 and "404" in hidden.stderr

    cert_file, proofs_file = tmp_path / "pool.cert", tmp_path / "proofs.json"
    certified = ok(fc("service", "pool", "certify", pool_id, "--out", str(cert_file), *lender)).stdout
    with world.lender("L0001") as client:
        vkey = client.vkey()  # the service chain's key as the platform publishes it (out of band for a verifier)
    assert "certified" in certified and "eligible 3" in certified and vkey in certified
    assert cert_file.read_text().startswith("fivechains.service/pool-certificate/v1\n")
    wrote, one, missing = fc_all(
        ["service", "pool", "proofs", pool_id, "--out", str(proofs_file), *lender],
        ["service", "pool", "proofs", pool_id, "--loan", loans[1].loan_id, *funder],
        ["service", "pool", "proofs", pool_id, "--loan", "NO-SUCH-LOAN", "--out", str(tmp_path / "none.json"), *lender])
    assert "wrote 4 proofs" in ok(wrote).stdout
    proofs = json.loads(proofs_file.read_text())
    assert proofs["certificate"] == cert_file.read_text() and proofs["vkey"] == vkey and len(proofs["proofs"]) == 4
    assert [json.loads(p["leaf"])["loan_id"] for p in json.loads(ok(one).stdout)["proofs"]] == [loans[1].loan_id]
    assert missing.returncode == 1 and "NO-SUCH-LOAN" in missing.stderr

    (tmp_path / "vkey.txt").write_text(vkey + "\n")
    text = cert_file.read_text()
    at = text.index("eligible ") + len("eligible ")
    (tmp_path / "changed.cert").write_text(text[:at] + "4" + text[at + 1:])  # one byte: 3 eligible loans claimed as 4
    leaf = proofs["proofs"][1]["leaf"]
    at = leaf.index('"claimed_fen":') + len('"claimed_fen":')
    changed_proofs = copy.deepcopy(proofs)
    changed_proofs["proofs"][1]["leaf"] = leaf[:at] + ("9" if leaf[at] != "9" else "8") + leaf[at + 1:]  # one byte of a leaf
    (tmp_path / "changed-proofs.json").write_text(json.dumps(changed_proofs))
    (tmp_path / "one-proof.json").write_text(json.dumps(changed_proofs["proofs"][1]))
    verified, answer, keyless, bad_cert, bad_proof, bad_one = fc_all(
        ["service", "verify-certificate", str(cert_file), "--vkey", vkey, "--proofs", str(proofs_file)],
        ["service", "verify-certificate", str(cert_file), "--vkey-file", str(tmp_path / "vkey.txt"), "--proofs", str(proofs_file), "--json"],
        ["service", "verify-certificate", str(cert_file)],  # the key is never taken from the file checked
        ["service", "verify-certificate", str(tmp_path / "changed.cert"), "--vkey", vkey, "--proofs", str(proofs_file)],
        ["service", "verify-certificate", str(cert_file), "--vkey", vkey, "--proofs", str(tmp_path / "changed-proofs.json"), "--json"],
        ["service", "verify-certificate", str(proofs_file), "--vkey", vkey, "--proofs", str(tmp_path / "one-proof.json")])
    shown = ok(verified).stdout
    assert "OK" in shown and pool_id in shown and "L0001" in shown and "¥25,500.00" in shown and "4 loan proofs" in shown
    answer = json.loads(ok(answer).stdout)
    assert answer["ok"] and answer["certificate"]["eligible"] == 3 and answer["certificate"]["outstanding_fen"] == 3 * loans[0].outstanding
    assert answer["proofs_verified"] == 4 and [x["eligible"] for x in answer["loans"]] == [True, True, True, False]
    assert keyless.returncode == 2 and "--vkey" in keyless.stderr
    assert bad_cert.returncode == 1 and "FAILED" in bad_cert.stdout and "the certificate" in bad_cert.stdout and "not signed" in bad_cert.stdout
    answer = json.loads(bad_proof.stdout)
    assert bad_proof.returncode == 1 and not answer["ok"] and answer["proofs_verified"] == 3
    assert len(answer["problems"]) == 1 and answer["problems"][0].startswith(f"proof 2 (loan {loans[1].loan_id})")
    assert "does not reach the certificate's root" in answer["problems"][0]
    assert bad_one.returncode == 1 and "FAILED" in bad_one.stdout and f"proof 1 (loan {loans[1].loan_id})" in bad_one.stdout

    proposed = json.loads(ok(fc("service", "propose", pool_id, "--amount-fen", "2000000", "--term-months", "12", "--id", "R-CLI-1",
                                "--json", *lender)).stdout)
    assert proposed["state"] == "proposed" and proposed["party_id"] == "F001"
    listed, asked, not_yours = fc_all(
        ["service", "registrations", *funder],
        ["service", "accept", "R-CLI-1", *funder],  # no terminal to ask on: --yes is needed
        ["service", "accept", "R-CLI-1", "--yes", *signed(world, "--party", "F002")])
    assert "R-CLI-1" in ok(listed).stdout and "proposed" in listed.stdout
    assert asked.returncode != 0 and "--yes" in asked.stderr and "Traceback" not in asked.stderr
    assert not_yours.returncode == 1 and "no registration R-CLI-1" in not_yours.stderr
    accepted = ok(fc("service", "accept", "R-CLI-1", "--yes", *funder)).stdout  # still proposed: the refusals signed nothing
    assert "¥20,000.00" in accepted and "12 months" in accepted and "registered" in accepted

    court = ["--token-file", str(world.up / "service" / "court.token"), "--server", world.system.service]
    regulator = ["--data-dir", str(world.up), "--server", world.system.service]
    holders, table, overview, status = fc_all(
        ["service", "holders", str(loans[0].indexes[0]), str(loans[3].indexes[0]), "999999999", "--json", *court],
        ["service", "holders", str(loans[0].indexes[0]), *regulator],
        ["service", "overview", "--json", *regulator], ["service", "status", *regulator])
    holders = json.loads(ok(holders).stdout)
    by_index = {h["supervision_index"]: h for h in holders["holders"]}
    assert by_index[loans[0].indexes[0]]["pledged"] and by_index[loans[0].indexes[0]]["holder_id"] == "L0001"
    assert not by_index[loans[3].indexes[0]]["pledged"] and holders["unknown"] == [999999999]
    assert loans[0].loan_id in ok(table).stdout and "yes" in table.stdout
    overview = json.loads(ok(overview).stdout)
    assert overview["registrations"].get("pledge:registered", 0) >= 1 and overview["loans_pledged"] >= 3
    assert "feed" in ok(status).stdout

    assert "released" in ok(fc("service", "release", "R-CLI-1", *funder)).stdout
    again, holders = fc_all(["service", "release", "R-CLI-1", *funder], ["service", "holders", str(loans[0].indexes[0]), "--json", *court])
    assert again.returncode == 1 and "released" in again.stderr
    assert not json.loads(ok(holders).stdout)["holders"][0]["pledged"]
