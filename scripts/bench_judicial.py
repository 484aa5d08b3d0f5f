"""Judicial-chain benchmarks (issue 6): anchoring throughput over gRPC with mutual TLS, and
deposit → code latency at a sustained deposit rate with default sealing.

Run through ``./scripts/bench judicial``; servers are separate processes on loopback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
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

import grpc  # noqa: E402
import httpx  # noqa: E402
from bench_report import machine_summary, results_table, write_section  # noqa: E402
from bench_supervision import free_port, wait_up  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from chain.keys import public_key_bytes  # noqa: E402
from chain.ledger import Ledger  # noqa: E402
from chain.note import Ed25519NoteSigner, format_vkey  # noqa: E402
from chain_sql import open_store  # noqa: E402
from judicial_chain.certs import client_stem, ensure_consortium  # noqa: E402
from judicial_chain.server import client_channel  # noqa: E402
from judicial_chain.service import JudicialChain, JudicialConfig  # noqa: E402
from proto import crosschain_pb2 as pb  # noqa: E402
from proto import crosschain_pb2_grpc as pb_grpc  # noqa: E402
from supervision_chain.client import DepositItem, LenderClient  # noqa: E402
from supervision_chain.records import Item, entry_bytes, new_item_salt  # noqa: E402
from supervision_chain.registry import add_lender  # noqa: E402
from supervision_chain.service import DEFAULT_CHAIN_ID, SupervisionConfig, open_supervision_store  # noqa: E402

SOURCE = "bench.supervision/gz"


def bench_anchoring(workdir: Path, blocks: int, per_block: int) -> float:
    """Anchor pre-sealed supervision blocks through the judicial gRPC service; digests/s."""
    certs = workdir / "certs-a"
    ensure_consortium(certs, [SOURCE])
    signer = Ed25519NoteSigner(SOURCE, Ed25519PrivateKey.generate())
    store = open_store(workdir / "source.db")
    ledger = Ledger.create(store, SOURCE, signer)
    now = int(time.time() * 1000)
    for b in range(blocks):
        ledger.append([entry_bytes("L1", Item(uuid.uuid4().hex * 2, "repayment", f"loan-{b}-{i}", now, new_item_salt()), os.urandom(32), now)
                       for i in range(per_block)])
        ledger.seal()
    requests = []
    for height in range(blocks):
        stored = store.block(height)
        first = stored.tree_size - per_block
        requests.append(pb.AnchorRequest(source_chain_id=SOURCE, block_header=stored.header, checkpoint=store.checkpoint(stored.tree_size),
                                         first_index=first, entries=[e.data for e in store.entries(first, stored.tree_size)]))
    store.close()
    judicial = JudicialChain(JudicialConfig(workdir / "judicial-a"))
    judicial.register_source(SOURCE, format_vkey(signer.verifier()))
    judicial.close()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "judicial", "serve", "--data-dir", str(workdir / "judicial-a"),
                               "--certs", str(certs), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    channel = client_channel(f"127.0.0.1:{port}", certs, client_stem(SOURCE))
    stub = pb_grpc.CrossChainStub(channel)
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
        t = time.perf_counter()
        for request in requests:
            receipt = stub.Anchor(request, timeout=120)
            assert len(receipt.deposit_codes) == per_block
        elapsed = time.perf_counter() - t
    finally:
        channel.close()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    return blocks * per_block / elapsed


def bench_latency(workdir: Path, rate: int, seconds: int, batch: int) -> dict[str, float]:
    """Deposit at ``rate`` records/s; time from the 202 until the code is visible to the lender."""
    certs, sdir, jdir = workdir / "certs", workdir / "supervision", workdir / "judicial"
    ensure_consortium(certs, [DEFAULT_CHAIN_ID])
    jport, sport = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sv = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "supervision", "serve", "--data-dir", str(sdir), "--port", str(sport),
                           "--judicial", f"127.0.0.1:{jport}", "--certs", str(certs)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_up(sport, sv)
    url = f"http://127.0.0.1:{sport}"
    key = Ed25519PrivateKey.generate()
    store = open_supervision_store(SupervisionConfig(sdir))
    add_lender(store.engine, "L1", "Bench", "GZ-B", public_key_bytes(key.public_key()))
    store.close()
    vkey = httpx.get(url + "/v1/chain").json()["vkey"]
    judicial = JudicialChain(JudicialConfig(jdir))
    judicial.register_source(DEFAULT_CHAIN_ID, vkey)
    judicial.close()
    jc = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "judicial", "serve", "--data-dir", str(jdir), "--certs", str(certs),
                           "--port", str(jport)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(2)
    accepted: dict[int, float] = {}  # first index of each batch → when its 202 arrived
    done: dict[int, float] = {}
    finished = threading.Event()

    def watch() -> None:
        with LenderClient(url, "L1", key) as c:
            while not (finished.is_set() and len(done) == len(accepted)):
                pending = sorted(i for i in accepted if i not in done)
                if not pending:
                    time.sleep(0.005)
                    continue
                index = pending[0]
                view = c.status(index, wait=5)
                if view["status"] == "anchored":
                    done[index] = time.perf_counter()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with LenderClient(url, "L1", key) as client:
            interval = batch / rate
            start = time.perf_counter()
            n = 0
            while time.perf_counter() - start < seconds:
                items = [DepositItem(uuid.uuid4().hex * 2, "repayment", f"loan-{n}-{i}", int(time.time() * 1000)) for i in range(batch)]
                answer = client.deposit(items)
                accepted[answer["items"][0]["index"]] = time.perf_counter()
                n += 1
                delay = start + n * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            achieved = n * batch / (time.perf_counter() - start)
        finished.set()
        watcher.join(timeout=120)
    finally:
        for proc in (sv, jc):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    latencies = sorted(done[i] - accepted[i] for i in done)
    return {"rate": achieved, "p50": statistics.median(latencies), "p99": latencies[int(0.99 * (len(latencies) - 1))], "samples": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--per-block", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=20_000, help="records/s deposited (issue 17: 20,000/s for 60 s, p99 < 1 s)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-jc-"))
    try:
        print("anchoring throughput …", flush=True)
        anchoring = bench_anchoring(workdir, args.blocks, args.per_block)
        print("deposit → code latency …", flush=True)
        latency = bench_latency(workdir, args.rate, args.seconds, batch=100)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [
        (f"Anchoring over gRPC with mutual TLS ({args.blocks} blocks × {args.per_block:,} digests, one judicial server process)",
         f"{anchoring:,.0f} digests/s", f"{anchoring / 50_000:.2f}× of target", "≥ 50,000/s", "met" if anchoring >= 50_000 else "NOT met"),
        (f"Deposit → code visible to the lender, at {latency['rate']:,.0f} records/s for {args.seconds} s (100-item batches, default sealing 10k/500 ms)",
         f"p50 {latency['p50']:.2f} s, p99 {latency['p99']:.2f} s ({latency['samples']} batches)", f"p99 {latency['p99'] / 1:.2f}× of limit",
         "p99 < 1 s", "met" if latency["p99"] < 1 else "NOT met"),
    ]
    body = "\n".join([f"Command: `./scripts/bench judicial` (rate={args.rate:,}/s, seconds={args.seconds})", f"Machine: {machine_summary()}", "",
                      *results_table(rows)])
    print(body)
    if not args.no_write:
        write_section("judicial", "Judicial chain and cross-link (issue 6)", body)


if __name__ == "__main__":
    main()
