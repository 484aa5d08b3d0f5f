"""`fivechains backup`: a running system backed up while deposits keep coming, restored, audited and served;
a tampered archive caught with the entry named; a SQLite chain moved to PostgreSQL and served from there."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from base64 import b64decode
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url

from chain.checkpoint import open_checkpoint
from chain.keys import public_key_bytes
from chain.merkle import verify_inclusion
from chain.note import parse_vkey
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.registry import add_lender
from supervision_chain.service import SupervisionConfig, open_supervision_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import _pg_admin_url  # noqa: E402  (skips without the test cluster, fails in CI)
from judicial.test_end_to_end import System, _register  # noqa: E402
from servers import ROOT, SupervisionServer, fresh_database  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def fc(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, env=ENV, timeout=timeout)


def said(text: str) -> str:
    """Text output with rich's line wrapping undone."""
    return " ".join(text.split())


def items(n: int, start: int = 0) -> list[DepositItem]:
    now = int(time.time() * 1000)
    return [DepositItem(f"{start + i:064x}", "repayment", f"loan-{start + i}", now - 1000) for i in range(n)]


def until_sealed(client: LenderClient, indexes: list[int], timeout: float = 60) -> dict[int, dict]:
    """Poll without long-polling: with no judicial chain linked, a long-poll on a sealed deposit waits for an anchor."""
    deadline = time.monotonic() + timeout
    while True:
        views = {i: client.status(i) for i in indexes}
        if all(v["status"] != "pending" for v in views.values()) or time.monotonic() > deadline:
            return views
        time.sleep(0.1)


class Depositor(threading.Thread):
    """A lender that keeps depositing until stopped (the backup must not stop it)."""

    def __init__(self, url: str, key: Ed25519PrivateKey) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.stopping = threading.Event()
        self.accepted = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with LenderClient(self.url, "L1", self.key) as client:
                batch = 0
                while not self.stopping.is_set():
                    self.accepted += len(client.deposit(items(50, 1_000_000 + batch * 50))["items"])
                    batch += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def finish(self) -> int:
        self.stopping.set()
        self.join(timeout=60)
        assert self.error is None, self.error
        return self.accepted


def _verify_view(view: dict, vkey: str) -> None:
    """A deposit's status carries an inclusion proof against a signed checkpoint that checks out."""
    signed = open_checkpoint(view["checkpoint"], parse_vkey(vkey))
    proof = [b64decode(h) for h in view["inclusion_proof"]]
    assert verify_inclusion(b64decode(view["leaf_hash"]), view["index"], view["tree_size"], proof, signed.checkpoint.root)


def _tampered_copy(archive: Path, out: Path, db_name: str, index: int) -> None:
    """The archive with one byte of one ledger entry changed (the manifest left as it was)."""
    work = out.parent / "tamper"
    with tarfile.open(archive) as tar:
        tar.extractall(work)
        names = tar.getnames()
    conn = sqlite3.connect(work / db_name)
    data = bytearray(conn.execute("SELECT data FROM ledger_entry WHERE idx = ?", (index,)).fetchone()[0])
    data[10] ^= 0x01
    with conn:
        conn.execute("UPDATE ledger_entry SET data = ? WHERE idx = ?", (bytes(data), index))
    conn.close()
    with tarfile.open(out, "w:gz") as tar:
        for name in names:
            tar.add(work / name, arcname=name)


def test_backup_of_a_running_system_restores_audits_and_serves(tmp_path: Path) -> None:
    system = System(tmp_path / "fc").start()
    try:
        key = _register(system.data_dir)
        with LenderClient(system.url, "L1", key) as client:
            first = [i["index"] for i in client.deposit(items(20))["items"]]
            before = client.wait_for(first, "anchored", timeout=60)
        depositor = Depositor(system.url, key)
        depositor.start()
        time.sleep(0.5)
        archives = {}
        for name, where in (("judicial", "judicial"), ("supervision", "supervision"), ("all", "")):
            archives[name] = tmp_path / f"{name}.tar.gz"
            made = fc("backup", "create", "--data-dir", str(system.data_dir / where), "--out", str(archives[name]), "--json")
            assert made.returncode == 0, made.stderr
            assert oct(archives[name].stat().st_mode & 0o777) == oct(0o600)
        accepted = depositor.finish()
        assert accepted > 0  # deposits went on while the backups were taken
    finally:
        system.stop()

    manifest = _manifest(archives["supervision"])
    [sv] = [m for m in manifest["members"] if m["kind"] == "sqlite"]
    assert sv["role"] == "supervision" and sv["chain_id"] == "supervision.fivechains.local/gz" and sv["size"] >= 20
    assert sv["latest_checkpoint"].startswith("supervision.fivechains.local/gz\n")
    modes = {m["path"]: m["mode"] for m in manifest["members"]}
    assert modes["signer.key"] == "0600" and modes["regulator.token"] == "0600"

    # restore each chain into a new directory: every ledger audits clean
    restored = tmp_path / "restored"
    for name in ("judicial", "supervision"):
        done = fc("backup", "restore", str(archives[name]), "--data-dir", str(restored / name), "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert result["ok"] and [r["audit"]["ok"] for r in result["ledgers"]] == [True]
    assert (restored / "supervision" / "signer.key").stat().st_mode & 0o777 == 0o600
    assert (restored / "supervision" / "regulator.token").stat().st_mode & 0o777 == 0o600
    assert (restored / "supervision" / "supervision.db").stat().st_mode & 0o777 == 0o600
    again = fc("backup", "restore", str(archives["supervision"]), "--data-dir", str(restored / "supervision"))
    assert again.returncode == 2 and "not empty" in said(again.stderr)
    assert fc("ledger", "audit", "--data-dir", str(restored / "judicial"), "--db", f"sqlite:///{restored / 'judicial' / 'judicial.db'}").returncode == 0

    # the restored supervision chain serves: the deposits, their codes and proofs are there
    server = SupervisionServer(restored / "supervision").start()
    try:
        chain = json.loads(httpx.get(server.url + "/v1/chain").text)
        with LenderClient(server.url, "L1", key) as client:
            for index in first:
                view = client.status(index)
                assert view["status"] == "anchored" and view["deposit_code"] == before[index]["deposit_code"]
                assert view["digest"] == before[index]["digest"]
                _verify_view(view, chain["vkey"])
            more = client.deposit(items(3, 500))["items"]
            assert more[0]["index"] == sv["size"]  # the next index after what the snapshot held
    finally:
        server.stop()

    # a tampered archive: verify names the changed entry
    assert fc("backup", "verify", str(archives["supervision"])).returncode == 0
    bad = tmp_path / "bad" / "supervision.tar.gz"
    bad.parent.mkdir()
    _tampered_copy(archives["supervision"], bad, "supervision.db", first[3])
    checked = fc("backup", "verify", str(bad), "--json")
    assert checked.returncode == 1
    report = json.loads(checked.stdout)
    assert not report["ok"] and any("supervision.db" in p for p in report["archive_problems"])
    findings = report["ledgers"][0]["audit"]["findings"]
    assert findings and {f["entry"] for f in findings} == {first[3]}
    text = fc("backup", "verify", str(bad))
    assert text.returncode == 1 and f"entry {first[3]}:" in said(text.stdout)


def test_a_whole_system_archive_restores_and_runs_again(tmp_path: Path) -> None:
    """One archive of `fivechains up`'s directory, taken under load: restored, the system starts on it
    and anchors new deposits (the outbox is never ahead of the judicial snapshot)."""
    system = System(tmp_path / "fc", credit=True, service=True).start()
    try:
        key = _register(system.data_dir)
        depositor = Depositor(system.url, key)
        depositor.start()
        time.sleep(1.0)
        made = fc("backup", "create", "--data-dir", str(system.data_dir), "--out", str(tmp_path / "all.tar.gz"))
        assert made.returncode == 0, made.stderr
        depositor.finish()
    finally:
        system.stop()
    done = fc("backup", "restore", str(tmp_path / "all.tar.gz"), "--data-dir", str(tmp_path / "again" / "fc"), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {r["role"] for r in json.loads(done.stdout)["ledgers"]} == {"supervision", "judicial", "risk", "credit", "service"}
    again = System(tmp_path / "again" / "fc", credit=True, service=True).start()
    try:
        with LenderClient(again.url, "L1", key) as client:
            new = [i["index"] for i in client.deposit(items(5, 900_000_000))["items"]]
            views = client.wait_for(new, "anchored", timeout=60)
        assert all(views[i]["status"] == "anchored" for i in new)
    finally:
        again.stop()
    assert fc("backup", "create", "--data-dir", str(tmp_path / "again" / "fc"), "--out", str(tmp_path / "after.tar.gz")).returncode == 0
    assert fc("backup", "verify", str(tmp_path / "after.tar.gz")).returncode == 0


def _manifest(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        f = tar.extractfile("manifest.json")
        assert f is not None
        return json.loads(f.read())


def _sqlite_chain_with_deposits(data_dir: Path, n: int) -> tuple[Ed25519PrivateKey, list[dict]]:
    key = Ed25519PrivateKey.generate()
    data_dir.mkdir(parents=True)
    store = open_supervision_store(SupervisionConfig(data_dir))
    try:
        add_lender(store.engine, "L1", "Lender One", "GZ-1", public_key_bytes(key.public_key()))
    finally:
        store.close()
    server = SupervisionServer(data_dir, "--seal-interval-ms", "100").start()
    try:
        with LenderClient(server.url, "L1", key) as client:
            indexes = [i["index"] for i in client.deposit(items(n))["items"]]
            views = until_sealed(client, indexes)
    finally:
        server.stop()
    return key, [views[i] for i in indexes]


@pytest.mark.postgres
def test_to_postgres_moves_a_sqlite_chain_that_then_serves_from_postgresql(tmp_path: Path) -> None:
    data_dir = tmp_path / "sv"
    key, old = _sqlite_chain_with_deposits(data_dir, 40)
    with fresh_database(_pg_admin_url(), "bk") as url:
        moved = fc("backup", "to-postgres", "--data-dir", str(data_dir), "--db", url, "--json")
        assert moved.returncode == 0, moved.stdout + moved.stderr
        result = json.loads(moved.stdout)
        assert result["ok"] and result["chain"] == "supervision"
        assert result["rows"]["ledger_entry"] == 40 and result["rows"]["sv_deposit"] == 40 and result["rows"]["sv_lender"] == 1

        refused = fc("backup", "to-postgres", "--data-dir", str(data_dir), "--db", url)
        assert refused.returncode == 2 and "already holds rows" in said(refused.stderr)

        server = SupervisionServer(data_dir, "--db", url, "--seal-interval-ms", "100").start()
        try:
            chain = json.loads(httpx.get(server.url + "/v1/chain").text)
            with LenderClient(server.url, "L1", key) as client:
                view = client.status(old[7]["index"])
                assert view["status"] == "sealed" and view["digest"] == old[7]["digest"] and view["block_height"] == old[7]["block_height"]
                _verify_view(view, chain["vkey"])
                new = [i["index"] for i in client.deposit(items(5, 7000))["items"]]
                assert new == list(range(40, 45))
                assert all(v["status"] == "sealed" for v in until_sealed(client, new).values())
        finally:
            server.stop()
        audit = fc("ledger", "audit", "--data-dir", str(data_dir), "--db", url, "--json")
        assert audit.returncode == 0 and json.loads(audit.stdout)["entries"] == 45


@pytest.mark.postgres
def test_to_postgres_refuses_a_target_with_rows(tmp_path: Path) -> None:
    data_dir = tmp_path / "sv"
    _sqlite_chain_with_deposits(data_dir, 3)
    with fresh_database(_pg_admin_url(), "bk") as url:
        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute("CREATE TABLE notes (n int)")
            conn.execute("INSERT INTO notes VALUES (1)")
        refused = fc("backup", "to-postgres", "--data-dir", str(data_dir), "--db", url)
        assert refused.returncode == 2 and "notes" in said(refused.stderr)
        with psycopg.connect(libpq) as conn:
            assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()[0] == 1


@pytest.mark.postgres
def test_postgresql_backup_restores_into_a_new_database_and_audits(tmp_path: Path) -> None:
    data_dir = tmp_path / "sv"
    key, _old = _sqlite_chain_with_deposits(data_dir, 10)
    with fresh_database(_pg_admin_url(), "bk") as url, fresh_database(_pg_admin_url(), "bk") as target:
        assert fc("backup", "to-postgres", "--data-dir", str(data_dir), "--db", url).returncode == 0
        server = SupervisionServer(data_dir, "--db", url, "--seal-interval-ms", "100").start()
        try:
            depositor = Depositor(server.url, key)
            depositor.start()
            time.sleep(0.5)
            made = fc("backup", "create", "--data-dir", str(data_dir), "--db", url, "--out", str(tmp_path / "pg.tar.gz"), "--json")
            assert made.returncode == 0, made.stderr
            depositor.finish()
        finally:
            server.stop()
        names = {m["path"]: m for m in _manifest(tmp_path / "pg.tar.gz")["members"]}
        assert names["postgresql.dump"]["kind"] == "postgresql" and names["postgresql.dump"]["size"] >= 10
        assert fc("backup", "restore", str(tmp_path / "pg.tar.gz"), "--data-dir", str(tmp_path / "new")).returncode == 2  # needs --db
        done = fc("backup", "restore", str(tmp_path / "pg.tar.gz"), "--data-dir", str(tmp_path / "new"), "--db", target, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert all(r["ok"] for r in json.loads(done.stdout)["ledgers"])
        assert not (tmp_path / "new" / "postgresql.dump").exists() and (tmp_path / "new" / "signer.key").exists()
        refused = fc("backup", "restore", str(tmp_path / "pg.tar.gz"), "--data-dir", str(tmp_path / "newer"), "--db", target)
        assert refused.returncode == 2 and "not empty" in said(refused.stderr)
        assert fc("ledger", "audit", "--data-dir", str(tmp_path / "new"), "--db", target).returncode == 0
