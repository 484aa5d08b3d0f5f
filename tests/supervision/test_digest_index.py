"""The digest runs (``digest_index``): written by the database after each seal, found again by digest.

A run is cut by ``substr`` in SQL, so these tests check that what the database writes is the
Python key of every deposit, in key order, once per sealed block; that a look-up finds exactly a
lender's deposits of a digest across blocks and pending ones, even when another digest shares its
16-character prefix; and that a database indexed by the older integer runs is indexed again.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text

from chain.keys import public_key_bytes
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.digest_index import RUN, digest_prefix, find_indexes, index_sealed_blocks
from supervision_chain.records import Item
from supervision_chain.registry import add_lender
from supervision_chain.service import SupervisionChain, SupervisionConfig


@pytest.fixture
def chain(tmp_path: Path):
    sv = SupervisionChain(SupervisionConfig(tmp_path / "sv"))
    keys = {lid: Ed25519PrivateKey.generate() for lid in ("L1", "L2")}
    for lid, key in keys.items():
        add_lender(sv.store.engine, lid, lid, f"GZ-{lid}", public_key_bytes(key.public_key()))
    sv.writer.start()  # the group commit only: sealing and indexing are driven by the test
    yield sv, keys
    sv.writer.stop()
    sv.store.close()


def _deposit(sv: SupervisionChain, key: Ed25519PrivateKey, lender: str, digests: list[str]) -> int:
    client = LenderClient("http://unused", lender, key, chain_id=sv.config.chain_id)
    body = client.signed_request([DepositItem(d, "repayment", f"loan-{n}", int(time.time() * 1000) - 1000) for n, d in enumerate(digests)])
    items = [Item(i["digest"], i["record_type"], i["loan_id"], i["event_time_ms"], i["commitment_salt"]) for i in body["items"]]
    receipt = sv.deposit(lender, body["nonce"], body["timestamp_ms"], None, items, base64.b64decode(body["signature"]))
    return receipt["items"][0]["index"]


def test_each_sealed_block_gets_one_sorted_run_of_its_deposits_prefixes(chain) -> None:
    sv, keys = chain
    blocks = [[f"{n * 7919 + b * 104729:064x}"[::-1] for n in range(50)] for b in range(3)]
    for digests in blocks:
        _deposit(sv, keys["L1"], "L1", digests)
        sv.ledger.seal()
    assert index_sealed_blocks(sv.ledger, sv.store.engine) == 3
    assert index_sealed_blocks(sv.ledger, sv.store.engine) == 0  # idempotent: nothing left to index
    with sv.store.engine.connect() as conn:
        rows = conn.execute(select(RUN.c.block_height, RUN.c.digest_prefix, RUN.c.idx)).all()
    for height, digests in enumerate(blocks):
        run = [(p, i) for h, p, i in rows if h == height]
        assert run == sorted((digest_prefix(d), height * 50 + n) for n, d in enumerate(digests))
        assert all(len(p) == 16 for p, _ in run)


def test_a_lookup_finds_a_lenders_deposits_across_blocks_and_pending_never_a_prefix_twin(chain) -> None:
    sv, keys = chain
    wanted, twin = "ab" * 32, "ab" * 8 + "cd" * 24  # the same 16-character prefix, different digests
    first = _deposit(sv, keys["L1"], "L1", [wanted, twin])
    sv.ledger.seal()
    other = _deposit(sv, keys["L2"], "L2", [wanted])  # another lender's deposit of the same digest
    sv.ledger.seal()
    index_sealed_blocks(sv.ledger, sv.store.engine)
    pending = _deposit(sv, keys["L1"], "L1", [wanted])  # not sealed, so not in any run
    assert find_indexes(sv.store.engine, sv.ledger, "L1", wanted) == [first, pending]
    assert find_indexes(sv.store.engine, sv.ledger, "L1", twin) == [first + 1]
    assert find_indexes(sv.store.engine, sv.ledger, "L2", wanted) == [other]
    assert find_indexes(sv.store.engine, sv.ledger, "L2", twin) == []


def test_runs_are_written_again_after_the_index_was_reset(chain) -> None:
    """What migration 0007 does to a database indexed by the older code: no row, so every block is indexed again."""
    sv, keys = chain
    index = _deposit(sv, keys["L1"], "L1", ["ef" * 32])
    sv.ledger.seal()
    index_sealed_blocks(sv.ledger, sv.store.engine)
    with sv.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM sv_digest_prefix"))
        conn.execute(text("DELETE FROM sv_indexed WHERE name = 'digests'"))
    assert find_indexes(sv.store.engine, sv.ledger, "L1", "ef" * 32) == [index]  # found as pending meanwhile
    assert index_sealed_blocks(sv.ledger, sv.store.engine) == 1
    assert find_indexes(sv.store.engine, sv.ledger, "L1", "ef" * 32) == [index]


def test_migration_0007_replaces_the_integer_runs_and_has_every_block_indexed_again(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    from chain_sql import open_store
    from chain_sql.migrations import upgrade_schema
    from supervision_chain.models import MIGRATIONS

    store = open_store(f"sqlite:///{tmp_path / 'supervision.db'}")
    try:
        assert upgrade_schema(store, MIGRATIONS, target="0006") == (None, "0006")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO sv_digest_run (block_height, digest_key, idx) VALUES (0, -5, 0)"))
            conn.execute(text("INSERT INTO sv_indexed (name, next_height) VALUES ('digests', 1)"))
        assert upgrade_schema(store, MIGRATIONS) == ("0006", "0007")
        tables = set(inspect(store.engine).get_table_names())
        assert "sv_digest_prefix" in tables and "sv_digest_run" not in tables
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sv_indexed WHERE name = 'digests'")).scalar_one() == 0
    finally:
        store.close()
