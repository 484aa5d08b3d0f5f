"""`fivechains demo`: show the ledger working end to end on embedded SQLite.

Deposits sample loan-record digests, seals blocks, proves an entry offline, proves the
log append-only, audits it, then edits one row of a copy and shows the audit naming it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from pathlib import Path

from rich.table import Table

from chain.audit import audit_ledger
from chain.errors import ChainError
from chain.hashing import suite_by_name
from chain.keys import CHAIN_SUITES, load_or_create_signer
from chain.ledger import Ledger
from chain.merkle import verify_consistency
from chain.tlog_proof import format_tlog_proof, parse_tlog_proof, verify_tlog_proof
from chain_sql import open_store
from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry

from .ledger_cli import DB_FILE, KEY_FILE, print_audit
from .output import console

CHAIN_ID = "supervision.demo.fivechains/gz"
RECORD_TYPES = ["contract", "disbursement", "repayment", "overdue", "collection"]


def _record(i: int) -> bytes:
    """A sample public supervision entry: the digest of a loan record and a salted commitment, never the record."""
    digest = hashlib.sha256(b"loan record %d" % i).hexdigest()
    hidden = hashlib.sha256(b"loan-%06d" % (i // 5) + os.urandom(32)).hexdigest()  # stands for the salted item's hash
    now = int(time.time() * 1000)
    return encode_supervision_entry(SupervisionEntry(hidden, now, digest, now, f"L{1 + i % 3:04d}", RECORD_TYPES[i % 5]))


def run_demo(data_dir: Path, records: int = 5000, blocks: int = 5, keep_running: bool = False, suite: str = "ed25519") -> None:
    """The ledger on its own, then the whole system; ``suite`` "sm2" runs every chain (and the lender) on SM2 + SM3."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key_type, hash_suite = CHAIN_SUITES[suite]
    signer = load_or_create_signer(data_dir / KEY_FILE, CHAIN_ID, key_type)
    store = open_store(data_dir / DB_FILE)
    ledger = Ledger.open_or_create(store, CHAIN_ID, signer, suite_by_name(hash_suite))
    console.rule("[bold]Five Chains ledger demo[/] — supervision chain on embedded SQLite")
    console.print(f"data directory: {data_dir.resolve()}  (database {DB_FILE}, signing key {KEY_FILE}, mode 0600; "
                  f"suite: {type(signer).__name__.removesuffix('NoteSigner')} + {ledger.suite.name.upper()})")

    start = store.size()
    per_block = max(1, records // blocks)
    table = Table("block", "entries", "tree size", "root (first 16 hex)", title="sealed blocks")
    t0 = time.perf_counter()
    for b in range(blocks):
        first = start + b * per_block
        ledger.append([_record(i) for i in range(first, first + per_block)])
        block = ledger.seal()
        h = block.header
        table.add_row(str(h.height), str(h.entry_count), str(h.tree_size), h.root.hex()[:16])
    elapsed = time.perf_counter() - t0
    console.print(table)
    console.print(f"{records} entries appended and sealed in {elapsed:.2f} s")

    cp = ledger.latest_checkpoint()
    console.print("\n[bold]latest checkpoint[/] (C2SP signed note):")
    console.print(cp.to_text(), markup=False, highlight=False)

    index = start + records // 2
    proof = ledger.inclusion_proof(index)
    proof_file = data_dir / f"entry-{index}.tlog-proof"
    proof_file.write_text(format_tlog_proof(index, proof.hashes, cp.to_text()))
    parsed = parse_tlog_proof(proof_file.read_text())
    from chain.merkle import leaf_hash

    verify_tlog_proof(parsed, leaf_hash(ledger.entry(index), ledger.suite), ledger.verifier, origin=CHAIN_ID, suite=ledger.suite)
    console.print(f"[green]✓[/] entry {index} proved offline from {proof_file.name} ({len(proof.hashes)} hashes, public key only)")

    old = ledger.block(max(0, ledger.latest_block().header.height - blocks + 1)).header
    cons = ledger.consistency_proof(old.tree_size, cp.checkpoint.size)
    assert verify_consistency(old.tree_size, cp.checkpoint.size, old.root, cp.checkpoint.root, cons.hashes, ledger.suite)
    console.print(f"[green]✓[/] tree of size {old.tree_size} is a prefix of size {cp.checkpoint.size} (consistency proof, {len(cons.hashes)} hashes)")

    console.print("\n[bold]audit of the ledger[/]:")
    print_audit(audit_ledger(store, ledger.verifier), json_out=False)
    store.close()

    tampered = data_dir / "tampered-copy.db"
    shutil.copyfile(data_dir / DB_FILE, tampered)
    for suffix in ("-wal", "-shm"):
        Path(str(tampered) + suffix).unlink(missing_ok=True)
    with sqlite3.connect(tampered) as conn:
        conn.execute("UPDATE ledger_entry SET data = ? WHERE idx = ?", (b'{"digest":"00","note":"edited"}', index))
    console.print(f"\n[bold]audit of a copy with entry {index} edited directly in the database[/]:")
    copy_store = open_store(tampered)
    try:
        print_audit(audit_ledger(copy_store, ledger.verifier), json_out=False)
    except ChainError as exc:  # pragma: no cover - shown, not hidden
        console.print(f"audit error: {exc}")
    finally:
        copy_store.close()
        tampered.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(tampered) + suffix).unlink(missing_ok=True)
    from .demo_supervision import run_supervision_demo

    run_supervision_demo(data_dir, keep_running, suite)
    console.rule("done")
