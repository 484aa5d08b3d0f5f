"""Audit of a stored ledger from its raw rows: nothing changed, removed, inserted or reordered.

Everything is recomputed from the entries' bytes — leaf hashes, tiles, the root after
every block — and checked against what was signed: each block header's signature and
link to the block before, each checkpoint. A finding names the chain, block and entry
where the ledger breaks, in words an auditor can act on.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from .block import GENESIS_PREV, Block, BlockHeader, open_block
from .checkpoint import open_checkpoint
from .errors import ChainError
from .findings import Finding
from .hashing import suite_by_name
from .merkle import leaf_hash
from .note import NoteVerifier, format_vkey, parse_vkey
from .storage.base import LedgerStore
from .tiles import TILE_HEIGHT, TILE_WIDTH, RightEdge, split_hashes

__all__ = ["Finding", "AuditReport", "audit_ledger"]

Progress = Callable[[int, int], None]


@dataclass
class AuditReport:
    chain: str
    sealed_size: int = 0
    blocks: int = 0
    entries: int = 0
    findings: list[Finding] = field(default_factory=list)
    omitted: int = 0  # findings past the cap, counted but not listed

    @property
    def ok(self) -> bool:
        return not self.findings and not self.omitted

    def to_dict(self) -> dict[str, object]:
        return {
            "chain": self.chain,
            "ok": self.ok,
            "sealed_size": self.sealed_size,
            "blocks": self.blocks,
            "entries": self.entries,
            "findings": [f.to_dict() for f in self.findings],
            "omitted_findings": self.omitted,
        }


class _Auditor:
    def __init__(self, store: LedgerStore, verifier: NoteVerifier | None, max_findings: int) -> None:
        self.store = store
        meta = store.meta()
        self.chain = meta.get("chain_id", "?")
        self.report = AuditReport(self.chain)
        self.max_findings = max_findings
        self.suite = suite_by_name(meta.get("hash_suite", "sha256"))
        stored_key = meta.get("vkey")
        self.verifier = verifier or (parse_vkey(stored_key) if stored_key else None)  # type: ignore[assignment]
        if verifier is not None and stored_key and stored_key != format_vkey(verifier):
            self.find("the key recorded in the database is not the chain's trusted key")
        self.block_ends: list[int] = []  # tree size after each verified block, by height
        self.blocks: list[Block] = []

    def find(self, problem: str, block: int | None = None, entry: int | None = None) -> None:
        if len(self.report.findings) < self.max_findings:
            self.report.findings.append(Finding(self.chain, problem, block, entry))
        else:
            self.report.omitted += 1

    def block_of(self, index: int) -> int | None:
        """Height of the block that sealed entry ``index`` (None if it is still pending)."""
        pos = bisect.bisect_right(self.block_ends, index)
        return pos if pos < len(self.block_ends) else None

    # --- blocks and checkpoints -----------------------------------------------------------

    def check_blocks(self) -> None:
        if self.verifier is None:
            self.find("no signing key is known for this chain; signatures cannot be checked")
            return
        prev_hash, prev_size, expected = GENESIS_PREV, 0, 0
        for stored in self.store.blocks():
            try:
                block = open_block(stored.header, self.verifier)
            except ChainError as exc:
                self.find(f"the block header does not verify: {exc}", block=stored.height)
                expected = stored.height + 1
                prev_hash = self.suite.hash(stored.header.encode())
                continue
            h = block.header
            if h.height != stored.height or h.tree_size != stored.tree_size:
                self.find(
                    f"the stored row (height {stored.height}, size {stored.tree_size}) disagrees with its signed header "
                    f"(height {h.height}, size {h.tree_size})",
                    block=h.height,
                )
            if h.height > expected:
                missing = f"{expected}" if h.height == expected + 1 else f"{expected}–{h.height - 1}"
                self.find(f"block(s) {missing} are missing before block {h.height}", block=expected)
            elif h.height < expected:
                self.find(f"block {h.height} is out of order (it follows block {expected - 1})", block=h.height)
            if h.chain_id != self.chain or h.hash_suite != self.suite.name:
                self.find(f"the header belongs to chain {h.chain_id!r} ({h.hash_suite})", block=h.height)
            if h.prev_hash != prev_hash:
                self.find(f"block {h.height} does not link to the block before it (hash chain broken)", block=h.height)
            if h.tree_size != prev_size + h.entry_count:
                self.find(
                    f"block {h.height} says it holds {h.entry_count} entries, but the tree grew from {prev_size} to {h.tree_size}",
                    block=h.height,
                )
            prev_hash, prev_size, expected = block.block_hash(self.suite), h.tree_size, h.height + 1
            self.blocks.append(block)
            self.block_ends.append(h.tree_size)
        self.report.blocks = len(self.blocks)
        self.report.sealed_size = prev_size

    def check_checkpoints(self) -> None:
        roots = {b.header.tree_size: (b.header.root, b.header.height) for b in self.blocks}
        for size, note in self.store.checkpoints():
            try:
                signed = open_checkpoint(note, self.verifier, origin=self.chain)
            except ChainError as exc:
                self.find(f"the checkpoint at size {size} does not verify: {exc}", block=roots.get(size, (0, None))[1])
                continue
            cp = signed.checkpoint
            if cp.size != size or size not in roots:
                self.find(f"a checkpoint at size {cp.size} matches no sealed block", block=None)
            elif cp.root != roots[size][0]:
                self.find(f"the checkpoint at size {size} has a root other than its block's", block=roots[size][1])

    # --- entries and tiles -----------------------------------------------------------------

    def check_entries(self, progress: Progress | None) -> None:
        """Each entry against the leaf hash its block sealed (level-0 tiles), then every root."""
        stored_tiles: dict[tuple[int, int], bytes] = {}
        level0_indexes: set[int] = set()
        for level, index, blob in self.store.iter_tiles():
            if level == 0:
                level0_indexes.add(index)  # read again tile by tile, below, not held in memory
            else:
                stored_tiles[(level, index)] = blob
        sealed = self.report.sealed_size
        suite, width = self.suite, TILE_WIDTH
        edge = RightEdge(suite)
        sealed_tile: tuple[int, list[bytes]] = (-1, [])

        def sealed_hash(index: int) -> bytes | None:
            nonlocal sealed_tile
            tile = index // width
            if sealed_tile[0] != tile:
                sealed_tile = (tile, split_hashes(self.store.tile(0, tile), suite.digest_size))
            hashes = sealed_tile[1]
            return hashes[index % width] if index % width < len(hashes) else None

        # roots are checked wherever a block ended, in tree order, whatever order the rows were in
        ends: dict[int, list[BlockHeader]] = {}
        for block in self.blocks:
            ends.setdefault(block.header.tree_size, []).append(block.header)
        boundaries = sorted(ends)
        next_end = 0
        broken_roots: list[int] = []

        def feed(hashes: list[bytes]) -> None:
            nonlocal next_end
            for (level, index), blob in edge.push(hashes).items():
                if level:
                    self._compare_tile(level, index, blob, stored_tiles.pop((level, index), b""))
            if next_end < len(boundaries) and boundaries[next_end] == edge.size:
                root = edge.root()
                for header in ends[edge.size]:
                    if root == header.root:
                        continue
                    if broken_roots:  # later trees contain the same bad leaves: say it once
                        broken_roots.append(header.height)
                        continue
                    broken_roots.append(header.height)
                    self.find(
                        f"the entries {header.first_index}–{header.tree_size - 1} do not hash to the root signed in block {header.height}",
                        block=header.height,
                    )
                next_end += 1

        def feed_in_blocks(batch: list[bytes]) -> None:
            # deliver hashes in pieces that stop at each block end, so roots are checked there
            pos = 0
            while pos < len(batch):
                stop = len(batch)
                if next_end < len(boundaries):
                    stop = min(stop, pos + boundaries[next_end] - edge.size)
                feed(batch[pos:stop])
                pos = stop

        def missing(index: int) -> None:
            self.find("the entry is missing (row deleted)", block=self.block_of(index), entry=index)
            batch.append(sealed_hash(index) or bytes(suite.digest_size))

        batch: list[bytes] = []
        expected = 0
        for entry in self.store.iter_entries():
            for gap in range(expected, min(entry.index, sealed)):
                missing(gap)
            expected = entry.index + 1
            recomputed = leaf_hash(entry.data, suite)
            if entry.index < sealed:
                sealed_leaf = sealed_hash(entry.index)
                if recomputed != sealed_leaf:
                    self.find(
                        "the entry's data is not what its block sealed (changed, inserted or moved)",
                        block=self.block_of(entry.index),
                        entry=entry.index,
                    )
                elif recomputed != entry.leaf_hash:
                    self.find("the entry's stored leaf hash was changed", block=self.block_of(entry.index), entry=entry.index)
                # the tree is checked on what was sealed, so one bad entry is one finding, not a cascade
                batch.append(sealed_leaf or recomputed)
            elif recomputed != entry.leaf_hash:
                self.find("the pending entry's data does not match its leaf hash", entry=entry.index)
            if len(batch) >= 65536:
                feed_in_blocks(batch)
                batch = []
                if progress:
                    progress(edge.size, sealed)
        for gap in range(expected, sealed):
            missing(gap)
        feed_in_blocks(batch)
        if len(broken_roots) > 1:
            self.find(
                f"the roots of blocks {broken_roots[1]}–{broken_roots[-1]} differ too: their trees contain the entries above",
                block=broken_roots[1],
            )
        self.report.entries = expected
        if progress:
            progress(edge.size, sealed)
        stray = sorted(i for i in level0_indexes if i << TILE_HEIGHT >= sealed)
        for index in stray:
            self.find(f"hash tile 0/{index} covers entries that were never sealed")
        self._check_partial_tiles(edge, stored_tiles)

    def _compare_tile(self, level: int, index: int, expected: bytes, stored: bytes) -> None:
        """Name the block of the first hash where a stored tile departs from the recomputed one."""
        if stored[: len(expected)] == expected and len(stored) >= len(expected):
            return
        size = self.suite.digest_size
        pos = next((i for i in range(0, len(expected), size) if stored[i : i + size] != expected[i : i + size]), 0) // size
        first_entry = ((index << TILE_HEIGHT) + pos) << (TILE_HEIGHT * level)
        self.find(f"hash tile {level}/{index} does not match the entries it covers", block=self.block_of(first_entry))

    def _check_partial_tiles(self, edge: RightEdge, stored_tiles: dict[tuple[int, int], bytes]) -> None:
        """What is left of the stored tiles must be the partial tiles at the sealed size."""
        for level in range(1, len(edge.partials)):
            index = edge.size >> (TILE_HEIGHT * (level + 1))
            expected = edge.tile_bytes(level)
            if expected:
                self._compare_tile(level, index, expected, stored_tiles.pop((level, index), b""))
        for (level, index) in sorted(stored_tiles):
            self.find(f"hash tile {level}/{index} covers entries that were never sealed", block=None)


def audit_ledger(
    store: LedgerStore,
    verifier: NoteVerifier | None = None,
    *,
    progress: Progress | None = None,
    max_findings: int = 1000,
) -> AuditReport:
    """Re-verify a stored ledger end to end; the report's ``ok`` is True only if nothing is wrong.

    ``verifier`` is the chain's trusted public key; without it the key recorded in the
    database is used, which proves integrity but not authorship.
    """
    auditor = _Auditor(store, verifier, max_findings)
    auditor.check_blocks()
    if auditor.verifier is not None:
        auditor.check_checkpoints()
    auditor.check_entries(progress)
    return auditor.report
