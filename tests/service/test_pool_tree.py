"""The pool's level-by-level tree against the reference RFC 6962 code in chain.merkle: same roots, same proofs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.hashing import SHA256, SM3
from chain.merkle import empty_root, inclusion_proof, leaf_hash, root, verify_inclusion
from service_chain.pool_tree import PoolTree

SUITES = [SHA256, SM3]


def _leaves(n: int, suite=SHA256) -> list[bytes]:
    return [leaf_hash(b"loan-%d" % i, suite) for i in range(n)]


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@given(data=st.data(), n=st.integers(1, 300))
@settings(max_examples=80, deadline=None)
def test_root_and_proofs_match_the_reference(suite, data: st.DataObject, n: int) -> None:
    leaves = _leaves(n, suite)
    tree = PoolTree(leaves, suite)
    assert tree.size == n
    assert tree.root() == root(leaves, suite)
    indexes = {0, n - 1} | set(data.draw(st.lists(st.integers(0, n - 1), max_size=8), label="indexes"))
    for i in indexes:
        proof = tree.proof(i)
        assert proof == inclusion_proof(leaves, i, suite), i
        assert verify_inclusion(leaves[i], i, n, proof, tree.root(), suite)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33])
def test_every_proof_of_small_trees(n: int) -> None:
    leaves = _leaves(n)
    tree = PoolTree(leaves)
    assert tree.root() == root(leaves)
    assert [tree.proof(i) for i in range(n)] == [inclusion_proof(leaves, i) for i in range(n)]


def test_one_leaf_is_its_own_root() -> None:
    leaf = _leaves(1)[0]
    tree = PoolTree([leaf])
    assert tree.root() == leaf and tree.proof(0) == []


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_the_empty_tree(suite) -> None:
    tree = PoolTree([], suite)
    assert tree.size == 0
    assert tree.root() == empty_root(suite) == root([], suite)
    with pytest.raises(IndexError):
        tree.proof(0)


@given(n=st.integers(0, 100), offset=st.integers(0, 1000))
@settings(max_examples=60, deadline=None)
def test_an_index_outside_the_tree_is_an_index_error(n: int, offset: int) -> None:
    tree = PoolTree(_leaves(n))
    with pytest.raises(IndexError, match=f"not in a tree of {n}"):
        tree.proof(n + offset)
    with pytest.raises(IndexError):
        tree.proof(-1 - offset)


def test_the_tree_keeps_its_own_copy_of_the_leaves() -> None:
    leaves = _leaves(5)
    tree = PoolTree(leaves)
    before = tree.root()
    leaves.append(_leaves(6)[5])
    leaves[0] = leaves[1]
    assert tree.size == 5 and tree.root() == before


def test_a_changed_leaf_changes_the_root() -> None:
    leaves = _leaves(10)
    for i in range(10):
        changed = list(leaves)
        changed[i] = leaf_hash(b"other")
        assert PoolTree(changed).root() != PoolTree(leaves).root()
