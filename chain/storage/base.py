"""The one small interface every ledger storage backend implements.

The ledger core talks only to this; the SQL backend serves SQLite and PostgreSQL, and a
shared conformance suite in tests/ runs against each (the Trillian pattern).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import StorageError

__all__ = ["StoredBlock", "StoredEntry", "SealWrite", "LedgerStore", "HeightTaken"]


class HeightTaken(StorageError):
    """A seal lost: a block of that height is already stored (another sealer got there first)."""


@dataclass(frozen=True)
class StoredBlock:
    height: int
    tree_size: int
    header: str  # the signed block note, verbatim


@dataclass(frozen=True)
class StoredEntry:
    index: int
    data: bytes
    leaf_hash: bytes


@dataclass(frozen=True)
class SealWrite:
    """Everything one seal writes, in one transaction: block, checkpoint, changed tiles."""

    block: StoredBlock
    checkpoint_size: int
    checkpoint_note: str | None  # None for an imported block (a mirror stores the log's checkpoints apart)
    tiles: Mapping[tuple[int, int], bytes]


class LedgerStore(Protocol):
    """Durable storage for one ledger. Every write is one transaction: all or nothing."""

    url: str

    def initialize(self, meta: Mapping[str, str]) -> None:
        """Create tables and write the ledger's metadata once; refuse different metadata later."""

    def meta(self) -> dict[str, str]:
        """The metadata written by ``initialize`` (empty if the ledger does not exist)."""

    def append(self, entries: Sequence[bytes], leaf_hashes: Sequence[bytes], also: Any = None) -> int:
        """Store entries at the next indexes, durably; return the first index assigned.

        ``also(connection, first_index)``, if given, runs inside the same transaction.
        """

    def size(self) -> int:
        """Number of entries appended (sealed or not)."""

    def leaf_hashes(self, begin: int, end: int) -> list[bytes]:
        """Leaf hashes of entries [begin, end), as many as exist."""

    def entries(self, begin: int, end: int) -> list[StoredEntry]:
        """Entries [begin, end) in index order, as many as exist."""

    def iter_entries(self, begin: int = 0, chunk: int = 65536) -> Iterator[StoredEntry]:
        """Every stored entry from ``begin`` in index order, read in chunks (for audits)."""

    def tile(self, level: int, index: int) -> bytes:
        """Bytes of a tile (may be partial; empty if absent)."""

    def iter_tiles(self) -> Iterator[tuple[int, int, bytes]]:
        """Every stored tile as (level, index, bytes), ordered by level then index."""

    def commit_seal(self, write: SealWrite) -> None:
        """Store a sealed block atomically; raise HeightTaken if that height (or tree size) is already stored."""

    def latest_block(self) -> StoredBlock | None: ...

    def block(self, height: int) -> StoredBlock | None: ...

    def blocks(self, start: int | None = None, end: int | None = None) -> list[StoredBlock]:
        """Stored block rows with start ≤ height < end (each bound optional), by height."""

    def block_containing(self, index: int) -> StoredBlock | None:
        """The first block whose tree size exceeds ``index`` (None if not sealed yet)."""

    def checkpoint(self, size: int) -> str | None: ...

    def latest_checkpoint(self) -> str | None: ...

    def checkpoints(self) -> list[tuple[int, str]]:
        """Every stored (size, note), by size."""

    def update_checkpoint(self, size: int, note: str) -> None:
        """Replace the note at ``size`` (to add cosignatures); the caller checks it still verifies."""

    def close(self) -> None: ...
