"""One conformance suite for every storage backend (SQLite file, PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from chain.errors import StorageError
from chain_sql import SealWrite, StoredBlock, open_store

META = {"chain_id": "test.example/chain", "hash_suite": "sha256", "vkey": "k"}


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    s.initialize(META)
    yield s
    s.close()


def _h(i: int) -> bytes:
    return i.to_bytes(32, "big")


def test_initialize_is_idempotent_and_guards_the_chain(store, store_url) -> None:
    assert store.meta() == META
    store.initialize(META)
    with pytest.raises(StorageError, match="different ledger"):
        store.initialize({**META, "chain_id": "other"})


def test_append_assigns_consecutive_indexes_and_reads_back(store) -> None:
    assert store.size() == 0
    assert store.append([b"a", b"b"], [_h(0), _h(1)]) == 0
    assert store.append([b"c"], [_h(2)]) == 2
    assert store.append([], []) == 3
    assert store.size() == 3
    assert store.leaf_hashes(1, 10) == [_h(1), _h(2)]
    assert [(e.index, e.data) for e in store.entries(0, 3)] == [(0, b"a"), (1, b"b"), (2, b"c")]
    assert [e.index for e in store.iter_entries(1, chunk=1)] == [1, 2]


def test_append_is_all_or_nothing(store) -> None:
    store.append([b"a"], [_h(0)])
    with pytest.raises(StorageError):
        store.append([b"b", b"c"], [_h(1)])
    with pytest.raises(StorageError):
        store.append([b"b", None], [_h(1), _h(2)])  # second row violates NOT NULL
    assert store.size() == 1


def test_concurrent_appends_never_share_an_index(store) -> None:
    firsts: list[int] = []

    def work(t: int) -> None:
        for i in range(20):
            firsts.append(store.append([b"x%d" % t] * 3, [_h(t)] * 3))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(firsts) == list(range(0, 240, 3))
    assert store.size() == 240


def _seal(height: int, size: int, tiles=None) -> SealWrite:
    return SealWrite(StoredBlock(height, size, f"header {height}\n"), size, f"cp {size}\n", tiles or {})


def test_seal_is_atomic_and_heights_are_unique(store) -> None:
    store.append([b"a", b"b", b"c"], [_h(0), _h(1), _h(2)])
    store.commit_seal(_seal(0, 2, {(1, 0): b"x" * 32}))
    with pytest.raises(StorageError, match="already sealed"):
        store.commit_seal(_seal(0, 3, {(1, 0): b"y" * 32}))
    assert store.checkpoint(3) is None  # the failed seal left nothing behind
    assert store.tile(1, 0) == b"x" * 32
    store.commit_seal(_seal(1, 3, {(1, 0): b"x" * 64}))
    assert store.tile(1, 0) == b"x" * 64  # partial tiles grow in place
    assert store.latest_block() == StoredBlock(1, 3, "header 1\n")
    assert store.block_containing(0).height == 0
    assert store.block_containing(2).height == 1
    assert store.block_containing(3) is None
    assert [b.height for b in store.blocks(1)] == [1]
    assert store.latest_checkpoint() == "cp 3\n"
    assert store.checkpoints() == [(2, "cp 2\n"), (3, "cp 3\n")]
    store.update_checkpoint(3, "cp 3 cosigned\n")
    assert store.checkpoint(3) == "cp 3 cosigned\n"
    with pytest.raises(StorageError):
        store.update_checkpoint(99, "nothing\n")
    assert list(store.iter_tiles()) == [(1, 0, b"x" * 64)]


def test_data_survives_reopening(store, store_url) -> None:
    store.append([b"a"], [_h(0)])
    store.commit_seal(_seal(0, 1))
    store.close()
    again = open_store(store_url)
    try:
        assert again.meta() == META
        assert again.size() == 1
        assert again.latest_block().tree_size == 1
    finally:
        again.close()


def test_sqlite_needs_a_file() -> None:
    with pytest.raises(StorageError, match="needs a file"):
        open_store("sqlite://")
    with pytest.raises(StorageError, match="unsupported database"):
        open_store("mysql://nowhere/db")
