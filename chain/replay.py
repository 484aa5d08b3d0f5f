"""Re-verify a chain from what it publishes: signed block headers and their entries, in order.

An auditor or a mirror feeds blocks one by one; each must carry a valid signature, link to
the block before, hold the entries that follow the previous ones, and those entries must
recompute the signed root. Findings name the block (and entry, when one is to blame).

The replay's position (height, previous block hash, right edge of the tree) is a few
hundred bytes; :meth:`ChainReplay.position` and :meth:`ChainReplay.resume` carry it from one
audit to the next, so a second audit checks only the blocks that are new.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .block import GENESIS_PREV, Block, BlockHeader, open_block
from .errors import ChainError
from .findings import Finding
from .hashing import SHA256, HashSuite
from .merkle import leaf_hash
from .note import NoteVerifier
from .tiles import RightEdge

__all__ = ["ChainReplay", "EntriesDoNotAddUp", "name_changed_entries"]


class EntriesDoNotAddUp(Exception):
    """A block's header verified, but its published entries do not recompute its root."""

    def __init__(self, header: BlockHeader) -> None:
        super().__init__(f"the entries of block {header.height} do not hash to its signed root")
        self.header = header


@dataclass
class ChainReplay:
    """Feeds published blocks through the checks; keeps the right edge, so it never rebuilds."""

    chain_id: str
    verifier: NoteVerifier
    suite: HashSuite = SHA256
    findings: list[Finding] = field(default_factory=list)
    edge: RightEdge | None = None
    next_height: int = 0
    prev_hash: bytes = GENESIS_PREV
    broken: bool = False  # a block could not be placed: nothing after it can be checked

    def __post_init__(self) -> None:
        self.edge = self.edge or RightEdge(self.suite)

    def find(self, problem: str, block: int | None = None, entry: int | None = None) -> None:
        self.findings.append(Finding(self.chain_id, problem, block, entry))

    @property
    def size(self) -> int:
        return self.edge.size if self.edge else 0

    def root(self) -> bytes:
        return self.edge.root()  # type: ignore[union-attr]

    # --- carrying the position between audits --------------------------------------------------

    def position(self) -> dict[str, Any]:
        """Where the replay stands, as JSON-ready data (no secrets: all of it is public)."""
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        return {"next_height": self.next_height, "prev_hash": b64(self.prev_hash), "size": self.size,
                "edge": [[b64(h) for h in level] for level in self.edge.partials]}  # type: ignore[union-attr]

    @classmethod
    def resume(cls, chain_id: str, verifier: NoteVerifier, position: dict[str, Any], suite: HashSuite = SHA256) -> ChainReplay:
        """Carry on from :meth:`position`; a malformed position raises ValueError."""
        try:
            edge = RightEdge(suite, int(position["size"]), [[base64.b64decode(h) for h in level] for level in position["edge"]])
            return cls(chain_id, verifier, suite, edge=edge, next_height=int(position["next_height"]),
                       prev_hash=base64.b64decode(position["prev_hash"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the saved audit position is not usable: {exc}") from None

    # --- blocks ----------------------------------------------------------------------------------

    def add_block(self, header_text: str, entries: Sequence[bytes]) -> BlockHeader | None:
        """Check one block and move past it; None (with a finding, and the replay broken) if it cannot be placed.

        Raises :class:`EntriesDoNotAddUp` when only the entries are wrong: the caller can then
        name them against the leaf hashes the block sealed and carry on with :meth:`add_sealed_leaves`.
        """
        block = self._place(header_text)
        if block is None:
            return None
        header = block.header
        if len(entries) == header.entry_count:
            trial = self.edge.copy()  # type: ignore[union-attr]
            trial.push([leaf_hash(e, self.suite) for e in entries])
            if trial.root() == header.root:
                self._advance(block, trial)
                return header
        raise EntriesDoNotAddUp(header)

    def add_sealed_leaves(self, header_text: str, leaf_hashes: Sequence[bytes]) -> BlockHeader | None:
        """Carry on past a block whose published entries were wrong, with the leaf hashes it sealed.

        Later blocks can then still be checked; None (and the replay broken) unless those leaves
        give the signed root.
        """
        block = self._place(header_text)
        if block is None:
            return None
        header = block.header
        trial = self.edge.copy()  # type: ignore[union-attr]
        trial.push(list(leaf_hashes))
        if len(leaf_hashes) != header.entry_count or trial.root() != header.root:
            return self._break(f"the chain cannot show what block {header.height} sealed: its leaf hashes do not give the signed root", header.height)
        self._advance(block, trial)
        return header

    def _place(self, header_text: str) -> Block | None:
        """The header's signature, chain, height, link and first index: it must come next."""
        if self.broken:
            return None
        try:
            block = open_block(header_text, self.verifier)
        except ChainError as exc:
            return self._break(f"the block header does not verify: {exc}", self.next_height)
        h = block.header
        if h.chain_id != self.chain_id:
            return self._break(f"the block belongs to chain {h.chain_id!r}", h.height)
        if h.height != self.next_height:
            return self._break(f"expected block {self.next_height}, got block {h.height} (a block missing or reordered)", self.next_height)
        if h.prev_hash != self.prev_hash:
            return self._break(f"block {h.height - 1} is not the block that block {h.height} was sealed after "
                               "(hash chain broken: a block was replaced)", h.height - 1)
        if h.first_index != self.size:
            return self._break(f"block {h.height} starts at entry {h.first_index}, the block before ends at {self.size}", h.height)
        return block

    def _break(self, problem: str, height: int) -> None:
        self.find(problem, block=height)
        self.broken = True
        return None

    def _advance(self, block: Block, edge: RightEdge) -> None:
        h = block.header
        self.edge = edge
        self.next_height = h.height + 1
        self.prev_hash = block.block_hash(self.suite)


def name_changed_entries(first_index: int, published: Sequence[bytes], sealed: Sequence[bytes], suite: HashSuite = SHA256) -> list[tuple[int, str]]:
    """Compare a block's published entries with the leaf hashes it sealed; name each entry that differs.

    Walks both in step and, where they part, takes the explanation after which they meet again:
    two neighbours swapped, an entry removed, one inserted (even a copy of another), or one
    changed in place. Returns (index, what happened) pairs.
    """
    got = [leaf_hash(e, suite) for e in published]
    ls, lg = len(sealed), len(got)

    def meet(i: int, j: int) -> bool:
        return (i == ls and j == lg) or (i < ls and j < lg and got[j] == sealed[i])

    named: list[tuple[int, str]] = []
    i = j = 0
    while i < ls and j < lg:
        if got[j] == sealed[i]:
            i, j = i + 1, j + 1
        elif i + 1 < ls and j + 1 < lg and got[j] == sealed[i + 1] and got[j + 1] == sealed[i] and meet(i + 2, j + 2):
            named += [(first_index + i, MOVED), (first_index + i + 1, MOVED)]
            i, j = i + 2, j + 2
        elif i + 1 < ls and got[j] == sealed[i + 1] and meet(i + 2, j + 1):
            named.append((first_index + i, REMOVED))
            i += 1
        elif j + 1 < lg and got[j + 1] == sealed[i] and meet(i + 1, j + 2):
            named.append((first_index + j, INSERTED))
            j += 1
        else:
            named.append((first_index + i, CHANGED))
            i, j = i + 1, j + 1
    named += [(first_index + k, REMOVED) for k in range(i, ls)]
    named += [(first_index + k, INSERTED) for k in range(j, lg)]
    return named


CHANGED = "the entry was changed in the database: it is not what its block sealed"
REMOVED = "the entry its block sealed is missing here (deleted from the database, or moved)"
INSERTED = "an entry its block never sealed stands here (inserted into the database)"
MOVED = "the entry is out of place: its block sealed it at a neighbouring position (reordered)"
