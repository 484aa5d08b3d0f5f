"""Change, delete, insert and reorder rows directly in the database: the audit names the row."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from chain.audit import audit_ledger
from chain.ledger import Ledger
from chain.note import Ed25519NoteSigner
from chain_sql import open_store

CHAIN = "judicial.test/court"
BLOCK_SIZES = [100, 200, 300, 150]  # blocks 0..3 hold entries 0-99, 100-299, 300-599, 600-749


@pytest.fixture
def built(store_url):
    signer = Ed25519NoteSigner(CHAIN, Ed25519PrivateKey.generate())
    store = open_store(store_url)
    ledger = Ledger.create(store, CHAIN, signer)
    n = 0
    for size in BLOCK_SIZES:
        ledger.append([b"record-%d" % i for i in range(n, n + size)])
        n += size
        ledger.seal()
    engine = create_engine(store_url)
    yield store, signer.verifier(), engine
    engine.dispose()
    store.close()


def _sql(engine, statement: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def _findings(store, verifier):
    report = audit_ledger(store, verifier)
    return report, {(f.block, f.entry) for f in report.findings}


def test_untouched_ledger_passes(built) -> None:
    store, verifier, _ = built
    report = audit_ledger(store, verifier)
    assert report.ok, report.findings
    assert (report.blocks, report.entries, report.sealed_size) == (4, 750, 750)


def test_changed_entry_is_named(built) -> None:
    store, verifier, engine = built
    _sql(engine, "UPDATE ledger_entry SET data = :d WHERE idx = 417", d=b"record-417 (edited)")
    report, where = _findings(store, verifier)
    assert not report.ok
    assert (2, 417) in where
    assert {f.entry for f in report.findings if f.entry is not None} == {417}
    assert all(f.chain == CHAIN for f in report.findings)


def test_changed_entry_with_its_leaf_hash_is_named(built) -> None:
    store, verifier, engine = built
    from chain.merkle import leaf_hash

    _sql(engine, "UPDATE ledger_entry SET data = :d, leaf_hash = :h WHERE idx = 700", d=b"x", h=leaf_hash(b"x"))
    report, where = _findings(store, verifier)
    assert where == {(3, 700)}


def test_entry_rewritten_with_its_sealed_tile_breaks_the_signed_root(built) -> None:
    store, verifier, engine = built
    from chain.merkle import leaf_hash

    forged = leaf_hash(b"x")
    tile = store.tile(0, 2)  # entries 512–767
    _sql(engine, "UPDATE ledger_entry SET data = :d, leaf_hash = :h WHERE idx = 700", d=b"x", h=forged)
    pos = (700 - 512) * 32
    _sql(engine, "UPDATE ledger_tile SET hashes = :b WHERE level = 0 AND idx = 2", b=tile[:pos] + forged + tile[pos + 32 :])
    report, _ = _findings(store, verifier)
    assert any(f.block == 3 and "root signed in block 3" in f.problem for f in report.findings)


def test_deleted_entry_is_named(built) -> None:
    store, verifier, engine = built
    _sql(engine, "DELETE FROM ledger_entry WHERE idx = 150")
    report, where = _findings(store, verifier)
    assert (1, 150) in where
    assert any("missing" in f.problem and f.entry == 150 for f in report.findings)


def test_deleted_last_entry_is_named(built) -> None:
    store, verifier, engine = built
    _sql(engine, "DELETE FROM ledger_entry WHERE idx = 749")
    _, where = _findings(store, verifier)
    assert (3, 749) in where


def test_inserted_entry_is_named(built) -> None:
    store, verifier, engine = built
    # make room at 50 by shifting later rows up (two steps so the primary key never collides)
    _sql(engine, "UPDATE ledger_entry SET idx = idx + 1000000 WHERE idx >= 50")
    _sql(engine, "UPDATE ledger_entry SET idx = idx - 999999 WHERE idx >= 1000000")
    from chain.merkle import leaf_hash

    _sql(engine, "INSERT INTO ledger_entry (idx, leaf_hash, data) VALUES (50, :h, :d)", h=leaf_hash(b"forged"), d=b"forged")
    report, where = _findings(store, verifier)
    first = min(f.entry for f in report.findings if f.entry is not None)
    assert first == 50
    assert any(f.block == 0 for f in report.findings)


def test_reordered_entries_are_named(built) -> None:
    store, verifier, engine = built
    _sql(engine, "UPDATE ledger_entry SET idx = -1 WHERE idx = 10")
    _sql(engine, "UPDATE ledger_entry SET idx = 10 WHERE idx = 11")
    _sql(engine, "UPDATE ledger_entry SET idx = 11 WHERE idx = -1")
    report, where = _findings(store, verifier)
    assert {(0, 10), (0, 11)} <= where
    assert {f.entry for f in report.findings if f.entry is not None} == {10, 11}


def test_edited_block_header_is_named(built) -> None:
    store, verifier, engine = built
    header = store.block(1).header
    forged = header.replace("count 200", "count 201")
    _sql(engine, "UPDATE ledger_block SET header = :h WHERE height = 1", h=forged)
    report, where = _findings(store, verifier)
    assert any(f.block == 1 and "does not verify" in f.problem for f in report.findings)


def test_deleted_block_is_named(built) -> None:
    store, verifier, engine = built
    _sql(engine, "DELETE FROM ledger_block WHERE height = 2")
    report, _ = _findings(store, verifier)
    assert any(f.block == 2 and "missing" in f.problem for f in report.findings)


def test_reordered_block_rows_are_named(built) -> None:
    store, verifier, engine = built
    _sql(engine, "UPDATE ledger_block SET height = -1, tree_size = -1 WHERE height = 1")
    _sql(engine, "UPDATE ledger_block SET height = 1, tree_size = 300 WHERE height = 2")
    report, _ = _findings(store, verifier)
    assert any(f.block == 1 for f in report.findings)


def test_replaced_block_signed_by_another_key_is_named(built) -> None:
    store, verifier, engine = built
    from chain.block import open_block, seal_block

    intruder = Ed25519NoteSigner(CHAIN, Ed25519PrivateKey.generate())
    original = open_block(store.block(3).header, verifier)
    forged = seal_block(original.header, intruder).to_text()
    _sql(engine, "UPDATE ledger_block SET header = :h WHERE height = 3", h=forged)
    report, _ = _findings(store, verifier)
    assert any(f.block == 3 for f in report.findings)


def test_changed_tile_is_named(built) -> None:
    store, verifier, engine = built
    blob = store.tile(1, 0)
    assert len(blob) == 2 * 32  # 750 entries: two full level-0 tiles hashed into level 1
    _sql(engine, "UPDATE ledger_tile SET hashes = :b WHERE level = 1 AND idx = 0", b=bytes(32) + blob[32:])
    report, _ = _findings(store, verifier)
    assert any("tile 1/0" in f.problem for f in report.findings)


def test_changed_checkpoint_is_named(built) -> None:
    store, verifier, engine = built
    note = store.checkpoint(300)
    lines = note.split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    _sql(engine, "UPDATE ledger_checkpoint SET note = :n WHERE size = 300", n="\n".join(lines))
    report, _ = _findings(store, verifier)
    assert any("checkpoint at size 300" in f.problem and f.block == 1 for f in report.findings)


def test_audit_with_a_stranger_key_fails(built) -> None:
    store, _, _ = built
    stranger = Ed25519NoteSigner(CHAIN, Ed25519PrivateKey.generate()).verifier()
    report = audit_ledger(store, stranger)
    assert not report.ok
    assert any("trusted key" in f.problem for f in report.findings)
