"""Court-portal benchmark (issue 7): verify 100,000 JSON records with their codes through the API.

The floor, measured in the same run, is the work no implementation can skip: hashing each
record's canonical form and checking each inclusion proof against the signed root.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import httpx  # noqa: E402
from bench_report import machine_summary, results_table, write_section  # noqa: E402
from bench_supervision import free_port, wait_up  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from chain.ledger import Ledger  # noqa: E402
from chain.merkle import verify_inclusion  # noqa: E402
from chain.note import Ed25519NoteSigner, format_vkey  # noqa: E402
from chain_sql import open_store  # noqa: E402
from judicial_chain.portal.accounts import add_judge, create_tables  # noqa: E402
from judicial_chain.service import JudicialChain, JudicialConfig  # noqa: E402
from supervision_chain.records import Item, canonical_json, digest_bytes, entry_bytes, new_item_salt  # noqa: E402

SOURCE = "bench.supervision/gz"


def build(workdir: Path, n: int) -> tuple[list[dict], str]:
    """A judicial chain holding n anchored deposits of JSON records; the court's items for them."""
    signer = Ed25519NoteSigner(SOURCE, Ed25519PrivateKey.generate())
    store = open_store(workdir / "source.db")
    ledger = Ledger.create(store, SOURCE, signer)
    judicial = JudicialChain(JudicialConfig(workdir / "judicial"))
    judicial.register_source(SOURCE, format_vkey(signer.verifier()))
    now = int(time.time() * 1000)
    items = []
    for b in range(0, n, 10_000):
        records = [{"loan_id": f"loan-{i}", "amount": i, "type": "repayment"} for i in range(b, min(n, b + 10_000))]
        salts = [os.urandom(16).hex() for _ in records]
        digests = [digest_bytes(canonical_json(r), s) for r, s in zip(records, salts)]
        ledger.append([entry_bytes("L1", Item(d, "repayment", f"loan-{b}-{i}", now, new_item_salt()), bytes(32), now) for i, d in enumerate(digests)])
        block = ledger.seal()
        entries = [e.data for e in store.entries(block.header.first_index, block.header.tree_size)]
        result = judicial.anchor(SOURCE, SOURCE, block.to_text(), store.checkpoint(block.header.tree_size), block.header.first_index, entries)
        items += [{"code": c, "record": r, "salt": s} for c, r, s in zip(result.codes, records, salts)]
    create_tables(judicial.store.engine)
    token = add_judge(judicial.store.engine, "BENCH", "Bench judge").token
    judicial.close()
    store.close()
    return items, token


def floor(workdir: Path, items: list[dict]) -> float:
    """Hash every record and check every inclusion proof, nothing else (same machine, same run)."""
    judicial = JudicialChain(JudicialConfig(workdir / "judicial"))
    cp = judicial.ledger.latest_checkpoint().checkpoint
    proofs = [judicial.ledger.inclusion_proof(i, cp.size) for i in range(len(items))]
    leaves = [p.leaf_hash for p in proofs]
    t = time.perf_counter()
    for item, proof, leaf in zip(items, proofs, leaves):
        digest_bytes(canonical_json(item["record"]), item["salt"])
        assert verify_inclusion(leaf, proof.index, cp.size, proof.hashes, cp.root)
    elapsed = time.perf_counter() - t
    judicial.close()
    return len(items) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-portal-"))
    try:
        print("building an anchored judicial chain …", flush=True)
        items, token = build(workdir, args.items)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "judicial", "portal", "--data-dir", str(workdir / "judicial"),
                                 "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_up(port, proc)
        body = json.dumps({"case_id": "bench", "items": items}).encode()
        print(f"verifying {len(items):,} items through the API …", flush=True)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
                t = time.perf_counter()
                job = http.post("/v1/verifications", content=body, headers={"content-type": "application/json"}).json()["job_id"]
                while True:
                    view = http.get(f"/v1/verifications/{job}", params={"limit": 1}).json()
                    if view["status"] not in ("queued", "running"):  # a job waits for a worker of the pool, then runs
                        break
                    time.sleep(0.05)
                elapsed = time.perf_counter() - t
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        assert view["status"] == "done" and view["counts"]["verified"] == len(items), view
        rate = len(items) / elapsed
        print("floor …", flush=True)
        floor_rate = floor(workdir, items)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [(f"Verify {len(items):,} JSON records with their codes through the API (one portal process; upload, parse, verdicts; each verified item's proof bundle is made when asked for)",
             f"{rate:,.0f} items/s ({elapsed:.1f} s)", f"{rate / 20_000:.2f}× of target; {rate / floor_rate:.2f}× of the floor", "≥ 20,000/s",
             "met" if rate >= 20_000 else "NOT met"),
            ("… floor: canonical hashing of each record + checking its inclusion proof, nothing else", f"{floor_rate:,.0f} items/s", "", "(floor)", "")]
    text = "\n".join([f"Command: `./scripts/bench portal` (items={len(items):,})", f"Machine: {machine_summary()}", "", *results_table(rows)])
    print(text)
    if not args.no_write:
        write_section("portal", "Court portal batch verification (issue 7)", text)


if __name__ == "__main__":
    main()
