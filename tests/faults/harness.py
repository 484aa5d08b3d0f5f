"""Fault scenarios on real processes (loopback only), shared by the suite (tests/faults) and by
``scripts/faults.py``, which runs the longer versions and records the results in docs/FAULTS.md.

Each scenario starts real ``fivechains … serve`` processes, deposits continuously from client
threads, injects one fault, lets the service recover by itself and then checks:

* every deposit answered 202 is in the ledger at the index its receipt named (nothing lost);
* no digest is stored twice and the indexes are 0..n-1 with no gap (nothing duplicated);
* every refusal was a clear 5xx ``application/problem+json`` (503/507), never a 500;
* the ledger audit (and, with the judicial chain, ``fivechains audit``) passes.

Every loop has a deadline. Times to resume are measured and returned, never asserted (bar the
deadlines). A scenario returns a :class:`Result`; its ``problems`` list is empty when all held.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
for _path in (str(ROOT), str(TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from servers import SupervisionServer, free_port  # noqa: E402

from chain.audit import audit_ledger  # noqa: E402
from chain.keys import public_key_bytes  # noqa: E402
from chain.ledger import Ledger  # noqa: E402
from chain_sql import open_store  # noqa: E402
from evidence.deposit_codes import is_valid  # noqa: E402
from judicial_chain.certs import ensure_consortium  # noqa: E402
from judicial_chain.service import JudicialChain, JudicialConfig  # noqa: E402
from supervision_chain.client import DepositItem, LenderClient  # noqa: E402
from supervision_chain.models import Deposit  # noqa: E402
from supervision_chain.registry import add_lender  # noqa: E402
from supervision_chain.service import DEFAULT_CHAIN_ID, SupervisionConfig, open_supervision_store  # noqa: E402

PROBLEM = "application/problem+json"
CLEAR_REFUSALS = {503, 507}  # what a server may answer while its storage is away or full
D = Deposit.__table__  # type: ignore[attr-defined]
AUDITOR = "regulator.faults"


class CannotInject(Exception):
    """This machine does not let the scenario inject its fault (e.g. no mount, no control of PostgreSQL)."""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def fc(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the ``fivechains`` command."""
    return subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=timeout, env=_env())


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


# --- the result of a scenario ----------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    fault: str = ""
    duration_s: float = 0.0
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    refusals: dict[int, int] = field(default_factory=dict)  # status → count of clear refusals
    transport_errors: int = 0
    resume_s: float | None = None  # from the fault's end to service again (see each scenario)
    audit_ok: bool = False
    figures: dict[str, object] = field(default_factory=dict)  # scenario-specific measurements
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.skipped is None


# --- load ----------------------------------------------------------------------------------------


class Load:
    """Client threads depositing signed batches continuously. A batch is sent again, the very same
    signed body under the same Idempotency-Key (as ``LenderClient.deposit`` does), until it is
    acknowledged or ``batch_deadline`` passes; then the batch is *abandoned* (never acknowledged, so
    it may or may not be stored, once)."""

    def __init__(self, urls: list[str], key: Ed25519PrivateKey, *, lender: str = "L1", threads: int = 2, batch: int = 20,
                 pause: float = 0.02, batch_deadline: float = 90) -> None:
        self.urls = urls
        self.signer = LenderClient("http://unused", lender, key, chain_id=DEFAULT_CHAIN_ID)  # signs only: the servers' chain
        self.threads_n, self.batch, self.pause, self.batch_deadline = threads, batch, pause, batch_deadline
        self.acked: dict[str, int] = {}  # digest → index its receipt named
        self.ack_times: list[float] = []  # monotonic time of each acknowledged batch
        self.abandoned: set[str] = set()
        self.refusals: dict[int, int] = {}
        self.transport_errors = 0
        self.replayed = 0
        self.bad: list[str] = []  # answers that are neither 202 nor a clear 5xx problem+json
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # a thread's loop: one batch at a time, each with its own deadline
    def _send(self, http: httpx.Client, turn: int, body: dict) -> dict | None:
        deadline = time.monotonic() + self.batch_deadline
        attempt = 0
        while time.monotonic() < deadline:
            url = self.urls[(turn + attempt) % len(self.urls)]
            attempt += 1
            try:
                response = http.post(url + "/v1/deposits", json=body, headers={"Idempotency-Key": body["nonce"]}, timeout=30)
            except httpx.TransportError:
                with self._lock:
                    self.transport_errors += 1
                time.sleep(0.1)
                continue
            if response.status_code == 202:
                return response.json()
            content_type = response.headers.get("content-type", "")
            with self._lock:
                if response.status_code in CLEAR_REFUSALS and content_type.startswith(PROBLEM):
                    self.refusals[response.status_code] = self.refusals.get(response.status_code, 0) + 1
                else:
                    self.bad.append(f"{response.status_code} {content_type}: {response.text[:200]}")
                    if response.status_code < 500:  # a refusal of this request: sending it again will not help
                        return None
            time.sleep(0.1)
        return None

    def _run(self, n: int) -> None:
        try:
            with httpx.Client() as http:
                sent = 0
                while not self._stop.is_set():
                    now = int(time.time() * 1000)
                    items = [DepositItem(uuid.uuid4().hex * 2, "repayment", f"loan-{n}-{sent}-{i}", now) for i in range(self.batch)]
                    answer = self._send(http, n + sent, self.signer.signed_request(items))
                    with self._lock:
                        if answer is None:
                            self.abandoned.update(i.digest for i in items)
                        else:
                            self.replayed += bool(answer["replayed"])
                            self.ack_times.append(time.monotonic())
                            for item in answer["items"]:
                                if item["digest"] in self.acked:
                                    self.bad.append(f"digest {item['digest']} acknowledged twice")
                                self.acked[item["digest"]] = item["index"]
                    sent += 1
                    time.sleep(self.pause)
        except Exception as exc:  # reported through ``bad``
            with self._lock:
                self.bad.append(f"client thread {n}: {exc!r}")

    def start(self) -> Load:
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads_n)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.batch_deadline + 40)
        if any(t.is_alive() for t in self._threads):
            self.bad.append("a client thread did not finish")

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_for(self, n: int, timeout: float) -> bool:
        """Until at least ``n`` deposits are acknowledged in all (or the time runs out)."""
        return wait_until(lambda: self.count >= n, timeout, step=0.05)

    def first_ack_after(self, t: float) -> float | None:
        with self._lock:
            later = [a for a in self.ack_times if a > t]
        return min(later) if later else None

    def acks_between(self, t0: float, t1: float) -> int:
        with self._lock:
            return sum(t0 < a <= t1 for a in self.ack_times)

    def record(self, result: Result) -> None:
        result.acknowledged = len(self.acked)
        result.refusals = dict(self.refusals)
        result.transport_errors = self.transport_errors
        result.figures["abandoned batches"] = len(self.abandoned) // self.batch
        result.figures["idempotent replays"] = self.replayed
        result.problems += [f"bad answer: {b}" for b in self.bad[:10]]


# --- checks ----------------------------------------------------------------------------------------


def wait_sealed(store_url: str | Path, timeout: float) -> float | None:
    """Seconds until everything stored is sealed (the sealer at work by itself), None if it was not in time."""
    store = open_store(store_url)
    try:
        ledger = Ledger(store)
        t = time.monotonic()
        if wait_until(lambda: ledger.sealed_size() >= store.size(), timeout):
            return time.monotonic() - t
        return None
    finally:
        store.close()


def check_ledger(store_url: str | Path, load: Load, result: Result) -> None:
    """Every acknowledged deposit at its index, no digest twice, indexes 0..n-1, a deposit row per
    entry, everything sealed, and the ledger audit clean."""
    store = open_store(store_url)
    try:
        ledger = Ledger(store)
        n = store.size()
        where: dict[str, list[int]] = {}
        indexes = []
        for entry in store.iter_entries():
            indexes.append(entry.index)
            where.setdefault(json.loads(entry.data)["digest"], []).append(entry.index)
        result.lost = sum(where.get(d) is None or i not in where[d] for d, i in load.acked.items())
        result.duplicated = sum(len(v) - 1 for v in where.values())
        unexpected = [d for d in where if d not in load.acked and d not in load.abandoned]
        result.figures["entries stored"] = n
        if result.lost:
            result.problems.append(f"{result.lost} acknowledged deposits are not at the index their receipt named")
        if result.duplicated:
            result.problems.append(f"{result.duplicated} digests stored more than once")
        if unexpected:
            result.problems.append(f"{len(unexpected)} stored digests were never sent")
        if indexes != list(range(n)):
            result.problems.append("the entry indexes are not 0..n-1")
        with store.read_engine.connect() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(select(func.count()).select_from(D)).scalar_one()
        if rows != n:
            result.problems.append(f"{rows} deposit rows for {n} ledger entries (a partial write)")
        if ledger.sealed_size() != n:
            result.problems.append(f"sealed {ledger.sealed_size()} of {n} entries")
        report = audit_ledger(store, ledger.verifier)
        result.audit_ok = report.ok and report.sealed_size == n
        if not result.audit_ok:
            result.problems.append(f"ledger audit failed: {[str(f) for f in report.findings][:5]}")
    finally:
        store.close()


def register_lender(data_dir: Path, db_url: str | None = None, lender: str = "L1") -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    store = open_supervision_store(SupervisionConfig(data_dir, db_url=db_url))
    try:
        add_lender(store.engine, lender, f"Lender {lender}", f"GZ-{lender}", public_key_bytes(key.public_key()))
    finally:
        store.close()
    return key


def read_back(url: str, key: Ed25519PrivateKey, load: Load, result: Result) -> None:
    """The lender reads its last acknowledged deposit back through the API: sealed (or anchored)."""
    if not load.acked:
        return
    digest, index = max(load.acked.items(), key=lambda kv: kv[1])
    try:
        with LenderClient(url, "L1", key) as client:  # sealed already (wait_sealed); another API process may see it a moment later
            deadline = time.monotonic() + 10
            view = client.status(index)
            while view["status"] == "pending" and time.monotonic() < deadline:
                time.sleep(0.2)
                view = client.status(index)
        if view["digest"] != digest or view["status"] not in ("sealed", "anchored"):
            result.problems.append(f"deposit {index} reads back as {view['status']} {view['digest']}")
    except Exception as exc:  # noqa: BLE001  # reported
        result.problems.append(f"reading deposit {index} back failed: {exc!r}")


def finish(store_url: str | Path, server: SupervisionServer, key: Ed25519PrivateKey, load: Load, result: Result, timeout: float) -> None:
    """After a fault and the stopped load: everything sealed by the running server, the last deposit
    read back through the API, the ledger checked and audited."""
    sealed_in = wait_sealed(store_url, timeout)
    result.figures["sealed everything within"] = f"{sealed_in:.1f} s" if sealed_in is not None else "NOT sealed"
    if sealed_in is None:
        result.problems.append(f"the sealer did not seal everything within {timeout} s after the fault")
    load.record(result)
    read_back(server.url, key, load, result)
    check_ledger(store_url, load, result)


def alive(server: SupervisionServer) -> bool:
    return server.process is not None and server.process.poll() is None


# --- the judicial chain as its own process ------------------------------------------------------------


class JudicialServer:
    """``fivechains judicial serve`` on 127.0.0.1, restartable on the same port and data directory."""

    def __init__(self, data_dir: Path, certs: Path, port: int) -> None:
        self.data_dir, self.certs, self.port = data_dir, certs, port
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> JudicialServer:
        log = open(self.data_dir.parent / "judicial.log", "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "judicial", "serve", "--data-dir", str(self.data_dir),
                                         "--certs", str(self.certs), "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=_env())
        log.close()

        def listening() -> bool:
            if self.process.poll() is not None:  # type: ignore[union-attr]
                raise RuntimeError(f"the judicial server exited with {self.process.returncode}; see {log.name}")  # type: ignore[union-attr]
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        if not wait_until(listening, timeout):
            raise RuntimeError(f"the judicial server did not listen within {timeout} s")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Pipeline:
    """Supervision serve (SQLite) and judicial serve as separate processes, cross-linked over gRPC
    with mutual TLS, one registered lender (the set-up of scripts/bench_judicial.py bench_latency)."""

    def __init__(self, workdir: Path) -> None:
        self.certs, self.sdir, self.jdir = workdir / "certs", workdir / "supervision", workdir / "judicial"
        self.sdir.mkdir(parents=True)
        ensure_consortium(self.certs, [DEFAULT_CHAIN_ID])
        self.jport = free_port()
        self.supervision = SupervisionServer(self.sdir, "--seal-interval-ms", "100", "--judicial", f"127.0.0.1:{self.jport}",
                                             "--certs", str(self.certs))
        self.judicial = JudicialServer(self.jdir, self.certs, self.jport)
        self.key: Ed25519PrivateKey | None = None
        self.jvkey = ""

    def start(self) -> Pipeline:
        self.supervision.start()
        self.key = register_lender(self.sdir)
        vkey = httpx.get(self.supervision.url + "/v1/chain", timeout=10).json()["vkey"]
        judicial = JudicialChain(JudicialConfig(self.jdir))
        try:
            judicial.register_source(DEFAULT_CHAIN_ID, vkey)
            self.jvkey = judicial.vkey
        finally:
            judicial.close()
        self.judicial.start()
        return self

    def stop(self) -> None:
        self.supervision.stop()
        self.judicial.stop()

    def codes(self) -> dict[int, str | None]:
        """Index → deposit code (None while not anchored), from the supervision database."""
        store = open_store(self.sdir / "supervision.db")
        try:
            with store.read_engine.connect() as conn:  # type: ignore[attr-defined]
                return dict(conn.execute(select(D.c.idx, D.c.deposit_code)).all())
        finally:
            store.close()

    def anchored(self, through: int) -> int:
        """How many deposits at index ≤ ``through`` have their code."""
        store = open_store(self.sdir / "supervision.db")
        try:
            with store.read_engine.connect() as conn:  # type: ignore[attr-defined]
                return conn.execute(select(func.count()).select_from(D).where(D.c.idx <= through, D.c.deposit_code.is_not(None))).scalar_one()
        finally:
            store.close()

    def anchored_through(self, last: int) -> bool:
        """Whether every deposit at index ≤ ``last`` has its code."""
        return self.anchored(last) == last + 1

    def audit(self) -> tuple[int, dict]:
        """``fivechains audit`` of both chains through what they publish, as a regulator."""
        made = fc("judicial", "certs", "--certs", str(self.certs), "--client", AUDITOR)
        if made.returncode != 0:
            return made.returncode, {"ok": False, "error": made.stderr[-500:]}
        done = fc("audit", "--supervision", self.supervision.url, "--judicial", f"127.0.0.1:{self.jport}", "--certs", str(self.certs),
                  "--cert-name", AUDITOR, "--judicial-vkey", self.jvkey, "--json")
        try:
            return done.returncode, json.loads(done.stdout)
        except ValueError:
            return done.returncode, {"ok": False, "error": (done.stderr or done.stdout)[-500:]}


# --- scenario: the judicial chain stopped under load ---------------------------------------------------


def judicial_outage(workdir: Path, *, down_s: float = 10, sig: int = signal.SIGKILL, before_s: float = 2, after_s: float = 2,
                    threads: int = 2, batch: int = 20, pause: float = 0.02, anchor_timeout: float = 90) -> Result:
    """Stop the judicial process for ``down_s`` seconds while deposits come in; restart it on the same
    port. Deposits must keep being acknowledged and sealed meanwhile; afterwards every one ends anchored
    with exactly one deposit code and ``fivechains audit`` passes. ``resume_s``: from the restart until
    every deposit acknowledged before it has its code."""
    result = Result("judicial chain stopped under load", f"{signal.Signals(sig).name} of the judicial process, down {down_s:g} s")
    started = time.monotonic()
    pipeline = Pipeline(workdir)
    load: Load | None = None
    try:
        pipeline.start()
        load = Load([pipeline.supervision.url], pipeline.key, threads=threads, batch=batch, pause=pause).start()  # type: ignore[arg-type]
        if not load.wait_for(200, 30) or not wait_until(lambda: pipeline.anchored_through(0), 30):
            result.problems.append("the pipeline did not start depositing and anchoring")
            return result
        time.sleep(before_s)
        sealed_before = httpx.get(pipeline.supervision.url + "/v1/chain", timeout=10).json()["sealed_size"]
        down_at = time.monotonic()
        pipeline.judicial.stop(sig)
        time.sleep(down_s)
        up_at = time.monotonic()
        during = load.acks_between(down_at, up_at)
        sealed_during = httpx.get(pipeline.supervision.url + "/v1/chain", timeout=10).json()["sealed_size"]
        result.figures["batches acknowledged while down"] = during
        result.figures["entries sealed while down"] = sealed_during - sealed_before
        if during == 0:
            result.problems.append("no deposit was acknowledged while the judicial chain was down")
        if sealed_during <= sealed_before:
            result.problems.append("nothing was sealed while the judicial chain was down")
        last_before_up = max(load.acked.values())
        backlog = last_before_up + 1 - pipeline.anchored(last_before_up)
        pipeline.judicial.start()
        restarted = time.monotonic()
        time.sleep(after_s)
        load.stop()
        if wait_until(lambda: pipeline.anchored_through(last_before_up), anchor_timeout, step=0.2):
            result.resume_s = time.monotonic() - restarted
            result.figures["backlog at the restart"] = f"{backlog:,} deposits without a code, anchored at {backlog / result.resume_s:,.0f}/s"
        else:
            result.problems.append(f"the deposits made before the restart were not all anchored within {anchor_timeout} s")
        last = max(load.acked.values())
        if not wait_until(lambda: pipeline.anchored_through(last), anchor_timeout, step=0.2):
            result.problems.append(f"not every acknowledged deposit was anchored within {anchor_timeout} s")
        load.record(result)
        if load.refusals or load.transport_errors:
            result.problems.append(f"deposits were refused while only the judicial chain was down: {load.refusals}, "
                                   f"{load.transport_errors} transport errors")
        codes = pipeline.codes()
        acked_codes = [codes.get(i) for i in load.acked.values()]
        missing = sum(c is None for c in acked_codes)
        given = [c for c in acked_codes if c is not None]
        if missing:
            result.problems.append(f"{missing} acknowledged deposits have no deposit code")
        if not all(is_valid(c) for c in given) or len(set(given)) != len(given):
            result.problems.append("deposit codes are malformed or not unique")
        result.figures["deposit codes"] = len(set(given))
        read_back(pipeline.supervision.url, pipeline.key, load, result)  # type: ignore[arg-type]
        check_ledger(pipeline.sdir / "supervision.db", load, result)
        code, report = pipeline.audit()
        result.figures["fivechains audit"] = f"exit {code}, ok {report.get('ok')}"
        lag = report.get("anchoring_lag_ms") or {}
        if isinstance(lag, dict) and lag.get("max") is not None:
            result.figures["anchoring lag max (audit)"] = f"{lag['max'] / 1000:.1f} s"
        if code != 0 or not report.get("ok"):
            result.audit_ok = False
            result.problems.append(f"fivechains audit failed: {json.dumps(report)[:800]}")
    finally:
        if load is not None:
            load.stop()
        pipeline.stop()
        result.duration_s = time.monotonic() - started
    # exactly one judicial entry per supervision entry: nothing anchored twice, nothing left out
    jstore = open_store(pipeline.jdir / "judicial.db")
    try:
        result.figures["judicial entries"] = jstore.size()
        if jstore.size() != result.figures.get("entries stored"):
            result.problems.append(f"{jstore.size()} judicial entries for {result.figures.get('entries stored')} supervision entries")
    finally:
        jstore.close()
    return result


# --- scenario: PostgreSQL restarted under load -----------------------------------------------------------


class PostgresControl:
    """Restart the PostgreSQL server behind a URL with its own ``pg_ctl``: the data directory from
    ``SHOW data_directory``, the binaries of the server's major version (as scripts/lib/postgres.sh
    finds them), run as the data directory's owner. :class:`CannotInject` says why not, if not."""

    def __init__(self, url: str) -> None:
        import psycopg

        parsed = make_url(url)
        if parsed.host not in ("127.0.0.1", "localhost", "::1"):
            raise CannotInject(f"PostgreSQL at {parsed.host} is not on this machine")
        try:
            with psycopg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False), connect_timeout=5) as conn:
                self.data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
                major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
        except psycopg.Error as exc:
            raise CannotInject(f"cannot read the server's data directory (needs a superuser): {exc}") from exc
        self.pg_ctl = Path(f"/usr/lib/postgresql/{major}/bin/pg_ctl")
        if not self.pg_ctl.exists():
            found = shutil.which("pg_ctl")
            if not found:
                raise CannotInject(f"no pg_ctl for PostgreSQL {major}")
            self.pg_ctl = Path(found)
        try:
            owner = self.data_dir.stat().st_uid
        except OSError as exc:
            raise CannotInject(f"cannot see the data directory {self.data_dir}: {exc}") from exc
        if os.getuid() == owner:
            self.as_owner: list[str] = []
        elif os.getuid() == 0 and shutil.which("runuser"):
            import pwd

            self.as_owner = ["runuser", "-u", pwd.getpwuid(owner).pw_name, "--"]
        else:
            raise CannotInject(f"the data directory {self.data_dir} belongs to another user and this is not root")
        log = self.data_dir.parent / "server.log"  # where scripts/lib/postgres.sh logs
        self.log = log if log.exists() and log.stat().st_uid == owner else self.data_dir.parent / "restart.log"

    def restart(self, timeout: int = 60) -> None:
        """``pg_ctl restart -m fast`` (the server's options come back from postmaster.opts); returns once it accepts connections."""
        done = subprocess.run([*self.as_owner, str(self.pg_ctl), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(timeout),
                               "-l", str(self.log), "restart"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout + 30)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {done.stderr.decode()[-500:]}")


def postgres_restart(workdir: Path, db_url: str, control: PostgresControl, *, restarts: int = 1, between_s: float = 3,
                     threads: int = 2, batch: int = 20, pause: float = 0.02, resume_timeout: float = 60) -> Result:
    """Restart PostgreSQL ``restarts`` times while deposits come in to one ``serve --db`` process, which
    is not restarted. ``resume_s``: the longest time from PostgreSQL accepting connections again to
    the next acknowledged deposit."""
    result = Result("PostgreSQL restarted under load", f"pg_ctl restart -m fast, {restarts}× under load")
    started = time.monotonic()
    sdir = workdir / "supervision"
    server = SupervisionServer(sdir, "--db", db_url, "--seal-interval-ms", "100")
    load: Load | None = None
    try:
        server.start()
        pid = server.process.pid  # type: ignore[union-attr]
        key = register_lender(sdir, db_url)
        load = Load([server.url], key, threads=threads, batch=batch, pause=pause).start()
        if not load.wait_for(200, 30):
            result.problems.append("deposits did not start")
            return result
        resumes, outages = [], []
        for _ in range(restarts):
            time.sleep(between_s)
            down = time.monotonic()
            control.restart()
            back = time.monotonic()
            outages.append(back - down)
            if not wait_until(lambda: load.first_ack_after(back) is not None, resume_timeout, step=0.05):  # noqa: B023
                result.problems.append(f"no deposit acknowledged within {resume_timeout} s of PostgreSQL coming back")
                break
            resumes.append(load.first_ack_after(back) - back)  # type: ignore[operator]
        time.sleep(between_s)
        load.stop()
        result.resume_s = max(resumes) if resumes else None
        result.figures["PostgreSQL down (pg_ctl restart)"] = f"{max(outages):.1f} s" if outages else "-"
        if not alive(server) or server.process.pid != pid:  # type: ignore[union-attr]
            result.problems.append("the API process did not survive the database restart")
        finish(db_url, server, key, load, result, resume_timeout)
    finally:
        if load is not None:
            load.stop()
        server.stop()
        result.duration_s = time.monotonic() - started
    return result


# --- scenario: the data directory's disk fills up ------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(where: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` MiB mounted at ``where`` (needs mount rights: root, not forbidden by the sandbox)."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        raise CannotInject(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        yield where
    finally:
        for _ in range(50):  # bounded: the server has stopped, but give the kernel a moment
            if subprocess.run(["umount", str(where)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)


def fill(directory: Path) -> int:
    """Write a file until the filesystem is full (ENOSPC); its size in bytes."""
    filler = directory / "filler"
    written = 0
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1 << 9):
            while True:
                try:
                    written += f.write(chunk[:size])
                except OSError as exc:
                    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    break
    return written


def disk_full(workdir: Path, *, size_mb: int = 64, full_s: float = 3, refusal_timeout: float = 30, after_s: float = 2,
              threads: int = 2, batch: int = 20, pause: float = 0.02, resume_timeout: float = 60) -> Result:
    """Fill the filesystem of the supervision chain's data directory (SQLite) while deposits come in,
    hold it full for ``full_s`` seconds after the first refusal, then free the space. Deposits must be
    refused (5xx problem+json), never acknowledged and lost; the service resumes by itself.
    ``resume_s``: from the space being freed to the next acknowledged deposit."""
    result = Result("disk of the data directory full (SQLite)", f"tmpfs of {size_mb} MiB filled with a file, held full {full_s:g} s")
    started = time.monotonic()
    sdir = workdir / "supervision"
    mounted = contextlib.ExitStack()
    try:
        mounted.enter_context(small_filesystem(sdir, size_mb))
    except CannotInject as exc:
        result.skipped = str(exc)
        return result
    server = SupervisionServer(sdir, "--seal-interval-ms", "100")
    load: Load | None = None
    try:
        server.start()
        key = register_lender(sdir)
        load = Load([server.url], key, threads=threads, batch=batch, pause=pause).start()
        if not load.wait_for(200, 30):
            result.problems.append("deposits did not start")
            return result
        time.sleep(1)
        full_at = time.monotonic()
        result.figures["filler"] = f"{fill(sdir) / 2**20:.1f} MiB"
        refused_first = wait_until(lambda: sum(load.refusals.values()) > 0 or not alive(server), refusal_timeout, step=0.05)
        if not alive(server):
            result.problems.append(f"the server exited with {server.process.returncode} when the disk filled up")  # type: ignore[union-attr]
            return result
        refused_at = time.monotonic()
        if refused_first:
            result.figures["first refusal after filling"] = f"{refused_at - full_at:.1f} s"
        else:
            result.problems.append(f"no deposit was refused within {refusal_timeout} s of the disk filling up")
        time.sleep(full_s)
        freed_at = time.monotonic()
        result.figures["batches acknowledged after filling, before the first refusal"] = load.acks_between(full_at, refused_at)
        result.figures["batches acknowledged from the first refusal until freed"] = load.acks_between(refused_at, freed_at)
        (sdir / "filler").unlink()
        if wait_until(lambda: load.first_ack_after(freed_at) is not None, resume_timeout, step=0.05):
            result.resume_s = load.first_ack_after(freed_at) - freed_at  # type: ignore[operator]
        else:
            result.problems.append(f"no deposit acknowledged within {resume_timeout} s of freeing the space")
        time.sleep(after_s)
        load.stop()
        if not alive(server):
            result.problems.append("the server did not survive the full disk")
        if not load.refusals:
            result.problems.append("no refusal seen while the disk was full")
        finish(sdir / "supervision.db", server, key, load, result, resume_timeout)
    finally:
        if load is not None:
            load.stop()
        server.stop()
        mounted.close()  # unmount, once the server is gone
        result.duration_s = time.monotonic() - started
    return result


# --- scenario: the elected sealer SIGKILLed mid-block (PostgreSQL, --workers 2) -----------------------------------


def sealer_kill(workdir: Path, db_url: str, *, kills: int = 1, between_s: float = 5, threads: int = 4, batch: int = 25,
                pause: float = 0.0, resume_timeout: float = 60) -> Result:
    """``serve --workers 2`` on PostgreSQL; SIGKILL the worker holding the sealer lock while entries are
    pending (mid-block), ``kills`` times. ``resume_s``: the longest time from the kill to the next seal
    (another worker took over the lock and sealed past what was pending at the kill)."""
    from supervision.test_postgres_workers import _holder_pid, _wait_for_holder

    result = Result("sealer SIGKILLed mid-block", f"SIGKILL of the elected sealer worker (serve --workers 2, PostgreSQL), {kills}×")
    started = time.monotonic()
    sdir = workdir / "supervision"
    server = SupervisionServer(sdir, "--db", db_url, "--workers", "2", "--seal-interval-ms", "100")
    load: Load | None = None
    store = None
    try:
        server.start()
        key = register_lender(sdir, db_url)
        holder = _wait_for_holder(db_url, [server])
        load = Load([server.url], key, threads=threads, batch=batch, pause=pause).start()
        if not load.wait_for(500, 30):
            result.problems.append("deposits did not start")
            return result
        store = open_store(db_url)
        ledger = Ledger(store)
        resumes, takeovers = [], []
        for _ in range(kills):
            time.sleep(between_s)
            holder = _holder_pid(db_url) or holder
            wait_until(lambda: store.size() > ledger.sealed_size(), 10, step=0.005)  # noqa: B023  # entries pending: mid-block
            pending = store.size()
            killed = time.monotonic()
            os.kill(holder, signal.SIGKILL)
            try:
                holder = _wait_for_holder(db_url, [server], other_than=holder, timeout=resume_timeout)
            except AssertionError as exc:
                result.problems.append(str(exc))
                break
            takeovers.append(time.monotonic() - killed)
            if not wait_until(lambda: ledger.sealed_size() >= pending, resume_timeout, step=0.02):  # noqa: B023
                result.problems.append(f"nothing pending at the kill was sealed within {resume_timeout} s")
                break
            resumes.append(time.monotonic() - killed)
        time.sleep(between_s)
        load.stop()
        result.resume_s = max(resumes) if resumes else None
        result.figures["lock taken over within"] = f"{max(takeovers):.1f} s" if takeovers else "-"
        finish(db_url, server, key, load, result, resume_timeout)
    finally:
        if load is not None:
            load.stop()
        if store is not None:
            store.close()
        server.stop()
        result.duration_s = time.monotonic() - started
    return result


# --- a Markdown report -------------------------------------------------------------------------------------


def markdown_rows(results: list[Result]) -> list[str]:
    lines = ["| scenario | fault | duration | acknowledged | refused (status: count) | lost | duplicated | time to resume | audit | result |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.skipped:
            lines.append(f"| {r.scenario} | {r.fault} | – | – | – | – | – | – | – | skipped: {r.skipped} |")
            continue
        refused = ", ".join(f"{s}: {n:,}" for s, n in sorted(r.refusals.items())) or "none"
        if r.transport_errors:
            refused += f"; {r.transport_errors:,} connection errors"
        resume = f"{r.resume_s:.2f} s" if r.resume_s is not None else "–"
        lines.append(f"| {r.scenario} | {r.fault} | {r.duration_s:.0f} s | {r.acknowledged:,} | {refused} | {r.lost} | {r.duplicated} | "
                     f"{resume} | {'passed' if r.audit_ok else 'FAILED'} | {'ok' if r.ok else 'PROBLEMS'} |")
    return lines
