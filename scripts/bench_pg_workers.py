"""Batch deposits on PostgreSQL with one and with two API processes, and on SQLite (issue 9).

Run through ``./scripts/bench pg-workers`` or ``python scripts/bench_pg_workers.py``. With
FIVECHAINS_TEST_PG_URL set it uses that cluster (a fresh database per run); otherwise it starts
a throw-away cluster with scripts/lib/postgres.sh (the test suite's: fsync=off) and stops it
after. Servers are `fivechains supervision serve` processes on loopback; clients are other
processes with keep-alive connections and pre-signed 1,000-item bodies, the same for every
configuration, all in one run so the ratios compare like with like. Each batch goes on a new
connection: with a few long keep-alive connections, uvicorn's workers (one shared listening
socket) would split them unevenly for the whole run, which says more about the client than the
server; a fresh connection goes to whichever worker accepts first, as behind a load balancer.
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_report import machine_summary, results_table, write_section  # noqa: E402
from bench_supervision import free_port, signed_bodies, stop, wait_up  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from chain.keys import public_key_bytes  # noqa: E402
from supervision_chain.registry import add_lender  # noqa: E402
from supervision_chain.service import SupervisionConfig, open_supervision_store  # noqa: E402

PG_VAR = "FIVECHAINS_TEST_PG_URL"
TITLE = "PostgreSQL with several API processes (issues 9 and 17)"
TARGET = 1.7  # issue 17 (issue 9 asked 1.5×)


def pg_settings(admin_url: str) -> str:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            values = dict(conn.execute(text("SELECT name, setting FROM pg_settings WHERE name IN "
                                            "('fsync', 'synchronous_commit', 'full_page_writes', 'server_version')")).all())
    finally:
        engine.dispose()
    return (f"PostgreSQL {values.get('server_version')} (fsync={values.get('fsync')}, synchronous_commit={values.get('synchronous_commit')}, "
            f"full_page_writes={values.get('full_page_writes')})")


class Database:
    """A fresh database on the cluster, dropped afterwards."""

    def __init__(self, admin_url: str) -> None:
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"bench_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def _ticks(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """A process and its children (uvicorn's worker processes)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return [pid, *kids]


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU seconds used by the servers, by PostgreSQL and by the clients during one load, and how busy the
    whole machine was (other work on it included)."""

    def __init__(self, server_pids: list[int]) -> None:
        self.servers = [p for pid in server_pids for p in _tree(pid)]
        self._pg = {p: _ticks(p) for p in _postgres_pids()}
        self._srv = {p: _ticks(p) for p in self.servers}
        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._machine = _machine_busy()

    def read(self, elapsed: float) -> dict[str, float]:
        pg = sum(_ticks(p) - self._pg.get(p, 0.0) for p in _postgres_pids())
        srv = sum(_ticks(p) - t for p, t in self._srv.items())
        now = resource.getrusage(resource.RUSAGE_CHILDREN)  # client processes, joined by now
        clients = (now.ru_utime + now.ru_stime) - (self._children.ru_utime + self._children.ru_stime)
        busy, total = _machine_busy()
        cores = os.cpu_count() or 1
        return {"server_cpu": srv / elapsed, "pg_cpu": pg / elapsed, "client_cpu": clients / elapsed,
                "machine_busy": (busy - self._machine[0]) / max(1, total - self._machine[1]) * cores}


def start_servers(data_dir: Path, db_url: str | None, processes: int, workers: int) -> tuple[list[subprocess.Popen], list[int]]:
    """``processes`` serve commands (each ``--workers workers``) on their own ports."""
    procs, ports = [], []
    for _ in range(processes):
        port = free_port()
        args = [sys.executable, "-m", "fivechains.cli", "supervision", "serve", "--data-dir", str(data_dir), "--port", str(port)]
        if db_url:
            args += ["--db", db_url]
        if workers > 1:
            args += ["--workers", str(workers)]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_up(port, proc)
        procs.append(proc)
        ports.append(port)
    return procs, ports


def run_one(workdir: Path, name: str, db_url: str | None, processes: int, workers: int, records: int,
            clients: int, threads: int) -> dict[str, float]:
    data_dir = workdir / name
    key = Ed25519PrivateKey.generate()
    procs, ports = start_servers(data_dir, db_url, processes, workers)
    try:
        store = open_supervision_store(SupervisionConfig(data_dir, db_url=db_url))
        add_lender(store.engine, "L1", "Bench Lender", "GZ-BENCH", public_key_bytes(key.public_key()))
        store.close()
        bodies = signed_bodies(f"http://127.0.0.1:{ports[0]}", key, "L1", records // 1000, 1000, name)
        time.sleep(1)  # let every worker finish starting (and the election settle)
        meter = CpuMeter([p.pid for p in procs])
        result = blast(ports, bodies, clients, threads)
        result.update(meter.read(result["elapsed"]))
    finally:
        for proc in procs:
            stop(proc)
    result["rate"] = records / result["elapsed"]
    return result


def _client(ports: list[int], bodies: list[bytes], threads: int) -> tuple[list[float], int]:
    """One client process: ``threads`` threads, each sending its bodies one batch a connection (a fresh
    connection goes to whichever API process accepts first, as behind a load balancer), round-robin over
    ports; returns every request's latency and how many were not accepted."""
    latencies: list[float] = []
    refused = []

    def run(chunk: list[bytes], turn: int) -> None:
        for n, body in enumerate(chunk):
            t = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", ports[(turn + n) % len(ports)], timeout=120)
            conn.request("POST", "/v1/deposits", body=body, headers={"Content-Type": "application/json", "Connection": "close"})
            response = conn.getresponse()
            response.read()
            conn.close()
            latencies.append(time.perf_counter() - t)  # list.append is atomic
            if response.status != 202:
                refused.append(response.status)

    ts = [threading.Thread(target=run, args=(bodies[i::threads], i)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return latencies, len(refused)


def blast(ports: list[int], bodies: list[bytes], processes: int, threads: int) -> dict[str, float]:
    """Send every body from ``processes`` client processes; wall time and latency quantiles."""
    t = time.perf_counter()
    with ProcessPoolExecutor(processes) as pool:
        answers = list(pool.map(_client, [ports] * processes, [bodies[i::processes] for i in range(processes)], [threads] * processes))
    elapsed = time.perf_counter() - t
    if any(refused for _, refused in answers):
        raise RuntimeError("some requests were not accepted")
    latencies = sorted(x for mine, _ in answers for x in mine)
    return {"elapsed": elapsed, "p50": statistics.median(latencies), "p99": latencies[int(0.99 * (len(latencies) - 1))]}


def with_throwaway_cluster() -> int:
    """Run this script again under a throw-away PostgreSQL (scripts/lib/postgres.sh), then remove it."""
    script = (f'source scripts/lib/postgres.sh && pg_start && [ -n "${{{PG_VAR}:-}}" ] || exit 3; '
              f'python scripts/bench_pg_workers.py "$@"; s=$?; pg_stop; exit $s')
    return subprocess.call(["bash", "-c", script, "bench_pg_workers", *sys.argv[1:]], cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000, help="records per configuration and round, in signed 1,000-item batches")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs every configuration once, in turn (medians reported)")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=8, help="concurrent requests per client process (a connection each)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    admin_url = os.environ.get(PG_VAR)
    if not admin_url:
        sys.exit(with_throwaway_cluster())
    settings = pg_settings(admin_url)
    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-pgw-"))
    configs = [
        ("sqlite", "SQLite, 1 API process", False, 1, 1),
        ("pg1", "PostgreSQL, 1 API process", True, 1, 1),
        ("pg2", "PostgreSQL, 2 API processes (`--workers 2`, one port)", True, 1, 2),
        ("pg2x", "PostgreSQL, 2 serve processes (one port each, batches sent to each in turn)", True, 2, 1),
    ]
    runs: dict[str, list[dict[str, float]]] = {key: [] for key, *_ in configs}
    try:
        for n in range(args.rounds):
            for key, label, on_pg, processes, workers in configs:
                db = Database(admin_url) if on_pg else None
                try:
                    result = run_one(workdir, f"{key}-{n}", db.url if db else None, processes, workers, args.records, args.clients, args.threads)
                finally:
                    if db:
                        db.drop()
                runs[key].append(result)
                print(f"round {n + 1}: {label}: {result['rate']:,.0f} records/s", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def median(key: str, field: str) -> float:
        return statistics.median(r[field] for r in runs[key])

    pg1 = median("pg1", "rate")
    ratios = [b["rate"] / a["rate"] for a, b in zip(runs["pg1"], runs["pg2"])]
    ratio = median("pg2", "rate") / pg1
    rows = []
    for key, label, *_ in configs:
        rates = ", ".join(f"{r['rate']:,.0f}" for r in runs[key])
        rows.append((label, f"{median(key, 'rate'):,.0f} records/s (rounds: {rates}; p50 {median(key, 'p50') * 1e3:.0f} ms a batch); "
                     f"cores busy: API {median(key, 'server_cpu'):.2f}, PostgreSQL {median(key, 'pg_cpu'):.2f}, "
                     f"clients {median(key, 'client_cpu'):.2f}, whole machine {median(key, 'machine_busy'):.2f} of {os.cpu_count()}",
                     f"{median(key, 'rate') / pg1:.2f}× of PostgreSQL, 1 process", "", ""))
    ceiling = (os.cpu_count() or 1) / median("pg1", "machine_busy")  # were every core as busy as one process keeps the machine
    rows.append(("PostgreSQL 2 processes / 1 process (`--workers 2`), medians",
                 f"{ratio:.2f}× (round by round: {', '.join(f'{r:.2f}×' for r in ratios)})", f"{ratio / TARGET:.2f}× of target", f"≥ {TARGET}×",
                 "met" if ratio >= TARGET else "NOT met"))
    rows.append(("… this machine's ceiling for any number of processes: its cores over the cores the whole machine keeps busy "
                 "with one process", f"{ceiling:.2f}×", f"measured {ratio / ceiling:.2f}× of it",
                 f"{TARGET}× needs ≥ {TARGET * median('pg1', 'machine_busy'):.1f} cores", ""))
    body = "\n".join([
        f"Command: `./scripts/bench pg-workers` ({args.rounds} rounds of {args.records:,} records per configuration in signed 1,000-item "
        f"batches, {args.clients} client processes × {args.threads} concurrent requests, a connection per batch; medians); "
        "clients, servers and PostgreSQL share the cores",
        f"Machine: {machine_summary()}",
        f"Database: {settings} — the test suite's throw-away cluster: commits are not flushed to disk, so PostgreSQL",
        "figures are not durable ones (the SQLite row is: WAL, synchronous=FULL)",
        "",
        *results_table(rows),
        "",
        "Notes: every configuration runs once per round, in turn, so a spell of other work on the machine falls on all",
        "of them alike. \"cores busy\" is CPU time over the load's wall time: the API processes (with uvicorn's workers), every",
        "PostgreSQL backend, the client processes, and the whole machine (which includes anything else running on it",
        "then, so a run beside other work is slower and noisier). One API process cannot use much more than one core:",
        "parsing, canonicalising, hashing and checking a batch is Python under one GIL. A second process on the",
        "other core parses in parallel; appends still serialise on PostgreSQL's advisory lock, but that holds only",
        "the COPY of a group's rows, and one elected process seals for both. Each batch goes on a fresh connection",
        "(with a few long keep-alive connections uvicorn's workers, sharing one listening socket, split them",
        "unevenly for the whole run; behind a load balancer or with many lenders they even out). Two serve processes",
        "on two ports, sent batches strictly in turn, do less well than one port: the elected process also seals and",
        "indexes, so it is the slower of the two, and strict turns cannot send it less; on one port the idle worker",
        "accepts first. The SQLite row is one process by design: an SQLite file takes one writing process.",
    ])
    print(body)
    if not args.no_write:
        write_section("pg-workers", TITLE, body)


if __name__ == "__main__":
    main()
