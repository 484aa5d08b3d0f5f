"""Tables of a stored ledger (SQLModel), the same on SQLite and PostgreSQL.

Only the signed notes are authoritative; the numeric columns beside them exist for
look-ups and are re-checked against the notes by the audit.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

__all__ = ["LedgerMeta", "EntryRow", "TileRow", "BlockRow", "CheckpointRow", "LEDGER_TABLES"]


class LedgerMeta(SQLModel, table=True):
    """Chain id, hash suite, signer key: written once when the ledger is created."""

    __tablename__ = "ledger_meta"
    key: str = Field(primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))


class EntryRow(SQLModel, table=True):
    """One appended entry: its index in the tree, its bytes, and H(0x00 || bytes)."""

    __tablename__ = "ledger_entry"
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class TileRow(SQLModel, table=True):
    """A hash tile (C2SP tlog-tiles): level 0 holds sealed leaf hashes; grows until 256 wide.

    Sealed leaf hashes live here, apart from the entry rows, so an entry edited, inserted
    or moved in the entry table no longer matches what its block sealed, and is named.
    """

    __tablename__ = "ledger_tile"
    level: int = Field(primary_key=True)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hashes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class BlockRow(SQLModel, table=True):
    """A sealed block: its signed header note, and the tree size after it for look-ups."""

    __tablename__ = "ledger_block"
    height: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    header: str = Field(sa_column=Column(Text, nullable=False))


class CheckpointRow(SQLModel, table=True):
    """The signed checkpoint at a block's tree size, with any witness cosignatures."""

    __tablename__ = "ledger_checkpoint"
    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    note: str = Field(sa_column=Column(Text, nullable=False))


LEDGER_TABLES = [m.__table__ for m in (LedgerMeta, EntryRow, TileRow, BlockRow, CheckpointRow)]  # type: ignore[attr-defined]
