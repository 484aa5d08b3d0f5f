"""RFC 9162 (Certificate Transparency v2) Merkle trees: hashes, roots, proofs, verifiers.

leaf = H(0x00 || data), node = H(0x01 || left || right), split at the largest power of
two below n, empty tree = H(""). The domain separation is what keeps a 64-byte interior
node from posing as a leaf, and the left-balanced split is what keeps two different leaf
lists from sharing a root (no "duplicate the odd leaf" or unsalted "promote" trees).

The public names below are a contract used by other code and by external conformance
checks. Verifiers come in two flavours:

* ``check_inclusion`` / ``check_consistency`` raise :class:`ProofError` saying what failed;
* ``verify_inclusion`` / ``verify_consistency`` return ``False`` on any wrong or malformed
  input and never raise.

Proofs are described first as lists of leaf ranges (``inclusion_ranges``,
``consistency_ranges``), so the same planning code serves an in-memory list of leaf hashes
and a stored ledger that reads only O(log n) hashes from its tiles.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence

from .errors import ProofError
from .hashing import SHA256, HashSuite

__all__ = [
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "leaf_hash",
    "hash_level",
    "leaf_hashes",
    "node_hash",
    "empty_root",
    "root",
    "fold_right",
    "split_point",
    "range_nodes",
    "inclusion_ranges",
    "consistency_ranges",
    "inclusion_proof",
    "consistency_proof",
    "check_inclusion",
    "check_consistency",
    "verify_inclusion",
    "verify_consistency",
    "root_from_inclusion_proof",
]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

Range = tuple[int, int]


def leaf_hash(data: bytes, suite: HashSuite = SHA256) -> bytes:
    """Hash of a leaf: H(0x00 || data)."""
    return suite.new(LEAF_PREFIX + bytes(data)).digest()


def leaf_hashes(entries: Sequence[bytes], suite: HashSuite = SHA256) -> list[bytes]:
    """``leaf_hash`` of each entry in one comprehension: the ledger hashes every entry it appends, and the
    call and copy per entry cost a third again as much as the hash."""
    new, prefix = suite.new, LEAF_PREFIX
    return [new(prefix + e).digest() for e in entries]


def node_hash(left: bytes, right: bytes, suite: HashSuite = SHA256) -> bytes:
    """Hash of an interior node: H(0x01 || left || right)."""
    return suite.new(NODE_PREFIX + left + right).digest()


def empty_root(suite: HashSuite = SHA256) -> bytes:
    """Root of the empty tree: H("")."""
    return suite.new(b"").digest()


def split_point(n: int) -> int:
    """Largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def hash_level(level: Sequence[bytes], suite: HashSuite = SHA256) -> list[bytes]:
    """Hash a level pairwise into the next one; an unpaired last hash moves up unchanged.

    Carrying the last hash up unhashed yields exactly the RFC 9162 left-balanced tree; it
    is not the unsafe "promotion" of unprefixed trees because every hash here is prefixed.
    A plain comprehension over pairs keeps the per-node cost close to a bare hash call.
    """
    new, prefix = suite.new, NODE_PREFIX
    out = [new(prefix + a + b).digest() for a, b in zip(level[0::2], level[1::2])]
    if len(level) & 1:
        out.append(level[-1])
    return out


def _check_lengths(hashes: Sequence[bytes], suite: HashSuite) -> None:
    if set(map(len, hashes)) != {suite.digest_size}:
        raise ValueError(f"every hash must be {suite.digest_size} bytes long")


def root(leaf_hashes: Sequence[bytes], suite: HashSuite = SHA256) -> bytes:
    """Merkle Tree Hash of a list of leaf hashes (RFC 9162 §2.1.1)."""
    n = len(leaf_hashes)
    if n == 0:
        return empty_root(suite)
    _check_lengths(leaf_hashes, suite)
    if n == 1:
        return bytes(leaf_hashes[0])
    level: Sequence[bytes] = leaf_hashes
    while len(level) > 1:
        level = hash_level(level, suite)
    return level[0]


def fold_right(hashes: Sequence[bytes], suite: HashSuite = SHA256) -> bytes:
    """Combine perfect-subtree hashes (largest first) into the hash of their whole range."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc, suite)
    return acc


def range_nodes(begin: int, end: int) -> list[tuple[int, int]]:
    """Perfect subtrees (level, index) whose concatenation is the range [begin, end).

    Valid for every range that appears in an RFC 9162 tree: its size's bits from high to
    low give the subtrees, each aligned to its own size. Largest first.
    """
    nodes = []
    pos = begin
    size = end - begin
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, pos >> level))
            pos += 1 << level
    return nodes


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """Leaf ranges whose hashes form the inclusion proof of ``index`` in a tree of ``size``.

    Ordered from the leaf's sibling up to the root's child (RFC 9162 §2.1.3.1 PATH).
    """
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    path: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """Leaf ranges whose hashes form the consistency proof from ``old_size`` to ``new_size``.

    RFC 9162 §2.1.4.1 SUBPROOF, unrolled. Empty when the sizes are equal.
    """
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    tail: list[Range] = []
    lo, hi, m, whole = 0, new_size, old_size, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            tail.append((lo + k, hi))
            hi = lo + k
        else:
            tail.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    head = [] if whole else [(lo, hi)]
    return head + tail[::-1]


def _ranges_from_leaves(leaf_hashes: Sequence[bytes], ranges: list[Range], suite: HashSuite) -> list[bytes]:
    return [root(leaf_hashes[a:b], suite) for a, b in ranges]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, suite: HashSuite = SHA256) -> list[bytes]:
    """Inclusion proof of leaf ``index`` in the tree of all ``leaf_hashes``."""
    return _ranges_from_leaves(leaf_hashes, inclusion_ranges(index, len(leaf_hashes)), suite)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, suite: HashSuite = SHA256) -> list[bytes]:
    """Consistency proof that the first ``old_size`` leaves are a prefix of ``leaf_hashes``."""
    return _ranges_from_leaves(leaf_hashes, consistency_ranges(old_size, len(leaf_hashes)), suite)


# --- verification (after RFC 9162 §2.1.3.2 and §2.1.4.2) ---------------------------------


def _check_hash(value: object, what: str, suite: HashSuite) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ProofError(f"{what} is not a byte string")
    if len(value) != suite.digest_size:
        raise ProofError(f"{what} is {len(value)} bytes long, expected {suite.digest_size}")
    return bytes(value)


def _check_proof(proof: object, suite: HashSuite) -> list[bytes]:
    if proof is None:
        return []
    if isinstance(proof, (bytes, str)) or not isinstance(proof, Sequence):
        raise ProofError("the proof is not a list of hashes")
    return [_check_hash(h, f"proof hash {i}", suite) for i, h in enumerate(proof)]


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int, suite: HashSuite) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h, suite) if (index >> i) & 1 == 0 else node_hash(h, seed, suite)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int, suite: HashSuite) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed, suite)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes], suite: HashSuite) -> bytes:
    for h in proof:
        seed = node_hash(h, seed, suite)
    return seed


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof's length into its inner part and its right-border part."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def root_from_inclusion_proof(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], suite: HashSuite = SHA256
) -> bytes:
    """The root that ``proof`` implies for ``leaf`` at ``index``; raises ProofError if malformed."""
    if not (_is_count(index) and _is_count(tree_size)):
        raise ProofError("index and tree size must be non-negative integers")
    if index >= tree_size:
        raise ProofError(f"index {index} is not inside a tree of size {tree_size}")
    leaf = _check_hash(leaf, "the leaf hash", suite)
    hashes = _check_proof(proof, suite)
    inner, border = _decompose(index, tree_size)
    if len(hashes) != inner + border:
        raise ProofError(f"the proof has {len(hashes)} hashes, a tree of size {tree_size} needs {inner + border}")
    res = _chain_inner(leaf, hashes[:inner], index, suite)
    return _chain_border_right(res, hashes[inner:], suite)


def check_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], expected_root: bytes, suite: HashSuite = SHA256
) -> None:
    """Raise ProofError unless ``proof`` shows ``leaf`` at ``index`` in the tree with ``expected_root``."""
    expected = _check_hash(expected_root, "the root", suite)
    calculated = root_from_inclusion_proof(leaf, index, tree_size, proof, suite)
    if not hmac.compare_digest(calculated, expected):
        raise ProofError(f"the inclusion proof for entry {index} does not lead to the signed root")


def check_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    suite: HashSuite = SHA256,
) -> None:
    """Raise ProofError unless the tree (old_size, old_root) is a prefix of (new_size, new_root)."""
    if not (_is_count(old_size) and _is_count(new_size)):
        raise ProofError("tree sizes must be non-negative integers")
    old_root = _check_hash(old_root, "the old root", suite)
    new_root = _check_hash(new_root, "the new root", suite)
    hashes = _check_proof(proof, suite)
    if old_size == 0:
        raise ProofError("there is no consistency proof from the empty tree")
    if new_size < old_size:
        raise ProofError(f"the new size {new_size} is smaller than the old size {old_size}")
    if old_size == new_size:
        if hashes:
            raise ProofError("equal sizes need an empty proof")
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError(f"two different roots for the same size {old_size}: the log forked")
        return
    if not hashes:
        raise ProofError("the consistency proof is empty")

    inner, border = _decompose(old_size - 1, new_size)
    shift = (old_size & -old_size).bit_length() - 1
    inner -= shift
    if old_size == 1 << shift:
        seed, start = old_root, 0
    else:
        seed, start = hashes[0], 1
    if len(hashes) != start + inner + border:
        raise ProofError(
            f"the proof has {len(hashes)} hashes, sizes {old_size}→{new_size} need {start + inner + border}"
        )
    rest = hashes[start:]
    mask = (old_size - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask, suite), rest[inner:], suite)
    if not hmac.compare_digest(hash1, old_root):
        raise ProofError(f"the consistency proof does not lead to the old root at size {old_size}")
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask, suite), rest[inner:], suite)
    if not hmac.compare_digest(hash2, new_root):
        raise ProofError(f"the consistency proof does not lead to the new root at size {new_size}")


def _never_raises(check: Callable[..., None], *args: object) -> bool:
    try:
        check(*args)
    except (ProofError, TypeError, ValueError, AttributeError, OverflowError):
        return False
    return True


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes, suite: HashSuite = SHA256
) -> bool:
    """True only if ``proof`` shows ``leaf_hash`` at ``index`` in the tree of ``tree_size`` with ``root``."""
    return _never_raises(check_inclusion, leaf_hash, index, tree_size, proof, root, suite)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes], suite: HashSuite = SHA256
) -> bool:
    """True only if the tree (old_size, old_root) is a prefix of (new_size, new_root). Never raises.

    A proof from size 0 is always refused: the empty tree proves nothing.
    """
    return _never_raises(check_consistency, old_size, new_size, old_root, new_root, proof, suite)
