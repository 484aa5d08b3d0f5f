"""Hash tiles (C2SP tlog-tiles layout): how a stored tree answers roots and proofs in O(log n).

A level-L tile holds up to 256 consecutive hashes of perfect subtrees of 256**L leaves;
level 0 holds leaf hashes. Every node of the tree is either one of those hashes or the root
of a run of them inside one tile, so any node costs one tile read and at most 255 hashes.

``RightEdge`` keeps the unfinished (partial) tile of every level: appending leaves pushes
completed tiles upward, and the root is the fold of the partial tiles' perfect runs. This
is the compact-range idea of transparency-dev/merkle, grouped by tiles so that what it
changes is exactly what storage must write.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from .hashing import SHA256, HashSuite
from .merkle import empty_root, fold_right, range_nodes, root

__all__ = ["TILE_HEIGHT", "TILE_WIDTH", "RightEdge", "TileReader", "tile_width_at", "split_hashes"]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT


def split_hashes(blob: bytes, size: int = 32) -> list[bytes]:
    """Cut a tile's bytes into its hashes."""
    return [blob[i : i + size] for i in range(0, len(blob), size)]


def tile_width_at(level: int, tree_size: int) -> int:
    """Number of hashes in the partial level-``level`` tile of a tree of ``tree_size`` leaves."""
    return (tree_size >> (TILE_HEIGHT * level)) % TILE_WIDTH


class RightEdge:
    """The partial tile at every level of a tree of ``size`` leaves."""

    def __init__(self, suite: HashSuite = SHA256, size: int = 0, partials: Sequence[Sequence[bytes]] = ()) -> None:
        self.suite = suite
        self.size = size
        self.partials: list[list[bytes]] = [list(p) for p in partials] or [[]]
        for level, hashes in enumerate(self.partials):
            if len(hashes) != tile_width_at(level, size):
                raise ValueError(f"level {level} holds {len(hashes)} hashes, a tree of {size} needs {tile_width_at(level, size)}")

    def copy(self) -> RightEdge:
        return RightEdge(self.suite, self.size, self.partials)

    def push(self, leaf_hashes: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
        """Append leaf hashes; return the tiles that filled up, as {(level, index): bytes}.

        Together with the partial tiles afterwards, that is every tile storage must write.
        """
        completed: dict[tuple[int, int], bytes] = {}
        pos = 0
        n = len(leaf_hashes)
        while pos < n:
            level0 = self.partials[0]
            take = min(TILE_WIDTH - len(level0), n - pos)
            level0.extend(leaf_hashes[pos : pos + take])
            pos += take
            self.size += take
            if len(level0) == TILE_WIDTH:
                self._carry(completed)
        return completed

    def _carry(self, completed: dict[tuple[int, int], bytes]) -> None:
        """The level-0 tile just filled up: hash full tiles into the level above, and so on."""
        level = 0
        while len(self.partials[level]) == TILE_WIDTH:
            hashes = self.partials[level]
            index = ((self.size >> (TILE_HEIGHT * level)) - 1) // TILE_WIDTH
            completed[(level, index)] = b"".join(hashes)
            self.partials[level] = []
            if level + 1 == len(self.partials):
                self.partials.append([])
            self.partials[level + 1].append(root(hashes, self.suite))
            level += 1

    def tile_bytes(self, level: int) -> bytes:
        """Current content of the partial tile at ``level``."""
        return b"".join(self.partials[level])

    def root(self) -> bytes:
        """Root of the whole tree: fold of the perfect runs of every partial tile, top down."""
        if self.size == 0:
            return empty_root(self.suite)
        perfect: list[bytes] = []
        for hashes in reversed(self.partials):
            pos = 0
            for bit in range(TILE_HEIGHT - 1, -1, -1):
                if len(hashes) >> bit & 1:
                    perfect.append(root(hashes[pos : pos + (1 << bit)], self.suite))
                    pos += 1 << bit
        return fold_right(perfect, self.suite)


TileSource = Callable[[int, int], list[bytes]]
"""(level, tile index) -> the hashes stored in that tile so far (may be partial)."""


class TileReader:
    """Answers the hash of any perfect subtree from tiles, with a bounded cache.

    Stored tiles only ever grow (a partial tile's hashes never change), so a cached tile
    serves every request it is wide enough for. Full tiles are also expanded once into all
    8 of their internal levels, so repeated proofs touching them cost no hashing at all.
    """

    def __init__(self, source: TileSource, suite: HashSuite = SHA256, cache_tiles: int = 1024, cache_expanded: int = 256) -> None:
        self._source = source
        self.suite = suite
        self._tiles: OrderedDict[tuple[int, int], list[bytes]] = OrderedDict()
        self._expanded: OrderedDict[tuple[int, int], list[list[bytes]]] = OrderedDict()
        self._limits = (cache_tiles, cache_expanded)
        self._lock = threading.Lock()  # proofs may be asked from many threads at once
        self._ranges: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._partial_nodes: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    def _hashes(self, level: int, index: int, need: int) -> list[bytes]:
        key = (level, index)
        hashes = self._tiles.get(key)
        if hashes is None or len(hashes) < need:
            hashes = self._source(level, index)
            self._tiles[key] = hashes
            if len(self._tiles) > self._limits[0]:
                self._tiles.popitem(last=False)
        else:
            self._tiles.move_to_end(key)
        return hashes

    def _levels(self, key: tuple[int, int], hashes: list[bytes]) -> list[list[bytes]]:
        levels = self._expanded.get(key)
        if levels is not None:
            self._expanded.move_to_end(key)
            return levels
        levels = [hashes]
        new = self.suite.new
        while len(levels[-1]) > 1:
            below = levels[-1]
            levels.append([new(b"\x01" + a + b).digest() for a, b in zip(below[0::2], below[1::2])])
        self._expanded[key] = levels
        if len(self._expanded) > self._limits[1]:
            self._expanded.popitem(last=False)
        return levels

    def node(self, height: int, index: int) -> bytes:
        """Hash of the perfect subtree of 2**height leaves starting at leaf index << height."""
        with self._lock:
            return self._node(height, index)

    def _node(self, height: int, index: int) -> bytes:
        level, sub = divmod(height, TILE_HEIGHT)
        tile, offset = divmod(index << sub, TILE_WIDTH)
        count = 1 << sub
        hashes = self._hashes(level, tile, offset + count)
        if len(hashes) == TILE_WIDTH:
            return self._levels((level, tile), hashes)[sub][offset >> sub]
        if len(hashes) < offset + count:
            raise LookupError(f"the tree has no complete subtree of height {height} at index {index} yet")
        if count == 1:
            return hashes[offset]
        key = (height, index)  # a perfect subtree inside a partial tile: complete, so it never changes
        value = self._partial_nodes.get(key)
        if value is None:
            value = self._partial_nodes[key] = root(hashes[offset : offset + count], self.suite)
            if len(self._partial_nodes) > 4096:
                self._partial_nodes.popitem(last=False)
        return value

    def range_hash(self, begin: int, end: int) -> bytes:
        """Merkle Tree Hash of leaves [begin, end) for a range that occurs in an RFC 9162 tree.

        A range's hash never changes once its leaves are sealed, so ragged right-edge ranges
        (shared by every proof at one tree size) are remembered.
        """
        key = (begin, end)
        with self._lock:
            hit = self._ranges.get(key)
        if hit is not None:
            return hit
        value = fold_right([self.node(h, i) for h, i in range_nodes(begin, end)], self.suite)
        if (end - begin) & (end - begin - 1):  # not a single perfect node: worth remembering
            with self._lock:
                self._ranges[key] = value
                if len(self._ranges) > 4096:
                    self._ranges.popitem(last=False)
        return value
