"""Property tests of the RFC 9162 core: every generated proof verifies, any change fails."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chain.hashing import SHA256, SM3
from chain.merkle import (
    consistency_proof,
    empty_root,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

SUITES = [SHA256, SM3]


def _leaves(n: int, suite=SHA256) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big"), suite) for i in range(n)]


def _reference_root(hashes: list[bytes], suite=SHA256) -> bytes:
    """RFC 9162 §2.1.1 written as the recursive definition, to check the fast root against."""
    if not hashes:
        return suite.hash(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_reference_root(hashes[:k], suite), _reference_root(hashes[k:], suite), suite)


def test_known_answers() -> None:
    # RFC 6962 test tree of transparency-dev/merkle: leaves "" ,"\x00", "\x10", ...
    data = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43", b"\x50\x51\x52\x53\x54\x55\x56\x57", b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"]
    hashes = [leaf_hash(d) for d in data]
    assert empty_root().hex() == hashlib.sha256(b"").hexdigest()
    assert hashes[0].hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert root(hashes).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert root(hashes[:3]).hex() == "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"


def test_sm3_suite_matches_gbt_32905_example() -> None:
    assert SM3.hash(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert leaf_hash(b"x", SM3) != leaf_hash(b"x", SHA256)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@given(n=st.integers(0, 300))
@settings(max_examples=60, deadline=None)
def test_fast_root_equals_recursive_definition(suite, n: int) -> None:
    hashes = _leaves(n, suite)
    assert root(hashes, suite) == _reference_root(hashes, suite)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@given(entries=st.lists(st.binary(max_size=300), max_size=40))
@settings(max_examples=60, deadline=None)
def test_leaf_hashes_of_many_entries_are_each_ones_leaf_hash(suite, entries: list[bytes]) -> None:
    expected = [suite.hash(b"\x00" + e) for e in entries]  # RFC 9162: H(0x00 || entry)
    assert leaf_hashes(entries, suite) == [leaf_hash(e, suite) for e in entries] == expected


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@given(data=st.data())
@settings(max_examples=120, deadline=None)
def test_inclusion_proofs_verify_and_any_change_fails(suite, data) -> None:
    n = data.draw(st.integers(1, 200), label="size")
    index = data.draw(st.integers(0, n - 1), label="index")
    hashes = _leaves(n, suite)
    r = root(hashes, suite)
    proof = inclusion_proof(hashes, index, suite)
    assert verify_inclusion(hashes[index], index, n, proof, r, suite)
    # wrong index, wrong size, wrong leaf
    other = data.draw(st.integers(0, n), label="other index")
    assume(other != index)
    assert not verify_inclusion(hashes[index], other, n, proof, r, suite)
    # a wrong size, with that size's own root: the proof binds to one (size, root) pair
    size = data.draw(st.integers(index + 1, 400), label="other size")
    if size != n:
        assert not verify_inclusion(hashes[index], index, size, proof, root(_leaves(size, suite), suite), suite)
    assert not verify_inclusion(hashes[(index + 1) % n] if n > 1 else b"\x00" * 32, index, n, proof, r, suite)
    # any flipped bit in the proof or the root
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        bad = list(proof)
        bad[i] = (int.from_bytes(bad[i], "big") ^ (1 << bit)).to_bytes(32, "big")
        assert not verify_inclusion(hashes[index], index, n, bad, r, suite)
        assert not verify_inclusion(hashes[index], index, n, proof[:-1], r, suite)
        assert not verify_inclusion(hashes[index], index, n, proof + [proof[0]], r, suite)
    bit = data.draw(st.integers(0, 255))
    assert not verify_inclusion(hashes[index], index, n, proof, (int.from_bytes(r, "big") ^ (1 << bit)).to_bytes(32, "big"), suite)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@given(data=st.data())
@settings(max_examples=120, deadline=None)
def test_consistency_proofs_verify_and_any_change_fails(suite, data) -> None:
    n = data.draw(st.integers(1, 200), label="new size")
    m = data.draw(st.integers(1, n), label="old size")
    hashes = _leaves(n, suite)
    r1, r2 = root(hashes[:m], suite), root(hashes, suite)
    proof = consistency_proof(hashes, m, suite)
    assert verify_consistency(m, n, r1, r2, proof, suite)
    if m != n:
        assert not verify_consistency(m, n, r2, r1, proof, suite)
        assert not verify_consistency(m + 1, n, root(hashes[: m + 1], suite), r2, proof, suite)
        assert not verify_consistency(m, n + 1, r1, root(_leaves(n + 1, suite), suite), proof, suite)
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        bad = list(proof)
        bad[i] = (int.from_bytes(bad[i], "big") ^ (1 << bit)).to_bytes(32, "big")
        assert not verify_consistency(m, n, r1, r2, bad, suite)
        assert not verify_consistency(m, n, r1, r2, proof[:-1], suite)
        assert not verify_consistency(m, n, r1, r2, proof + [proof[-1]], suite)
    assert not verify_consistency(0, n, empty_root(suite), r2, proof, suite)


@pytest.mark.parametrize(
    "args",
    [
        (None, 0, 1, [], b"\x00" * 32),
        (b"\x00" * 31, 0, 1, [], b"\x00" * 31),
        (b"\x00" * 32, -1, 1, [], b"\x00" * 32),
        (b"\x00" * 32, 0, 0, [], b"\x00" * 32),
        (b"\x00" * 32, "0", 1, [], b"\x00" * 32),
        (b"\x00" * 32, 0, 1, "not a list", b"\x00" * 32),
        (b"\x00" * 32, 0, 2, [b"\x00" * 33], b"\x00" * 32),
        (b"\x00" * 32, True, 2, [b"\x00" * 32], b"\x00" * 32),
    ],
)
def test_verifiers_never_raise_on_malformed_input(args) -> None:
    assert verify_inclusion(*args) is False
    assert verify_consistency(args[1], args[2], args[0], args[4], args[3]) is False


def test_merkletools_style_forgeries_are_refused() -> None:
    """Why not merkletools: without 0x00/0x01 separation an interior node poses as a leaf.

    In an unprefixed tree the 64 bytes left||right of a node hash to that node, so they
    "verify" as a leaf of a smaller tree. Here they must not; and duplicating the odd leaf
    (Bitcoin style) must change the root instead of colliding.
    """
    data = [b"a", b"b", b"c", b"d"]
    hashes = [leaf_hash(d) for d in data]
    full_root = root(hashes)
    left, right = node_hash(hashes[0], hashes[1]), node_hash(hashes[2], hashes[3])
    # forgery: claim that left-node's children bytes are one leaf at index 0 of a 2-leaf tree
    forged_leaf = leaf_hash(hashes[0] + hashes[1])
    assert not verify_inclusion(forged_leaf, 0, 2, [right], full_root)
    # (an unprefixed tree hashes those 64 bytes to the node itself, so there the forgery verifies)
    # the proper proof still verifies
    assert verify_inclusion(left, 0, 2, [right], full_root) is True
    # odd-leaf duplication: [a, b, c] and [a, b, c, c] must not share a root
    three = [leaf_hash(d) for d in data[:3]]
    assert root(three) != root(three + [three[-1]])
