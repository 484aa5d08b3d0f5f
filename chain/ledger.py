"""A stored ledger: append entries, seal them into signed blocks, answer proofs.

One sealer per chain turns appended entries into blocks (heights are a primary key, so a
second sealer loses cleanly: ``seal`` returns None); appends only assign indexes and store,
from any number of processes on PostgreSQL. Proofs read O(log n)
tiles and never rebuild the tree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .block import GENESIS_PREV, Block, BlockHeader, open_block, seal_block
from .checkpoint import Checkpoint, SignedCheckpoint, open_checkpoint, sign_checkpoint
from .errors import LedgerStateError, StorageError
from .hashing import SHA256, HashSuite, suite_by_name
from .merkle import consistency_ranges, empty_root, inclusion_ranges, leaf_hashes
from .note import NoteSigner, NoteVerifier, format_vkey, parse_vkey
from .storage.base import HeightTaken, LedgerStore, SealWrite, StoredBlock
from .tiles import TILE_HEIGHT, RightEdge, TileReader, split_hashes, tile_width_at

__all__ = ["Ledger", "AppendResult", "InclusionProof", "ConsistencyProof"]


RECENT_LEAVES = 1_000_000  # at most this many leaf hashes (32 MiB) are kept for the next seal


@dataclass(frozen=True)
class AppendResult:
    """Where appended entries landed: indexes first_index … first_index + len(leaf_hashes) − 1."""

    first_index: int
    leaf_hashes: list[bytes]


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    hashes: list[bytes]


class Ledger:
    """One chain's ledger over a :class:`LedgerStore`.

    ``signer`` is needed only to seal; readers and auditors open the ledger with the chain's
    public key alone.
    """

    def __init__(self, store: LedgerStore, *, signer: NoteSigner | None = None) -> None:
        meta = store.meta()
        if not meta:
            raise LedgerStateError(f"no ledger at {store.url}; create it first")
        self.store = store
        self.chain_id = meta["chain_id"]
        self.suite: HashSuite = suite_by_name(meta["hash_suite"])
        self.verifier: NoteVerifier = parse_vkey(meta["vkey"])  # type: ignore[assignment]
        if signer is not None and format_vkey(signer.verifier()) != meta["vkey"]:
            raise LedgerStateError(f"that key is not the signing key of chain {self.chain_id}")
        self.signer = signer
        self._tiles = TileReader(self._tile_source, self.suite)
        self._edge: RightEdge | None = None
        self._seal_lock = threading.Lock()
        self._recent_lock = threading.Lock()
        self._recent: list[bytes] = []  # leaf hashes of this process's latest appends, from index _recent_first
        self._recent_first = self._recent_end = -1

    @classmethod
    def create(
        cls, store: LedgerStore, chain_id: str, signer: NoteSigner, suite: HashSuite = SHA256
    ) -> Ledger:
        """Create (or reopen, if it is the same chain and key) the ledger in ``store``."""
        if signer.name != chain_id:
            raise LedgerStateError(f"the signing key is named {signer.name!r}, the chain {chain_id!r}: they must match")
        store.initialize({"chain_id": chain_id, "hash_suite": suite.name, "vkey": format_vkey(signer.verifier())})
        return cls(store, signer=signer)

    @classmethod
    def open_or_create(cls, store: LedgerStore, chain_id: str, signer: NoteSigner, suite: HashSuite = SHA256) -> Ledger:
        """Reopen the ledger in ``store`` with the suite it was created with, or create it with ``suite``.

        A chain keeps its hash suite for life: ``suite`` is a choice made at creation only.
        """
        existing = store.meta()
        if existing and existing.get("chain_id") == chain_id:
            suite = suite_by_name(existing["hash_suite"])
        return cls.create(store, chain_id, signer, suite)

    # --- writing -------------------------------------------------------------------------

    def append(self, entries: Sequence[bytes], also: Any = None) -> AppendResult:
        """Store entries durably at the next indexes. They are proved once a block seals them.

        ``also(connection, first_index)`` lets a service write its own rows atomically with them.
        """
        hashes = leaf_hashes(entries, self.suite)
        first = self.store.append(entries, hashes, also)
        self._remember(first, hashes)
        return AppendResult(first, hashes)

    def _remember(self, first: int, hashes: list[bytes]) -> None:
        """Keep the leaf hashes this process just stored, so the next seal need not read them back."""
        with self._recent_lock:
            if self._recent_end != first:  # another process appended in between (PostgreSQL): start afresh
                self._recent, self._recent_first = [], first
            self._recent.extend(hashes)
            self._recent_end = first + len(hashes)
            if len(self._recent) > RECENT_LEAVES:  # a seal fell behind: forget the oldest, it reads them back
                drop = len(self._recent) - RECENT_LEAVES
                del self._recent[:drop]
                self._recent_first += drop

    def _leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes of entries start..end-1: from this process's own recent appends when it has them all
        (they are what it stored, in the same transaction), else from storage."""
        with self._recent_lock:
            if self._recent_first <= start and end <= self._recent_end:
                found = self._recent[start - self._recent_first : end - self._recent_first]
                del self._recent[: end - self._recent_first]  # sealed: no longer needed
                self._recent_first = end
                return found
        return self.store.leaf_hashes(start, end)

    def seal(self, *, max_entries: int | None = None, now_ms: int | None = None) -> Block | None:
        """Seal the appended entries (at most ``max_entries``) into a signed block.

        None if no entry waits, or if another sealer stored a block of that height first (two
        processes that both believe they lead): the loser stores nothing and reads afresh next time.
        Everything is read from storage each time, so a process that was not sealing picks up where
        another left off.
        """
        if self.signer is None:
            raise LedgerStateError("this ledger was opened read-only: sealing needs the chain's signing key")
        with self._seal_lock:
            latest = self.store.latest_block()
            sealed = latest.tree_size if latest else 0
            end = self.store.size()
            if max_entries is not None:
                end = min(end, sealed + max_entries)
            if end <= sealed:
                return None
            edge = self._edge_at(sealed).copy()
            tiles = edge.push(self._leaf_hashes(sealed, end))
            if edge.size != end:
                raise StorageError(f"entries {sealed}..{end - 1} are not all stored; cannot seal")
            prev = open_block(latest.header, self.verifier) if latest else None
            header = BlockHeader(
                chain_id=self.chain_id,
                height=prev.header.height + 1 if prev else 0,
                prev_hash=prev.block_hash(self.suite) if prev else GENESIS_PREV,
                tree_size=end,
                root=edge.root(),
                entry_count=end - sealed,
                time_ms=now_ms if now_ms is not None else int(time.time() * 1000),
                hash_suite=self.suite.name,
            )
            block = seal_block(header, self.signer)
            checkpoint = sign_checkpoint(Checkpoint(self.chain_id, end, header.root), self.signer)
            for level in range(len(edge.partials)):
                if edge.partials[level]:
                    tiles[(level, end >> (TILE_HEIGHT * (level + 1)))] = edge.tile_bytes(level)
            try:
                self.store.commit_seal(
                    SealWrite(StoredBlock(header.height, end, block.to_text()), end, checkpoint.to_text(), tiles)
                )
            except HeightTaken:
                self._edge = None
                return None
            self._edge = edge
            return block

    def import_block(self, block_text: str, entries: Sequence[bytes]) -> Block:
        """Store a block sealed elsewhere (a mirror's copy), after checking it the way an auditor would.

        The block must be signed by this chain's key, follow the stored blocks (height, previous
        hash, first index) and its entries must recompute its signed root. Nothing is stored otherwise.
        """
        with self._seal_lock:
            block = open_block(block_text, self.verifier)
            h = block.header
            latest = self.store.latest_block()
            prev = open_block(latest.header, self.verifier) if latest else None
            expected = (prev.header.height + 1, prev.block_hash(self.suite), prev.header.tree_size) if prev else (0, GENESIS_PREV, 0)
            if (h.height, h.prev_hash, h.first_index) != expected or len(entries) != h.entry_count:
                raise LedgerStateError(f"block {h.height} does not follow the stored blocks (expected height {expected[0]})")
            if self.store.size() != h.first_index:
                raise LedgerStateError("the mirror holds unsealed entries; it cannot import")
            edge = self._edge_at(h.first_index).copy()
            hashes = leaf_hashes(entries, self.suite)
            tiles = edge.push(hashes)
            if edge.root() != h.root:
                raise LedgerStateError(f"the entries of block {h.height} do not hash to its signed root")
            for level in range(len(edge.partials)):
                if edge.partials[level]:
                    tiles[(level, h.tree_size >> (TILE_HEIGHT * (level + 1)))] = edge.tile_bytes(level)
            self.store.append(entries, hashes)
            self.store.commit_seal(SealWrite(StoredBlock(h.height, h.tree_size, block_text), h.tree_size, None, tiles))
            self._edge = edge
            return block

    def forget_cached_state(self) -> None:
        """Drop the cached right edge (a process becoming the sealer calls this; the cache is keyed
        by tree size, so it cannot serve a stale edge anyway, but a new term starts from storage)."""
        with self._seal_lock:
            self._edge = None
        with self._recent_lock:
            self._recent, self._recent_first, self._recent_end = [], -1, -1

    def _edge_at(self, size: int) -> RightEdge:
        """The right edge of the tree at a sealed ``size``, from storage (cached for the sealer, by size:
        a block sealed by another process changes the size, so the cache is never used for it)."""
        if self._edge is not None and self._edge.size == size:
            return self._edge
        partials: list[list[bytes]] = []
        level = 0
        while level == 0 or size >> (TILE_HEIGHT * level):
            width = tile_width_at(level, size)
            index = size >> (TILE_HEIGHT * (level + 1))
            partials.append(split_hashes(self.store.tile(level, index), self.suite.digest_size)[:width])
            level += 1
        edge = RightEdge(self.suite, size, partials)
        self._edge = edge
        return edge

    # --- reading -------------------------------------------------------------------------

    def _tile_source(self, level: int, index: int) -> list[bytes]:
        return split_hashes(self.store.tile(level, index), self.suite.digest_size)

    def sealed_size(self) -> int:
        latest = self.store.latest_block()
        return latest.tree_size if latest else 0

    def root_at(self, size: int) -> bytes:
        """Root of the tree at any size up to the sealed size."""
        self._sealed_or(size)
        if size == 0:
            return empty_root(self.suite)
        return self._tiles.range_hash(0, size)

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        text = self.store.latest_checkpoint()
        return open_checkpoint(text, self.verifier, origin=self.chain_id) if text else None

    def checkpoint(self, size: int) -> SignedCheckpoint | None:
        text = self.store.checkpoint(size)
        return open_checkpoint(text, self.verifier, origin=self.chain_id) if text else None

    def block(self, height: int) -> Block | None:
        stored = self.store.block(height)
        return open_block(stored.header, self.verifier) if stored else None

    def latest_block(self) -> Block | None:
        stored = self.store.latest_block()
        return open_block(stored.header, self.verifier) if stored else None

    def block_containing(self, index: int) -> Block | None:
        stored = self.store.block_containing(index)
        return open_block(stored.header, self.verifier) if stored else None

    def entry(self, index: int) -> bytes:
        found = self.store.entries(index, index + 1)
        if not found:
            raise LedgerStateError(f"there is no entry {index}")
        return found[0].data

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """Proof that entry ``index`` is in the tree of ``tree_size`` (default: latest sealed)."""
        return self.inclusion_proofs([index], tree_size)[0]

    def inclusion_proofs(self, indexes: Sequence[int], tree_size: int | None = None) -> list[InclusionProof]:
        """Proofs of many entries in one tree (the size is checked once; shared nodes are read once)."""
        size = self._sealed_or(tree_size)
        out = []
        for index in indexes:
            if not 0 <= index < size:
                raise LedgerStateError(f"entry {index} is not in the tree of size {size}")
            hashes = [self._tiles.range_hash(a, b) for a, b in inclusion_ranges(index, size)]
            out.append(InclusionProof(index, size, self._tiles.node(0, index), hashes))
        return out

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``old_size`` is a prefix of the tree of ``new_size``."""
        size = self._sealed_or(new_size)
        if not 0 < old_size <= size:
            raise LedgerStateError(f"no consistency proof from size {old_size} to size {size}")
        hashes = [self._tiles.range_hash(a, b) for a, b in consistency_ranges(old_size, size)]
        return ConsistencyProof(old_size, size, hashes)

    def _sealed_or(self, size: int | None) -> int:
        """``size`` if it is a sealed tree size (default: the latest one); one read either way."""
        sealed = self.sealed_size()
        if size is None:
            return sealed
        if not 0 <= size <= sealed:
            raise LedgerStateError(f"tree size {size} is not sealed (sealed size is {sealed})")
        return size
