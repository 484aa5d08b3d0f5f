"""Tables the supervision chain keeps beside its ledger, in the same database.

Rows here are written in the same transaction as the ledger entries they describe.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from chain_sql.migrations import Migrations

__all__ = ["Lender", "DepositRequest", "Deposit", "DigestRun", "IndexedUpTo", "AnchoredUpTo", "AnchorReceipt", "SUPERVISION_TABLES", "MIGRATIONS"]


class Lender(SQLModel, table=True):
    """A lender registered by the regulator; only enabled lenders may deposit."""

    __tablename__ = "sv_lender"
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    licence: str = Field(sa_column=Column(Text, nullable=False))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # raw 32-byte Ed25519
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False, default=True))
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class DepositRequest(SQLModel, table=True):
    """One signed deposit request: the lender's signature over its items' root."""

    __tablename__ = "sv_request"
    __table_args__ = (
        UniqueConstraint("lender_id", "idempotency_key", name="uq_sv_request_idem"),
        UniqueConstraint("lender_id", "nonce", name="uq_sv_request_nonce"),
    )
    first_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))  # names the request
    lender_id: str = Field(sa_column=Column(String(64), nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(128), nullable=False))
    nonce: str = Field(sa_column=Column(String(64), nullable=False))
    timestamp_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    items_root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    count: int = Field(sa_column=Column(Integer, nullable=False))
    deposit_time_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Deposit(SQLModel, table=True):
    """One deposited item, by its ledger index: what the lender may look up, and the regulator count.

    The chain's private store: the loan id, metadata and salt here are never published (the public
    entry carries only the commitment to them). An item's typed report is kept as its canonical JSON text,
    for the regulator's feed; a partial index lists, in ledger order, only the deposits that carry one, and
    another finds a consent by its deposit code."""

    __tablename__ = "sv_deposit"
    __table_args__ = (Index("ix_sv_deposit_report", "idx", sqlite_where=text("report IS NOT NULL"),
                            postgresql_where=text("report IS NOT NULL")),
                      # the credit chain finds a consent by the deposit code a lender quotes: only consents are indexed,
                      # so the anchorer's code updates for every other deposit cost no index write
                      Index("ix_sv_deposit_consent_code", "deposit_code", sqlite_where=text("record_type = 'consent'"),
                            postgresql_where=text("record_type = 'consent'")))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    lender_id: str = Field(sa_column=Column(String(64), nullable=False))
    request_first: int = Field(sa_column=Column(BigInteger, nullable=False))  # the request's first_index
    digest: str = Field(sa_column=Column(String(128), nullable=False))
    record_type: str = Field(sa_column=Column(String(16), nullable=False))
    loan_id: str = Field(sa_column=Column(String(64), nullable=False))
    event_time_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    deposit_time_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    delay_ms: int = Field(sa_column=Column(BigInteger, nullable=False))  # deposit − event: reporting timeliness
    # the item's metadata (JSON text); "metadata" is the column, the attribute name is taken by SQLModel
    metadata_: str | None = Field(default=None, sa_column=Column("metadata", Text, nullable=True))
    commitment_salt: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))  # private; none before 0003
    deposit_code: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    report: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # report_json text; none before 0005


class DigestRun(SQLModel, table=True):
    """Digest look-up, one sorted run per sealed block (written by the sealer, not per deposit).

    A single index on random digests would dirty a page per deposit as the table grows and
    make every commit slower; runs keyed by block height first are appended in order, and a
    look-up seeks once per block. The key is the digest's first 16 hex characters (64 bits), as
    text: the database cuts it from the deposit rows itself, so a block is indexed by one
    ``INSERT … SELECT`` with no row passing through Python (migration 0007).
    """

    __tablename__ = "sv_digest_prefix"
    __table_args__ = {"sqlite_with_rowid": False}
    block_height: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    digest_prefix: str = Field(sa_column=Column(String(16), primary_key=True))  # the digest's first 16 hex characters
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class IndexedUpTo(SQLModel, table=True):
    """How far the digest runs reach: the next block height to index."""

    __tablename__ = "sv_indexed"
    name: str = Field(sa_column=Column(String(16), primary_key=True))
    next_height: int = Field(sa_column=Column(BigInteger, nullable=False))


class AnchoredUpTo(SQLModel, table=True):
    """The outbox position: the next sealed block to send to the judicial chain."""

    __tablename__ = "sv_anchored"
    name: str = Field(sa_column=Column(String(16), primary_key=True))
    next_height: int = Field(sa_column=Column(BigInteger, nullable=False))


class AnchorReceipt(SQLModel, table=True):
    """When the judicial chain acknowledged a block, and the judicial checkpoint it answered with
    (a signed note, with any witness cosignatures; empty if none was published yet). One row per
    block, written with the block's deposit codes; the regulator's dashboard reads it."""

    __tablename__ = "sv_anchor_receipt"
    height: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    sealed_ms: int = Field(sa_column=Column(BigInteger, nullable=False))  # the block header's time
    anchored_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    judicial_checkpoint: str = Field(sa_column=Column(Text, nullable=False))


SUPERVISION_TABLES = [m.__table__ for m in (Lender, DepositRequest, Deposit, DigestRun, IndexedUpTo, AnchoredUpTo, AnchorReceipt)]  # type: ignore[attr-defined]

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", version_table="alembic_version_supervision",
                        baseline="0001", marker_table="ledger_meta")  # the schema's history (Alembic), applied at start-up
