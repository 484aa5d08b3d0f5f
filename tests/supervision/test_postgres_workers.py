"""Several API processes on one PostgreSQL database, one elected sealer (issue 9).

Real `fivechains supervision serve` processes on loopback, a fresh database per test. After
concurrent deposits (and a SIGKILL of the sealer), the ledger holds exactly the acknowledged
deposits at indexes 0..n-1, every one sealed once, and the audit passes.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from servers import SupervisionServer  # tests/ is on sys.path (conftest)

from chain.audit import audit_ledger
from chain.keys import public_key_bytes
from chain.ledger import Ledger
from chain.note import Ed25519NoteSigner
from chain_sql import open_store
from chain_sql.election import lock_holder, sealer_lock_key
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.registry import add_lender
from supervision_chain.service import DEFAULT_CHAIN_ID, SupervisionConfig, open_supervision_store

pytestmark = pytest.mark.postgres
THREADS = 4


def _start(data_dir: Path, pg_url: str, *extra: str) -> SupervisionServer:
    return SupervisionServer(data_dir, "--db", pg_url, "--seal-interval-ms", "100", *extra).start()


def _register(data_dir: Path, pg_url: str) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    store = open_supervision_store(SupervisionConfig(data_dir, db_url=pg_url))
    try:
        add_lender(store.engine, "L1", "Lender L1", "GZ-L1", public_key_bytes(key.public_key()))
    finally:
        store.close()
    return key


class Depositors:
    """Client threads depositing signed batches round-robin over the servers; a batch is sent again,
    the same body under the same idempotency key, to the next server until one answers 202."""

    def __init__(self, urls: list[str], key: Ed25519PrivateKey, batch: int = 25) -> None:
        self.urls = urls
        self.signer = LenderClient("http://unused", "L1", key, chain_id=DEFAULT_CHAIN_ID)  # signs only: the servers' chain
        self.batch = batch
        self.acked: dict[str, int] = {}  # digest -> index acknowledged
        self.replayed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.errors: list[str] = []

    def _send(self, http: httpx.Client, turn: int, body: dict) -> dict:
        for attempt in range(200):  # bounded: ≤ 200 tries of ~0.1 s
            url = self.urls[(turn + attempt) % len(self.urls)]
            try:
                response = http.post(url + "/v1/deposits", json=body, headers={"Idempotency-Key": body["nonce"]}, timeout=30)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if response.status_code == 202:
                return response.json()
            if response.status_code not in (502, 503, 504):
                raise AssertionError(f"{response.status_code}: {response.text[:300]}")
            time.sleep(0.1)
        raise AssertionError("no server accepted the batch")

    def _run(self, n: int, batches: int | None) -> None:
        try:
            with httpx.Client() as http:
                sent = 0
                while (batches is None and not self._stop.is_set()) or (batches is not None and sent < batches):
                    now = int(time.time() * 1000)
                    items = [DepositItem(uuid.uuid4().hex * 2, "repayment", f"loan-{n}-{sent}-{i}", now) for i in range(self.batch)]
                    answer = self._send(http, n + sent, self.signer.signed_request(items))
                    with self._lock:
                        self.replayed += bool(answer["replayed"])
                        for item in answer["items"]:
                            assert item["digest"] not in self.acked
                            self.acked[item["digest"]] = item["index"]
                    sent += 1
        except Exception as exc:  # reported by the test
            self.errors.append(repr(exc))

    def run(self, batches: int | None = None) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._run, args=(n, batches), daemon=True) for n in range(THREADS)]
        for t in threads:
            t.start()
        return threads

    def stop(self, threads: list[threading.Thread]) -> None:
        self._stop.set()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert not self.errors, self.errors


def _sealed_everything(pg_url: str, timeout: float = 30) -> Ledger:
    store = open_store(pg_url)
    ledger = Ledger(store)
    deadline = time.monotonic() + timeout
    while ledger.sealed_size() < store.size() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ledger.sealed_size() == store.size(), "the sealer did not seal everything acknowledged"
    return ledger


def _check_ledger(ledger: Ledger, acked: dict[str, int]) -> None:
    """Indexes 0..n-1, no gap, no duplicate; each acknowledged digest at its index; the audit passes."""
    store = ledger.store
    n = store.size()
    assert sorted(acked.values()) == list(range(n))
    for entry in store.iter_entries():
        digest = json.loads(entry.data)["digest"]
        assert acked[digest] == entry.index
    blocks = store.blocks()
    assert [b.height for b in blocks] == list(range(len(blocks)))
    report = audit_ledger(store, ledger.verifier)
    assert report.ok, [str(f) for f in report.findings]
    assert report.sealed_size == n
    store.close()


def _holder_pid(pg_url: str) -> int | None:
    name = lock_holder(pg_url, sealer_lock_key(DEFAULT_CHAIN_ID))
    return int(name.rsplit("pid=", 1)[1]) if name else None


def _pids(servers: list[SupervisionServer]) -> set[int]:
    """The live API processes: each serve process, or the worker processes of one started with --workers."""
    pids = set()
    for s in servers:
        children = Path(f"/proc/{s.process.pid}/task/{s.process.pid}/children")  # type: ignore[union-attr]
        workers = {int(p) for p in children.read_text().split()} if children.exists() else set()
        pids |= workers or {s.process.pid}  # type: ignore[union-attr]
    return pids


def _wait_for_holder(pg_url: str, servers: list[SupervisionServer], other_than: int | None = None, timeout: float = 20) -> int:
    """The pid of the API process that holds the sealer lock, once one of ``servers`` (but not ``other_than``) does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _holder_pid(pg_url)
        if pid is not None and pid != other_than and pid in _pids(servers):
            return pid
        time.sleep(0.1)
    raise AssertionError(f"no process of these servers became the sealer within {timeout} s")


def test_two_serve_processes_share_one_database(tmp_path: Path, pg_url: str) -> None:
    data_dir = tmp_path / "supervision"
    servers = [_start(data_dir, pg_url), _start(data_dir, pg_url)]
    try:
        key = _register(data_dir, pg_url)
        holder = _wait_for_holder(pg_url, servers)
        depositors = Depositors([s.url for s in servers], key)
        depositors.stop(depositors.run(batches=15))
        assert len(depositors.acked) == THREADS * 15 * 25
        ledger = _sealed_everything(pg_url)
        # a process that does not seal still answers reads and long-polls from the database
        follower = next(s for s in servers if s.process.pid != holder)  # type: ignore[union-attr]
        digest, index = next(iter(depositors.acked.items()))
        with LenderClient(follower.url, "L1", key) as client:
            view = client.status(index, wait=5)
            assert view["status"] == "sealed" and view["digest"] == digest
            assert [v["index"] for v in client.find(digest)] == [index]
        _check_ledger(ledger, depositors.acked)
    finally:
        for s in servers:
            s.stop()


def test_workers_behind_one_port(tmp_path: Path, pg_url: str) -> None:
    """--workers 2, sealing only when stopped (a seal interval longer than the test): a graceful stop seals
    everything every worker acknowledged."""
    data_dir = tmp_path / "supervision"
    server = SupervisionServer(data_dir, "--db", pg_url, "--workers", "2", "--seal-interval-ms", "600000",
                               "--seal-entries", "1000000").start()
    try:
        key = _register(data_dir, pg_url)
        assert _wait_for_holder(pg_url, [server]) != server.process.pid  # type: ignore[union-attr]  # a worker seals
        depositors = Depositors([server.url], key)
        depositors.stop(depositors.run(batches=10))
        store = open_store(pg_url)
        assert Ledger(store).sealed_size() == 0 and store.size() == len(depositors.acked)
        store.close()
    finally:
        server.stop()
    assert server.process.returncode == 0  # type: ignore[union-attr]
    _check_ledger(_sealed_everything(pg_url, timeout=0), depositors.acked)
    assert (data_dir / "signer.key").stat().st_mode & 0o777 == 0o600
    assert (data_dir / "regulator.token").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("shape", ["two serve processes", "workers behind one port"])
def test_sealer_killed_another_takes_over(tmp_path: Path, pg_url: str, shape: str) -> None:
    data_dir = tmp_path / "supervision"
    if shape == "two serve processes":
        servers = [_start(data_dir, pg_url), _start(data_dir, pg_url)]
    else:
        servers = [_start(data_dir, pg_url, "--workers", "2")]
    try:
        key = _register(data_dir, pg_url)
        holder = _wait_for_holder(pg_url, servers)
        depositors = Depositors([s.url for s in servers], key)
        threads = depositors.run()
        store = open_store(pg_url)
        deadline = time.monotonic() + 30
        while len(depositors.acked) < 1000 and time.monotonic() < deadline:  # deposits are flowing
            time.sleep(0.05)
        os.kill(holder, signal.SIGKILL)  # its connections close and PostgreSQL releases the lock
        killed_at = store.size()
        _wait_for_holder(pg_url, servers, other_than=holder)  # another process took over
        before = len(depositors.acked)
        deadline = time.monotonic() + 30
        while len(depositors.acked) < before + 1000 and time.monotonic() < deadline:  # and keep flowing after
            time.sleep(0.05)
        depositors.stop(threads)
        store.close()
        ledger = _sealed_everything(pg_url)
        assert ledger.sealed_size() > killed_at
        _check_ledger(ledger, depositors.acked)
    finally:
        for s in servers:
            s.stop()


def test_a_second_sealer_loses_cleanly(pg_url: str) -> None:
    """Two processes that both think they lead: the one that commits second stores nothing and gets None,
    and its next seal starts from what the winner stored."""
    signer = Ed25519NoteSigner("race.example/log", Ed25519PrivateKey.generate())
    winner = Ledger.create(open_store(pg_url), "race.example/log", signer)
    loser_store = open_store(pg_url)
    loser = Ledger(loser_store, signer=signer)
    winner.append([b"a", b"b", b"c"])
    commit = loser_store.commit_seal

    def winner_first(write):  # the loser has read the state and signed its block; the winner commits first
        assert winner.seal() is not None
        winner.append([b"d"])
        return commit(write)

    loser_store.commit_seal = winner_first  # type: ignore[method-assign]
    assert loser.seal() is None
    loser_store.commit_seal = commit  # type: ignore[method-assign]
    assert [b.tree_size for b in loser_store.blocks()] == [3]
    block = loser.seal()
    assert block is not None and block.header.height == 1 and block.header.tree_size == 4
    assert loser.root_at(4) == winner.root_at(4)
    report = audit_ledger(loser_store, signer.verifier())
    assert report.ok, [str(f) for f in report.findings]
    winner.store.close()
    loser_store.close()
