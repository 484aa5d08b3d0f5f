"""Audit benchmarks (issue 8): a full audit of a 1,000,000-entry supervision chain and its
judicial anchors, then an incremental audit of 10,000 new entries.

The chains are built the real way: `fivechains up` (supervision, judicial, portal) in a child
process, a lender depositing signed 10,000-item batches over HTTP, every block anchored over
gRPC with mutual TLS. Each audit is the `fivechains audit` command, timed from process start
to exit (reading both chains over HTTP and gRPC, as a regulator would).

Run through ``./scripts/bench audit``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import httpx  # noqa: E402
from bench_report import machine_summary, results_table, write_section  # noqa: E402
from bench_supervision import free_port, wait_up  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from chain.keys import public_key_bytes  # noqa: E402
from supervision_chain.client import DepositItem, LenderClient  # noqa: E402
from supervision_chain.registry import add_lender  # noqa: E402
from supervision_chain.service import SupervisionConfig, open_supervision_store  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
BATCH = 10_000


def deposit(url: str, key: Ed25519PrivateKey, total: int, threads: int = 2) -> int:
    """Deposit ``total`` records in signed batches from a few clients; return the last index acknowledged."""
    batches = list(range(total // BATCH))
    last = [0]
    lock = threading.Lock()

    def work() -> None:
        with LenderClient(url, "L1", key, timeout=120) as client:
            while True:
                with lock:
                    if not batches:
                        return
                    b = batches.pop()
                now = int(time.time() * 1000)
                tag = uuid.uuid4().hex[:16]
                answer = client.deposit([DepositItem(f"{tag}{b:016x}{i:032x}", "repayment", f"loan-{b}-{i}", now - 3_600_000) for i in range(BATCH)])
                with lock:
                    last[0] = max(last[0], answer["items"][-1]["index"])

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return last[0]


def wait_anchored(url: str, key: Ed25519PrivateKey, index: int, timeout: float = 600) -> None:
    with LenderClient(url, "L1", key) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if client.status(index, wait=10)["status"] == "anchored":
                return
        raise RuntimeError(f"deposit {index} was not anchored within {timeout} s")


def timed_audit(args: list[str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "fivechains.cli", "audit", *args, "--json"], capture_output=True, text=True, env=ENV, timeout=900)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the audit failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-audit-"))
    data = workdir / "fc"
    ports = {"supervision": free_port(), "judicial": free_port(), "portal": free_port(), "risk": free_port(), "credit": free_port()}
    up = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "up", "--data-dir", str(data), "--supervision-port", str(ports["supervision"]),
                           "--judicial-port", str(ports["judicial"]), "--portal-port", str(ports["portal"]), "--risk-port", str(ports["risk"]),
                           "--credit-port", str(ports["credit"])],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        wait_up(ports["supervision"], up)
        url = f"http://127.0.0.1:{ports['supervision']}"
        key = Ed25519PrivateKey.generate()
        store = open_supervision_store(SupervisionConfig(data / "supervision"))
        add_lender(store.engine, "L1", "Bench Lending", "GZ-B", public_key_bytes(key.public_key()))
        store.close()
        print(f"depositing {args.entries:,} records …", flush=True)
        t = time.perf_counter()
        wait_anchored(url, key, deposit(url, key, args.entries))
        print(f"  deposited and anchored in {time.perf_counter() - t:.0f} s", flush=True)
        subprocess.run([sys.executable, "-m", "fivechains.cli", "judicial", "certs", "--certs", str(data / "certs"), "--client", "regulator.bench"],
                       check=True, capture_output=True, env=ENV)
        jvkey = httpx.get(f"http://127.0.0.1:{ports['portal']}/v1/chain").json()["vkey"]
        audit = ["--supervision", url, "--judicial", f"127.0.0.1:{ports['judicial']}", "--certs", str(data / "certs"),
                 "--cert-name", "regulator.bench", "--judicial-vkey", jvkey, "--state", str(workdir / "state")]
        print("full audit …", flush=True)
        full_s, full = timed_audit(audit)
        print(f"  {full_s:.1f} s: {full['supervision']['entries']:,} supervision and {full['judicial']['entries']:,} judicial entries", flush=True)
        wait_anchored(url, key, deposit(url, key, args.new, threads=1))
        print("incremental audit …", flush=True)
        incr_s, incr = timed_audit(audit)
        print(f"  {incr_s:.2f} s for {incr['supervision']['checked_entries']:,} new entries", flush=True)
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=120)
        except subprocess.TimeoutExpired:
            up.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [
        (f"Full audit: {full['supervision']['entries']:,} supervision entries ({full['supervision']['blocks']} blocks) and "
         f"{full['judicial']['entries']:,} judicial anchors, every block replayed, every anchor matched "
         f"(`fivechains audit`, process start to exit; {full['seconds']:.1f} s inside)",
         f"{full_s:.1f} s", f"{full_s / 60:.2f}× of limit", "≤ 60 s", "met" if full_s <= 60 else "NOT met"),
        (f"Incremental audit: {incr['supervision']['checked_entries']:,} new supervision entries and "
         f"{incr['judicial']['checked_entries']:,} new judicial anchors ({incr['seconds']:.2f} s inside)",
         f"{incr_s:.2f} s", f"{incr_s / 2:.2f}× of limit", "≤ 2 s", "met" if incr_s <= 2 else "NOT met"),
    ]
    body = "\n".join([f"Command: `./scripts/bench audit` (entries={args.entries:,}, new={args.new:,}; chains built through the HTTP API "
                      "and anchored over gRPC by `fivechains up`, default sealing 10k/500 ms, SQLite)",
                      f"Machine: {machine_summary()}", "", *results_table(rows)])
    print(body)
    if not args.no_write:
        write_section("audit", "Regulator audit (issue 8)", body)


if __name__ == "__main__":
    main()
