"""Tables the service chain keeps beside its ledger, in the same database: the platform's private store.

``sc_record`` mirrors the lenders' sealed, anchored deposits from the supervision feed (what a pool is
checked against); pools, their loans (each loan's certificate leaf), registrations and claims are
written in the transaction that appends their entries, so what an answer says is what the ledger proves.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from chain_sql.migrations import Migrations

__all__ = ["Record", "Party", "LenderKey", "Pool", "PoolLoan", "Registration", "Claim", "EntryDoc", "Position", "AnchoredUpTo",
           "SERVICE_TABLES", "MIGRATIONS"]

_S, _B, _I = String, BigInteger, Integer


class Record(SQLModel, table=True):
    """One deposit with a report, as the supervision feed gave it: its facts for the lifecycle, its code."""

    __tablename__ = "sc_record"
    __table_args__ = (Index("ix_sc_record_loan", "lender_id", "loan_id"),)
    idx: int = Field(sa_column=Column(_B, primary_key=True, autoincrement=False))  # the supervision index
    lender_id: str = Field(sa_column=Column(_S(64), nullable=False))
    loan_id: str = Field(sa_column=Column(_S(64), nullable=False))
    record_type: str = Field(sa_column=Column(_S(16), nullable=False))
    event_ms: int = Field(sa_column=Column(_B, nullable=False))
    deposit_ms: int = Field(sa_column=Column(_B, nullable=False))
    digest: str = Field(sa_column=Column(_S(64), nullable=False))
    deposit_code: str | None = Field(default=None, sa_column=Column(_S(32), nullable=True))
    amount: int | None = Field(default=None, sa_column=Column(_B, nullable=True))  # contract principal, disbursed, principal repaid
    rate_bp: int | None = Field(default=None, sa_column=Column(_I, nullable=True))
    dpd: int | None = Field(default=None, sa_column=Column(_I, nullable=True))


class Party(SQLModel, table=True):
    """A funder (资金方) or buyer (受让方) registered by the platform's operator, with its key."""

    __tablename__ = "sc_party"
    id: str = Field(sa_column=Column(_S(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(_S(16), nullable=False))  # funder or buyer
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_ms: int = Field(sa_column=Column(_B, nullable=False))


class LenderKey(SQLModel, table=True):
    """The lenders as the supervision chain registered them (their signed requests are checked with these keys)."""

    __tablename__ = "sc_lender"
    id: str = Field(sa_column=Column(_S(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))


class Pool(SQLModel, table=True):
    """A lender's pool offered to one funder or buyer: open while loans are added, then certified."""

    __tablename__ = "sc_pool"
    __table_args__ = (Index("ix_sc_pool_lender", "lender_id"), Index("ix_sc_pool_party", "offered_to"))
    id: str = Field(sa_column=Column(_S(32), primary_key=True))
    lender_id: str = Field(sa_column=Column(_S(64), nullable=False))
    purpose: str = Field(sa_column=Column(_S(16), nullable=False))  # financing or transfer
    offered_to: str = Field(sa_column=Column(_S(64), nullable=False))
    created_ms: int = Field(sa_column=Column(_B, nullable=False))
    state: str = Field(sa_column=Column(_S(16), nullable=False))  # open, certified
    loans: int = Field(sa_column=Column(_I, nullable=False))
    eligible: int = Field(sa_column=Column(_I, nullable=False))
    outstanding: int = Field(sa_column=Column(_B, nullable=False))  # of the eligible loans, fen
    certificate: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    root: str | None = Field(default=None, sa_column=Column(_S(128), nullable=True))
    entry_idx: int | None = Field(default=None, sa_column=Column(_B, nullable=True))


class PoolLoan(SQLModel, table=True):
    """One loan of a pool: its verdict and its certificate leaf (canonical JSON), in the order added."""

    __tablename__ = "sc_pool_loan"
    __table_args__ = (Index("ix_sc_pool_loan_seq", "pool_id", "seq", unique=True),
                      Index("ix_sc_pool_loan_hashes", "pool_id", "seq", "leaf_hash"))  # certify reads the hashes alone, not the leaves' pages
    pool_id: str = Field(sa_column=Column(_S(32), primary_key=True))
    loan_id: str = Field(sa_column=Column(_S(64), primary_key=True))
    seq: int = Field(sa_column=Column(_I, nullable=False))  # the leaf's index in the pool tree
    eligible: bool = Field(sa_column=Column(Boolean, nullable=False))
    outstanding: int = Field(sa_column=Column(_B, nullable=False))
    leaf: str = Field(sa_column=Column(Text, nullable=False))
    leaf_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))  # the tree's level 0, made at the check


class Registration(SQLModel, table=True):
    """A pledge (financing) or transfer of a certified pool's eligible loans: proposed by the lender, accepted by the party."""

    __tablename__ = "sc_registration"
    __table_args__ = (Index("ix_sc_registration_pool", "pool_id"),)
    id: str = Field(sa_column=Column(_S(64), primary_key=True))
    kind: str = Field(sa_column=Column(_S(16), nullable=False))  # pledge or transfer
    pool_id: str = Field(sa_column=Column(_S(32), nullable=False))
    lender_id: str = Field(sa_column=Column(_S(64), nullable=False))
    party_id: str = Field(sa_column=Column(_S(64), nullable=False))
    terms: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON both parties sign
    lender_signature: str = Field(sa_column=Column(Text, nullable=False))
    party_signature: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    state: str = Field(sa_column=Column(_S(16), nullable=False))  # proposed, registered, released
    proposed_ms: int = Field(sa_column=Column(_B, nullable=False))
    registered_ms: int | None = Field(default=None, sa_column=Column(_B, nullable=True))
    released_ms: int | None = Field(default=None, sa_column=Column(_B, nullable=True))
    entry_idx: int | None = Field(default=None, sa_column=Column(_B, nullable=True))


class Claim(SQLModel, table=True):
    """A loan that was ever registered: its pledge now (if any) and its holder (if transferred)."""

    __tablename__ = "sc_claim"
    lender_id: str = Field(sa_column=Column(_S(64), primary_key=True))
    loan_id: str = Field(sa_column=Column(_S(64), primary_key=True))
    pledge_id: str | None = Field(default=None, sa_column=Column(_S(64), nullable=True))
    pledged_ms: int | None = Field(default=None, sa_column=Column(_B, nullable=True))
    holder_id: str | None = Field(default=None, sa_column=Column(_S(64), nullable=True))  # None: the lender holds it
    transfer_id: str | None = Field(default=None, sa_column=Column(_S(64), nullable=True))
    held_ms: int | None = Field(default=None, sa_column=Column(_B, nullable=True))
    transfer_idx: int | None = Field(default=None, sa_column=Column(_B, nullable=True))


class EntryDoc(SQLModel, table=True):
    """The private document behind each service-chain entry (its opening) and its deposit code once anchored."""

    __tablename__ = "sc_entry"
    idx: int = Field(sa_column=Column(_B, primary_key=True, autoincrement=False))
    kind: str = Field(sa_column=Column(_S(16), nullable=False))
    time_ms: int = Field(sa_column=Column(_B, nullable=False))
    document: str = Field(sa_column=Column(Text, nullable=False))
    deposit_code: str | None = Field(default=None, sa_column=Column(_S(32), nullable=True))


class Position(SQLModel, table=True):
    """How far the report feed has been read: the next supervision index to ask from."""

    __tablename__ = "sc_position"
    name: str = Field(sa_column=Column(_S(16), primary_key=True))
    next_index: int = Field(sa_column=Column(_B, nullable=False))


class AnchoredUpTo(SQLModel, table=True):
    """The outbox position: the next sealed block to send to the judicial chain."""

    __tablename__ = "sc_anchored"
    name: str = Field(sa_column=Column(_S(16), primary_key=True))
    next_height: int = Field(sa_column=Column(_B, nullable=False))


SERVICE_TABLES = [m.__table__ for m in (Record, Party, LenderKey, Pool, PoolLoan, Registration, Claim, EntryDoc, Position,  # type: ignore[attr-defined]
                                        AnchoredUpTo)]

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", version_table="alembic_version_service",
                        baseline="0001", marker_table="sc_record")  # the schema's history (Alembic), applied at start-up
