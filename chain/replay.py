"""Re-verify a chain from what it publishes: signed block headers and their entries, in order.

An auditor or a mirror feeds blocks one by one; each must carry a valid signature, link to
the block before, hold the entries that follow the previous ones, and those entries must
recompute the signed root. Findings name the block (and entry, when one is to blame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .audit import Finding
from .block import GENESIS_PREV, open_block
from .errors import ChainError
from .hashing import SHA256, HashSuite
from .merkle import leaf_hash
from .note import Ed25519NoteVerifier
from .tiles import RightEdge

__all__ = ["ChainReplay"]


@dataclass
class ChainReplay:
    """Feeds published blocks through the checks; keeps the right edge, so it never rebuilds."""

    chain_id: str
    verifier: Ed25519NoteVerifier
    suite: HashSuite = SHA256
    findings: list[Finding] = field(default_factory=list)
    edge: RightEdge | None = None
    next_height: int = 0
    prev_hash: bytes = GENESIS_PREV
    roots: dict[int, bytes] = field(default_factory=dict)  # tree size after each block → signed root
    times: dict[int, int] = field(default_factory=dict)  # height → block time (ms)
    ends: list[int] = field(default_factory=list)  # tree size after each block, by height

    def __post_init__(self) -> None:
        self.edge = self.edge or RightEdge(self.suite)

    def find(self, problem: str, block: int | None = None, entry: int | None = None) -> None:
        self.findings.append(Finding(self.chain_id, problem, block, entry))

    def add_block(self, header_text: str, entries: Sequence[bytes]) -> bool:
        """Check one block; False (with findings) if it is not what it should be."""
        try:
            block = open_block(header_text, self.verifier)
        except ChainError as exc:
            self.find(f"the block header does not verify: {exc}", block=self.next_height)
            return False
        h = block.header
        ok = True
        if h.chain_id != self.chain_id:
            self.find(f"the block belongs to chain {h.chain_id!r}", block=h.height)
            ok = False
        if h.height != self.next_height:
            self.find(f"expected block {self.next_height}, got block {h.height} (missing or reordered)", block=self.next_height)
            ok = False
        if h.prev_hash != self.prev_hash:
            self.find(f"block {h.height} does not link to the block before it (hash chain broken)", block=h.height)
            ok = False
        if h.first_index != self.edge.size or len(entries) != h.entry_count:
            self.find(f"block {h.height} should hold entries {h.first_index}–{h.tree_size - 1}; {len(entries)} were published", block=h.height)
            return False
        trial = self.edge.copy()
        trial.push([leaf_hash(e, self.suite) for e in entries])
        if trial.root() != h.root:
            self.find(f"the published entries {h.first_index}–{h.tree_size - 1} do not hash to the root signed in block {h.height}", block=h.height)
            return False
        self.edge = trial
        self.next_height = h.height + 1
        self.prev_hash = block.block_hash(self.suite)
        self.roots[h.tree_size] = h.root
        self.times[h.height] = h.time_ms
        self.ends.append(h.tree_size)
        return ok

    def add_sealed_leaves(self, header_text: str, leaf_hashes: Sequence[bytes]) -> bool:
        """Carry on past a block whose published entries were wrong, with the leaf hashes it sealed.

        Later blocks can then still be checked; True only if those leaves give the signed root.
        """
        try:
            block = open_block(header_text, self.verifier)
        except ChainError:
            return False
        h = block.header
        trial = self.edge.copy()
        trial.push(list(leaf_hashes))
        if h.first_index != self.edge.size or trial.root() != h.root:
            return False
        self.edge, self.next_height, self.prev_hash = trial, h.height + 1, block.block_hash(self.suite)
        self.roots[h.tree_size] = h.root
        self.times[h.height] = h.time_ms
        self.ends.append(h.tree_size)
        return True

    @property
    def size(self) -> int:
        return self.edge.size if self.edge else 0
