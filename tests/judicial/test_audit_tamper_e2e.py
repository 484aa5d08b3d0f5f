"""The regulator's audit against both live services: rows changed, removed, inserted or
reordered in either database, or a block replaced or removed, are caught and named by chain,
block and entry; a forked judicial chain is refused by a witness and leaves a proof of
misbehaviour; a second audit checks only what is new."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chain.block import parse_block_header, seal_block
from chain.checkpoint import open_checkpoint
from chain.keys import load_or_create_signer
from chain.note import parse_note, parse_vkey
from supervision_chain.client import DepositItem, LenderClient

from .test_end_to_end import System, _register

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import WitnessServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SV_CHAIN = "supervision.fivechains.local/gz"
JC_CHAIN = "judicial.fivechains.local/gz-internet-court"


def _fc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def _deposit(system: System, key, batches: int, size: int, tag: int) -> None:
    with LenderClient(system.url, "L1", key) as client:
        for batch in range(batches):
            answer = client.deposit([DepositItem(f"{tag:08x}{batch:024x}{i:032x}", "repayment", f"loan-{i}", int(time.time() * 1000))
                                     for i in range(size)])
            client.wait_for([i["index"] for i in answer["items"]], "anchored", timeout=60)


class Auditor:
    def __init__(self, system: System, tmp: Path) -> None:
        certs = system.data_dir / "certs"
        assert _fc("judicial", "certs", "--certs", str(certs), "--client", "regulator.audit").returncode == 0
        self.vkey = httpx.get(system.portal + "/v1/chain").json()["vkey"]
        self.args = ["audit", "--supervision", system.url, "--judicial", f"127.0.0.1:{system.jc_port}", "--certs", str(certs),
                     "--cert-name", "regulator.audit", "--judicial-vkey", self.vkey, "--json"]
        self.tmp = tmp

    def run(self, *extra: str) -> tuple[int, dict]:
        done = _fc(*self.args, *extra)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One system with 60 anchored deposits (blocks of 20), audited clean before any tamper."""
    tmp = tmp_path_factory.mktemp("tamper")
    system = System(tmp / "fc").start()
    try:
        key = _register(system.data_dir)
        _deposit(system, key, 3, 20, tag=1)
        auditor = Auditor(system, tmp)
        code, report = auditor.run()
        assert code == 0 and report["ok"], report
        yield system, auditor
    finally:
        system.stop()


def _database(system: System, which: str) -> Path:
    return system.data_dir / which / f"{which}.db"


def _block_of(conn: sqlite3.Connection, index: int) -> int:
    return conn.execute("SELECT height FROM ledger_block WHERE tree_size > ? ORDER BY tree_size LIMIT 1", (index,)).fetchone()[0]


def _resign(conn: sqlite3.Connection, system: System, which: str, chain_id: str, height: int) -> None:
    """The operator rewrites a block with its own key (here: another time); the signature still verifies."""
    signer = load_or_create_signer(system.data_dir / which / "signer.key", chain_id)
    text = conn.execute("SELECT header FROM ledger_block WHERE height = ?", (height,)).fetchone()[0]
    header = parse_block_header(parse_note(text).text)
    forged = seal_block(dataclasses.replace(header, time_ms=header.time_ms + 1), signer).to_text()
    conn.execute("UPDATE ledger_block SET header = ? WHERE height = ?", (forged, height))


TAMPERS = {  # name → (SQL work on the connection, which entries the audit must name relative to k)
    "edit": (lambda c, k: c.execute("UPDATE ledger_entry SET data = CAST(CAST(data AS TEXT) || ' ' AS BLOB) WHERE idx = ?", (k,)), [0]),
    "delete": (lambda c, k: c.execute("DELETE FROM ledger_entry WHERE idx = ?", (k,)), [0]),
    # a forged copy goes in at k and the rest shift up; the last row goes, so no sealer sees a new entry to seal
    "insert": (lambda c, k: (c.execute("DELETE FROM ledger_entry WHERE idx = (SELECT max(idx) FROM ledger_entry)"),
                             c.execute("UPDATE ledger_entry SET idx = -idx - 1 WHERE idx >= ?", (k,)),
                             c.execute("UPDATE ledger_entry SET idx = -idx WHERE idx < 0"),
                             c.execute("INSERT INTO ledger_entry (idx, leaf_hash, data) SELECT ?, leaf_hash, data FROM ledger_entry WHERE idx = ?",
                                       (k, k - 3))), [0]),
    "reorder": (lambda c, k: (c.execute("UPDATE ledger_entry SET idx = -1 WHERE idx = ?", (k,)),
                              c.execute("UPDATE ledger_entry SET idx = ? WHERE idx = ?", (k, k + 1)),
                              c.execute("UPDATE ledger_entry SET idx = ? WHERE idx = -1", (k + 1,))), [0, 1]),
}


@pytest.mark.parametrize("which", ["supervision", "judicial"])
@pytest.mark.parametrize("tamper", ["edit", "delete", "insert", "reorder", "replace-block", "delete-block"])
def test_a_changed_database_is_caught_and_named(live, which: str, tamper: str) -> None:
    system, auditor = live
    chain_id = SV_CHAIN if which == "supervision" else JC_CHAIN
    path = _database(system, which)
    with sqlite3.connect(path) as conn:
        saved_entries = conn.execute("SELECT idx, leaf_hash, data FROM ledger_entry").fetchall()
        saved_blocks = conn.execute("SELECT height, tree_size, header FROM ledger_block").fetchall()
        k = 25
        block = _block_of(conn, k)
    try:
        with sqlite3.connect(path) as conn:
            if tamper == "replace-block":
                _resign(conn, system, which, chain_id, block)
            elif tamper == "delete-block":
                conn.execute("DELETE FROM ledger_block WHERE height = ?", (block,))
            else:
                TAMPERS[tamper][0](conn, k)
        code, report = auditor.run("--full")
        named = {(f["chain"], f["block"], f["entry"]) for f in report["findings"]}
        assert code == 1 and not report["ok"]
        if tamper in TAMPERS:
            for offset in TAMPERS[tamper][1]:
                assert (chain_id, block, k + offset) in named, report["findings"]
        else:
            assert (chain_id, block, None) in named, report["findings"]
    finally:
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM ledger_entry")
            conn.executemany("INSERT INTO ledger_entry (idx, leaf_hash, data) VALUES (?, ?, ?)", saved_entries)
            conn.execute("DELETE FROM ledger_block")
            conn.executemany("INSERT INTO ledger_block (height, tree_size, header) VALUES (?, ?, ?)", saved_blocks)
    code, report = auditor.run("--full")
    assert code == 0, report["findings"]  # put back: clean again


def test_second_audit_checks_only_what_is_new(tmp_path) -> None:
    system = System(tmp_path / "fc").start()
    try:
        key = _register(system.data_dir)
        _deposit(system, key, 2, 15, tag=2)
        auditor = Auditor(system, tmp_path)
        state = str(tmp_path / "state")
        code, first = auditor.run("--state", state)
        assert code == 0 and first["mode"] == "full" and first["supervision"]["checked_entries"] == 30
        _deposit(system, key, 1, 7, tag=3)
        code, second = auditor.run("--state", state)
        assert code == 0, second["findings"]
        assert second["mode"] == "incremental"
        assert second["supervision"]["checked_entries"] == 7 and second["judicial"]["checked_entries"] == 7
        assert second["supervision"]["entries"] == 37 and second["anchoring_lag_ms"]["blocks"] >= 1
        code, third = auditor.run("--state", state)
        assert code == 0 and third["supervision"]["checked_entries"] == 0
    finally:
        system.stop()


def test_a_forked_judicial_chain_is_refused_by_the_witness_and_proven(tmp_path) -> None:
    """The court's operator restores an old backup and carries on: same size, another history."""
    system = System(tmp_path / "fc").start()
    witness = None
    try:
        key = _register(system.data_dir)
        _deposit(system, key, 2, 10, tag=4)
        auditor = Auditor(system, tmp_path)  # its client certificate is in the backup too
        system.stop()
        shutil.copytree(system.data_dir, tmp_path / "backup")
        system.start()
        _deposit(system, key, 1, 10, tag=5)
        witness = WitnessServer(tmp_path / "witness.procuratorate.test", "witness.procuratorate.test", auditor.vkey).start()
        witness_url = witness.url
        honest = _judicial_checkpoint(system, auditor)
        assert httpx.post(witness_url + "/add-checkpoint", content=f"old 0\n\n{honest}".encode()).status_code == 200
        state = tmp_path / "state"
        code, report = auditor.run("--state", str(state))
        assert code == 0, report["findings"]

        system.stop()
        shutil.rmtree(system.data_dir)
        shutil.copytree(tmp_path / "backup", system.data_dir)
        system.start()
        _deposit(system, key, 1, 10, tag=6)  # another history of the same length
        forked = _judicial_checkpoint(system, auditor)
        verifier = parse_vkey(auditor.vkey)
        old, new = open_checkpoint(honest, verifier).checkpoint, open_checkpoint(forked, verifier).checkpoint
        assert old.size == new.size == 30 and old.root != new.root
        refused = httpx.post(witness_url + "/add-checkpoint", content=f"old 30\n\n{forked}".encode())
        assert refused.status_code == 422  # C2SP tlog-witness: same size, another root — the witness cosigned the other history

        code, report = auditor.run("--state", str(state))
        assert code == 1
        assert any(f["chain"] == JC_CHAIN and "two different signed checkpoints for size 30" in f["problem"] for f in report["findings"])
        proofs = list(state.glob("misbehaviour-judicial-*.json"))
        assert len(proofs) == 1
        evidence = json.loads(proofs[0].read_text())
        kept = [open_checkpoint(evidence[k], parse_vkey(evidence["verifier_key"])).checkpoint for k in ("earlier_checkpoint", "later_checkpoint")]
        assert kept[0].size == kept[1].size and kept[0].root != kept[1].root  # both signed by the court's key: the proof stands alone
        assert evidence["consistency_proof"] == {"old_size": 30, "new_size": 30, "hashes": []}
    finally:
        system.stop()
        if witness is not None:
            witness.stop()


def _judicial_checkpoint(system: System, auditor: Auditor) -> str:
    from proto import crosschain_pb2 as pb
    from proto import crosschain_pb2_grpc as pb_grpc
    from proto.channel import client_channel, client_stem

    with client_channel(f"127.0.0.1:{system.jc_port}", system.data_dir / "certs", client_stem("regulator.audit")) as channel:
        return pb_grpc.CrossChainStub(channel).GetCheckpoint(pb.GetCheckpointRequest(), timeout=30).note

