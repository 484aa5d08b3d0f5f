"""The stored ledger on every backend: append, seal, prove, reopen."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.block import GENESIS_PREV
from chain.errors import LedgerStateError
from chain.hashing import SM3
from chain.ledger import Ledger
from chain.merkle import inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion
from chain.note import Ed25519NoteSigner
from chain_sql import open_store

CHAIN = "supervision.test/gz"


@pytest.fixture
def signer() -> Ed25519NoteSigner:
    return Ed25519NoteSigner(CHAIN, Ed25519PrivateKey.generate())


@pytest.fixture
def ledger(store_url, signer):
    store = open_store(store_url)
    yield Ledger.create(store, CHAIN, signer)
    store.close()


def _entries(start: int, n: int) -> list[bytes]:
    return [b"entry-%d" % i for i in range(start, start + n)]


def test_append_seal_and_prove_across_tile_boundaries(ledger: Ledger) -> None:
    all_entries: list[bytes] = []
    sizes = []
    for batch in (1, 2, 253, 1, 300, 65_000 - 557, 1, 700):
        entries = _entries(len(all_entries), batch)
        res = ledger.append(entries)
        assert res.first_index == len(all_entries)
        all_entries += entries
        block = ledger.seal()
        assert block is not None and block.header.tree_size == len(all_entries)
        sizes.append(len(all_entries))
    leaves = [leaf_hash(e) for e in all_entries]
    cp = ledger.latest_checkpoint()
    assert cp.checkpoint.size == len(all_entries) and cp.checkpoint.root == root(leaves)
    for size in sizes:  # every historical root, and consistency to the latest
        assert ledger.root_at(size) == root(leaves[:size])
        proof = ledger.consistency_proof(size)
        assert verify_consistency(size, cp.checkpoint.size, root(leaves[:size]), cp.checkpoint.root, proof.hashes)
    rng = random.Random(7)
    for index in [0, 255, 256, 65_535, 65_536, len(leaves) - 1] + rng.sample(range(len(leaves)), 30):
        proof = ledger.inclusion_proof(index)
        assert proof.leaf_hash == leaves[index]
        assert verify_inclusion(leaves[index], index, cp.checkpoint.size, proof.hashes, cp.checkpoint.root)
        assert proof.hashes == inclusion_proof(leaves, index)
    old = sizes[2]
    proof = ledger.inclusion_proof(5, old)
    assert verify_inclusion(leaves[5], 5, old, proof.hashes, root(leaves[:old]))


def test_blocks_are_hash_chained_and_signed(ledger: Ledger) -> None:
    for i in range(3):
        ledger.append(_entries(i * 10, 10))
        ledger.seal(now_ms=1_700_000_000_000 + i)
    blocks = [ledger.block(h) for h in range(3)]
    assert blocks[0].header.prev_hash == GENESIS_PREV
    for prev, block in zip(blocks, blocks[1:]):
        assert block.header.prev_hash == prev.block_hash()
        assert block.header.first_index == prev.header.tree_size
    assert blocks[2].header.entry_count == 10 and blocks[2].header.time_ms == 1_700_000_000_002
    assert ledger.block_containing(15).header.height == 1
    assert ledger.seal() is None  # nothing waiting


def test_seal_respects_max_entries_and_reopens_where_it_stopped(store_url, signer) -> None:
    store = open_store(store_url)
    ledger = Ledger.create(store, CHAIN, signer)
    ledger.append(_entries(0, 1000))
    assert ledger.seal(max_entries=300).header.tree_size == 300
    store.close()
    store = open_store(store_url)
    reopened = Ledger(store, signer=signer)  # a new sealer process: right edge rebuilt from tiles
    assert reopened.seal().header.tree_size == 1000
    leaves = [leaf_hash(e) for e in _entries(0, 1000)]
    assert reopened.latest_checkpoint().checkpoint.root == root(leaves)
    store.close()


def test_reading_and_sealing_need_the_right_keys(ledger: Ledger, store_url) -> None:
    ledger.append([b"x"])
    reader = Ledger(ledger.store)
    with pytest.raises(LedgerStateError, match="read-only"):
        reader.seal()
    intruder = Ed25519NoteSigner(CHAIN, Ed25519PrivateKey.generate())
    with pytest.raises(LedgerStateError, match="not the signing key"):
        Ledger(ledger.store, signer=intruder)
    with pytest.raises(LedgerStateError, match="not in the tree of size 0"):
        reader.inclusion_proof(0)
    with pytest.raises(LedgerStateError, match="must match"):
        Ledger.create(ledger.store, "other.chain", intruder)


def test_sm3_ledger(tmp_path) -> None:
    signer = Ed25519NoteSigner(CHAIN, Ed25519PrivateKey.generate())
    store = open_store(tmp_path / "sm3.db")
    ledger = Ledger.create(store, CHAIN, signer, suite=SM3)
    ledger.append(_entries(0, 300))
    block = ledger.seal()
    leaves = [leaf_hash(e, SM3) for e in _entries(0, 300)]
    assert block.header.hash_suite == "sm3" and block.header.root == root(leaves, SM3)
    proof = ledger.inclusion_proof(123)
    assert verify_inclusion(leaves[123], 123, 300, proof.hashes, block.header.root, SM3)
    store.close()


def test_mirror_import_checks_every_block(tmp_path, signer) -> None:
    source_store = open_store(tmp_path / "source.db")
    source = Ledger.create(source_store, CHAIN, signer)
    for n in range(3):
        source.append(_entries(n * 300, 300))
        source.seal()
    mirror_store = open_store(tmp_path / "mirror.db")
    mirror_store.initialize(source_store.meta())
    mirror = Ledger(mirror_store)

    def block(h: int):
        header = source.block(h).header
        return source_store.block(h).header, [e.data for e in source_store.entries(header.first_index, header.tree_size)]

    text, entries = block(0)
    mirror.import_block(text, entries)
    text, entries = block(2)
    with pytest.raises(LedgerStateError, match="does not follow"):
        mirror.import_block(text, entries)  # block 1 is missing
    text, entries = block(1)
    with pytest.raises(LedgerStateError, match="signed root"):
        mirror.import_block(text, entries[:-1] + [b"forged"])
    assert mirror_store.size() == 300  # nothing of the refused blocks was stored
    mirror.import_block(text, entries)
    mirror.import_block(*block(2))
    assert mirror.root_at(900) == source.root_at(900)
    assert mirror.inclusion_proof(456).hashes == source.inclusion_proof(456).hashes
    source_store.close()
    mirror_store.close()


def test_a_seal_uses_this_processs_appends_and_reads_back_what_others_appended(tmp_path) -> None:
    """The sealer takes the leaf hashes it just stored from memory; entries another process appended (or that it
    no longer holds) are read back from storage, and either way the block is the same."""
    from chain.keys import generate_private_key
    from chain.ledger import Ledger
    from chain.merkle import leaf_hash, root
    from chain.note import Ed25519NoteSigner
    from chain_sql import open_store

    signer = Ed25519NoteSigner("t.example/a", generate_private_key())
    store = open_store(tmp_path / "a.db")
    mine = Ledger.create(store, "t.example/a", signer)
    other = Ledger(open_store(tmp_path / "a.db"), signer=signer)  # a second process on the same database
    reads: list[tuple[int, int]] = []
    real = store.leaf_hashes
    store.leaf_hashes = lambda a, b: (reads.append((a, b)), real(a, b))[1]  # type: ignore[method-assign]
    mine.append([b"a", b"b"])
    assert mine.seal() is not None and reads == []  # from memory
    other.append([b"c"])  # appended elsewhere: a gap in this process's memory
    mine.append([b"d"])
    block = mine.seal()
    assert reads == [(2, 4)] and block is not None
    assert block.header.root == root([leaf_hash(x) for x in (b"a", b"b", b"c", b"d")])
    mine.append([b"e", b"f", b"g"])
    assert mine.seal(max_entries=1).header.tree_size == 5 and mine.seal().header.tree_size == 7 and reads == [(2, 4)]
