"""Judicial-chain benchmarks (issue 6): anchoring throughput over gRPC with mutual TLS, and
deposit → code latency at a sustained deposit rate with default sealing.

Run through ``./scripts/bench judicial``; servers are separate processes on loopback.
"""

from __future__ import annotations

import argparse
import http.client
import json
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
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import grpc  # noqa: E402
import httpx  # noqa: E402
from bench_report import machine_summary, results_table, write_section  # noqa: E402
from bench_supervision import cpu_seconds, free_port, signed_bodies, wait_up  # noqa: E402
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
from supervision_chain.client import LenderClient  # noqa: E402
from supervision_chain.records import Item, entry_bytes, new_item_salt  # noqa: E402
from supervision_chain.registry import add_lender  # noqa: E402
from supervision_chain.service import DEFAULT_CHAIN_ID, SupervisionConfig, open_supervision_store  # noqa: E402

SOURCE = "bench.supervision/gz"
SENDERS = 4  # connections sending the paced deposits


def _sign_share(args: tuple[str, bytes, int, int, int]) -> list[bytes]:
    url, raw_key, count, batch, part = args
    return signed_bodies(url, Ed25519PrivateKey.from_private_bytes(raw_key), "L1", count, batch, f"lat{part}")


def presigned_bodies(url: str, key: Ed25519PrivateKey, count: int, batch: int) -> list[bytes]:
    """``count`` signed deposit bodies, made before the clock starts (two processes: the SDK signs in Python)."""
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    shares = [(url, raw, count // 2 + (count % 2 if n == 0 else 0), batch, n) for n in range(2)]
    with ProcessPoolExecutor(2) as pool:
        return [body for share in pool.map(_sign_share, shares) for body in share]


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


def bench_latency(workdir: Path, rate: int, seconds: int, batch: int, sealing: list[str]) -> dict[str, float]:
    """Deposit at ``rate`` records/s; time from the 202 until the code is visible to the lender."""
    certs, sdir, jdir = workdir / "certs", workdir / "supervision", workdir / "judicial"
    ensure_consortium(certs, [DEFAULT_CHAIN_ID])
    jport, sport = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sv = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "supervision", "serve", "--data-dir", str(sdir), "--port", str(sport),
                           "--judicial", f"127.0.0.1:{jport}", "--certs", str(certs), *sealing], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
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
    print(f"signing {rate * seconds // batch:,} bodies of {batch} items …", flush=True)
    bodies = presigned_bodies(url, key, rate * seconds // batch, batch)
    accepted: dict[int, float] = {}  # first index of each batch → when its 202 arrived
    done: dict[int, float] = {}
    finished = threading.Event()
    lock = threading.Lock()

    def watch() -> None:
        """Long-poll the oldest batch not yet anchored; once it is, its whole block is (codes come per block)."""
        block_end: dict[int, int] = {}
        with LenderClient(url, "L1", key) as c:
            while not (finished.is_set() and len(done) == len(accepted)):
                with lock:
                    pending = [i for i in accepted if i not in done]
                if not pending:
                    time.sleep(0.005)
                    continue
                view = c.status(min(pending), wait=5)
                if view["status"] != "anchored":
                    continue
                seen = time.perf_counter()
                height = view["block_height"]
                if height not in block_end:
                    block_end[height] = httpx.get(f"{url}/v1/blocks/{height}").json()["tree_size"]
                with lock:
                    for i in pending:
                        if i < block_end[height]:
                            done[i] = seen

    watcher = threading.Thread(target=watch)
    watcher.start()
    next_body = iter(range(len(bodies)))
    start = time.perf_counter() + 0.5
    interval = batch / rate

    def send() -> None:
        """A keep-alive connection sending the bodies due, each at start + k × interval (at once when behind)."""
        conn = http.client.HTTPConnection("127.0.0.1", sport, timeout=60)
        while True:
            with lock:
                k = next(next_body, None)
            if k is None:
                return
            delay = start + k * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.request("POST", "/v1/deposits", body=bodies[k], headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            answer = response.read()
            if response.status != 202:
                raise RuntimeError(f"deposit refused: {response.status} {answer[:200]!r}")
            arrived = time.perf_counter()
            with lock:
                accepted[json.loads(answer)["items"][0]["index"]] = arrived

    cpu_before = {name: cpu_seconds(proc.pid) for name, proc in (("supervision", sv), ("judicial", jc))}
    try:
        senders = [threading.Thread(target=send) for _ in range(SENDERS)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        wall = time.perf_counter() - start
        achieved = len(bodies) * batch / wall
        cores = {name: (cpu_seconds(proc.pid) - cpu_before[name]) / wall for name, proc in (("supervision", sv), ("judicial", jc))}
        finished.set()
        watcher.join(timeout=120)
    finally:
        for proc in (sv, jc):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    latencies = sorted(done[i] - accepted[i] for i in done)
    return {"rate": achieved, "p50": statistics.median(latencies), "p99": latencies[int(0.99 * (len(latencies) - 1))], "samples": len(latencies),
            "cores": cores, "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--per-block", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=20_000, help="records/s deposited (issue 17: 20,000/s for 60 s, p99 < 1 s)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--batch", type=int, default=1000, help="records per deposit request in the latency run")
    parser.add_argument("--seal-entries", type=int, help="the supervision chain's --seal-entries in the latency run (default: its own)")
    parser.add_argument("--latency-only", action="store_true", help="skip the anchoring throughput (prints, never writes)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-jc-"))
    try:
        print("anchoring throughput …", flush=True)
        anchoring = 0.0 if args.latency_only else bench_anchoring(workdir, args.blocks, args.per_block)
        print("deposit → code latency …", flush=True)
        latency = bench_latency(workdir, args.rate, args.seconds, batch=args.batch,
                                sealing=["--seal-entries", str(args.seal_entries)] if args.seal_entries else [])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [
        (f"Anchoring over gRPC with mutual TLS ({args.blocks} blocks × {args.per_block:,} digests, one judicial server process)",
         f"{anchoring:,.0f} digests/s", f"{anchoring / 50_000:.2f}× of target", "≥ 50,000/s", "met" if anchoring >= 50_000 else "NOT met"),
        (f"Deposit → code visible to the lender, at {latency['rate']:,.0f} records/s for {args.seconds} s "
         f"({args.batch:,}-item pre-signed batches paced from {SENDERS} connections, "
         f"{'sealing every ' + format(args.seal_entries, ',') + ' entries or 500 ms' if args.seal_entries else 'default sealing 10k/500 ms'})",
         f"p50 {latency['p50']:.2f} s, p99 {latency['p99']:.2f} s ({latency['samples']} batches); cores busy while sending: supervision "
         f"{latency['cores']['supervision']:.2f}, judicial {latency['cores']['judicial']:.2f} of {os.cpu_count()}; load average {latency['load']:.1f}",
         f"p99 {latency['p99'] / 1:.2f}× of limit",
         "p99 < 1 s", "met" if latency["p99"] < 1 else "NOT met"),
    ]
    body = "\n".join([f"Command: `./scripts/bench judicial` (rate={args.rate:,}/s, seconds={args.seconds})", f"Machine: {machine_summary()}", "",
                      *results_table(rows)])
    print(body)
    if not (args.no_write or args.latency_only):
        write_section("judicial", "Judicial chain and cross-link (issue 6)", body)


if __name__ == "__main__":
    main()
