"""Ledger-core benchmarks (issue 4): root vs. floor and pymerkle, durable append+seal, proofs.

Run through ``./scripts/bench ledger``; writes its section of BENCHMARKS.md. Every ratio is
measured in the same run as the figure it divides.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_report import machine_summary, results_table, write_section  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from chain.ledger import Ledger  # noqa: E402
from chain.merkle import leaf_hash, root, verify_consistency, verify_inclusion  # noqa: E402
from chain.note import Ed25519NoteSigner  # noqa: E402
from chain_sql import open_store  # noqa: E402


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_root(n: int, repeat: int) -> dict[str, float]:
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]
    inputs = [b"\x01" + leaves[i] + leaves[i ^ 1] for i in range(n - 1)]  # n − 1 node-sized inputs
    sha = hashlib.sha256
    gc.collect()
    gc.freeze()

    def floor_bare() -> None:
        for x in inputs:
            sha(x).digest()

    def floor_kept() -> None:
        [sha(x).digest() for x in inputs]

    ours, bare, kept = [], [], []
    for _ in range(repeat):  # interleaved, so drift hits all three alike
        for bucket, fn in ((bare, floor_bare), (kept, floor_kept), (ours, lambda: root(leaves))):
            t = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - t)
    gc.unfreeze()
    return {"ours": statistics.median(ours), "floor_bare": statistics.median(bare), "floor_kept": statistics.median(kept)}


def bench_pymerkle(n: int) -> dict[str, float]:
    """From the same entries to their RFC 9162 root: ours (leaf hashes, then root) vs pymerkle.

    pymerkle takes leaves only by appending entries (it hashes them and keeps its nodes), so
    that is its path from leaves to root. Ours runs first, while no pymerkle nodes are alive
    for the garbage collector to walk.
    """
    from pymerkle import InmemoryTree

    entries = [b"entry-%d" % i for i in range(n)]
    gc.collect()
    t = time.perf_counter()
    ours = root([leaf_hash(e) for e in entries])
    our_build = time.perf_counter() - t
    tree = InmemoryTree(algorithm="sha256")
    t = time.perf_counter()
    for e in entries:
        tree.append_entry(e)
    theirs = tree.get_root()
    their_build = time.perf_counter() - t
    assert ours == theirs, "pymerkle and we disagree on the RFC 9162 root"
    del tree
    gc.collect()
    return {"pymerkle_build": their_build, "ours_build": our_build}


def _entries(start: int, n: int) -> list[bytes]:
    # ~100-byte entries, about the size of a supervision deposit record
    return [b'{"digest":"%064x","lender":"L0001","type":"repayment","loan":"loan-%d"}' % (i, i) for i in range(start, start + n)]


def bench_append_seal(workdir: Path, n: int, batch: int) -> tuple[dict[str, float], Path]:
    db = workdir / "ledger.db"
    signer = Ed25519NoteSigner("bench.example/ledger", Ed25519PrivateKey.generate())
    store = open_store(db)
    ledger = Ledger.create(store, "bench.example/ledger", signer)
    batches = [_entries(i, min(batch, n - i)) for i in range(0, n, batch)]
    t = time.perf_counter()
    for entries in batches:
        ledger.append(entries)
        ledger.seal()
    ours = time.perf_counter() - t
    cp = ledger.latest_checkpoint()
    assert cp is not None and cp.checkpoint.size == n
    store.close()

    raw_db = workdir / "raw.db"
    conn = sqlite3.connect(raw_db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE ledger_entry (idx BIGINT PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL)")
    rows = [[(i + j, hashlib.sha256(b"\x00" + e).digest(), e) for j, e in enumerate(entries)] for i, entries in zip(range(0, n, batch), batches)]
    t = time.perf_counter()
    for chunk in rows:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO ledger_entry VALUES (?, ?, ?)", chunk)
        conn.execute("COMMIT")
    floor = time.perf_counter() - t
    conn.close()
    return {"ours": ours, "floor": floor}, db


def bench_proofs(db: Path, samples: int) -> dict[str, float]:
    store = open_store(db)
    ledger = Ledger(store)  # a fresh reader: cold caches
    size = ledger.sealed_size()
    cp = ledger.latest_checkpoint().checkpoint
    rng = random.Random(1)
    incl, cons = [], []
    for _ in range(samples):
        index = rng.randrange(size)
        t = time.perf_counter()
        proof = ledger.inclusion_proof(index)
        incl.append(time.perf_counter() - t)
        assert verify_inclusion(proof.leaf_hash, index, size, proof.hashes, cp.root)
    for _ in range(samples):
        old = rng.randrange(1, size)
        t = time.perf_counter()
        proof = ledger.consistency_proof(old)
        cons.append(time.perf_counter() - t)
        if len(cons) <= 20:  # check a few against independently computed roots
            assert verify_consistency(old, size, ledger.root_at(old), cp.root, proof.hashes)
    store.close()
    q = lambda xs, p: sorted(xs)[int(p * (len(xs) - 1))]  # noqa: E731
    return {
        "incl_p50": statistics.median(incl),
        "incl_p99": q(incl, 0.99),
        "cons_p50": statistics.median(cons),
        "cons_p99": q(cons, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--proof-samples", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    n = args.entries

    print(f"root of {n:,} leaves …", flush=True)
    r = bench_root(n, args.repeat)
    print(f"pymerkle on {n:,} entries …", flush=True)
    p = bench_pymerkle(n)
    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-"))
    try:
        print(f"append + seal {n:,} entries into SQLite …", flush=True)
        a, db = bench_append_seal(workdir, n, 10_000)
        print("proofs …", flush=True)
        pr = bench_proofs(db, args.proof_samples)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    rate, floor_rate = n / a["ours"], n / a["floor"]
    rows = [
        ("Root of %s leaves vs. floor (bare loop of %s SHA-256 calls on pre-built inputs)" % (f"{n:,}", f"{n - 1:,}"),
         f"{r['ours'] * 1e3:.0f} ms vs {r['floor_bare'] * 1e3:.0f} ms", f"{r['ours'] / r['floor_bare']:.2f}×", "≤ 1.3×",
         "met" if r["ours"] / r["floor_bare"] <= 1.3 else "NOT met"),
        ("… same, floor keeping the digests in a list", f"{r['ours'] * 1e3:.0f} ms vs {r['floor_kept'] * 1e3:.0f} ms",
         f"{r['ours'] / r['floor_kept']:.2f}×", "(context)", ""),
        (f"Entries → root ({n:,}: leaf hashes, then root) vs. pymerkle {__import__('pymerkle').__version__} InmemoryTree",
         f"{p['ours_build']:.2f} s vs {p['pymerkle_build']:.2f} s", f"{p['pymerkle_build'] / p['ours_build']:.1f}× faster", "≥ 8× faster",
         "met" if p["pymerkle_build"] / p["ours_build"] >= 8 else "NOT met"),
        (f"Append + seal {n:,} entries into SQLite (WAL, synchronous=FULL, 10k per block)",
         f"{rate:,.0f} entries/s", f"{rate / floor_rate:.2f}× of raw sqlite3 ({floor_rate:,.0f} rows/s, 10k-row txns)", "≥ 100,000/s",
         "met" if rate >= 100_000 else "NOT met"),
        (f"Inclusion proof from the stored {n:,}-entry ledger ({args.proof_samples} random, cold reader)",
         f"p50 {pr['incl_p50'] * 1e3:.2f} ms, p99 {pr['incl_p99'] * 1e3:.2f} ms", f"{pr['incl_p50'] * 1e3 / 2:.2f}× of limit", "p50 < 2 ms",
         "met" if pr["incl_p50"] < 0.002 else "NOT met"),
        (f"Consistency proof, random old size → {n:,}",
         f"p50 {pr['cons_p50'] * 1e3:.2f} ms, p99 {pr['cons_p99'] * 1e3:.2f} ms", f"{pr['cons_p50'] * 1e3 / 2:.2f}× of limit", "p50 < 2 ms",
         "met" if pr["cons_p50"] < 0.002 else "NOT met"),
    ]
    lines = [
        *results_table(rows),
    ]
    body = "\n".join(
        [
            f"Command: `./scripts/bench ledger` (entries={n:,}, repeat={args.repeat}, proof samples={args.proof_samples})",
            f"Machine: {machine_summary()}",
            "",
            *lines,
            "",
            "Notes: the root is computed level by level, one `sha256(0x01‖left‖right)` per node in a list comprehension;",
            "the floor hashes the same number of ready-made 65-byte inputs and throws the digests away. What separates",
            "the two is CPython's per-node cost of building each input (two concatenations) and keeping the digest;",
            "every pure-Python layout tried (memoryview slices over one buffer, `map` pipelines, prefixed left",
            "children) measured slower. Reaching ≤ 1.3× of a bare loop needs a native hashing loop, which this",
            "project (a pure-Python machine kind) does not build. Append + seal, proofs and pymerkle meet their targets.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("ledger", "Ledger core (issue 4)", body)


if __name__ == "__main__":
    main()
