"""A pool's Merkle tree kept level by level, so each loan's inclusion proof costs O(log n), not a rebuild.

RFC 6962's tree (split at the largest power of two below n) is the same as hashing pairs level by level
and carrying an odd last node up unchanged; so the audit path of leaf i is, level by level, the sibling
of its ancestor when that sibling exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain.hashing import SHA256, HashSuite
from chain.merkle import empty_root, hash_level

__all__ = ["PoolTree"]


class PoolTree:
    """The levels of the tree over ``leaf_hashes`` (level 0 = the leaves)."""

    def __init__(self, leaf_hashes: Sequence[bytes], suite: HashSuite = SHA256) -> None:
        self.suite = suite
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            self.levels.append(hash_level(self.levels[-1], suite))

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def root(self) -> bytes:
        return self.levels[-1][0] if self.size else empty_root(self.suite)

    def proof(self, index: int) -> list[bytes]:
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is not in a tree of {self.size}")
        path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path
