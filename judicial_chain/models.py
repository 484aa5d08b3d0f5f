"""Tables the judicial chain keeps beside its ledger: sources, anchored blocks, deposit codes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Boolean, Column, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from chain_sql.migrations import Migrations

__all__ = ["Source", "SourceState", "AnchoredBlock", "CodeRow", "LenderName", "PortalJob", "PortalJobChunk", "JUDICIAL_TABLES",
           "MIGRATIONS"]


class Source(SQLModel, table=True):
    """A chain allowed to anchor here (a supervision chain), with its signing key."""

    __tablename__ = "jc_source"
    chain_id: str = Field(sa_column=Column(String(128), primary_key=True))
    vkey: str = Field(sa_column=Column(Text, nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False, default=True))


class SourceState(SQLModel, table=True):
    """How far a source is anchored: next height, its tree's right edge, its last block hash."""

    __tablename__ = "jc_source_state"
    chain_id: str = Field(sa_column=Column(String(128), primary_key=True))
    next_height: int = Field(sa_column=Column(BigInteger, nullable=False))
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    edge: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    last_block_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    last_checkpoint: str = Field(sa_column=Column(Text, nullable=False))


class AnchoredBlock(SQLModel, table=True):
    """One anchored source block and where its records landed in the judicial tree."""

    __tablename__ = "jc_anchor"
    chain_id: str = Field(sa_column=Column(String(128), primary_key=True))
    height: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    block_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    first_source_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    first_judicial_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    count: int = Field(sa_column=Column(Integer, nullable=False))
    anchored_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class CodeRow(SQLModel, table=True):
    """A deposit code and the one judicial entry it names (kept off the public ledger)."""

    __tablename__ = "jc_code"
    __table_args__ = {"sqlite_with_rowid": False}  # one B-tree keyed by the code, not a rowid table plus an index
    code: str = Field(sa_column=Column(String(16), primary_key=True))
    judicial_index: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))


class LenderName(SQLModel, table=True):
    """The registered name of a source chain's lender, as that chain last sent it."""

    __tablename__ = "jc_lender"
    chain_id: str = Field(sa_column=Column(String(128), primary_key=True))
    lender_id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))


class PortalJob(SQLModel, table=True):
    """A court verification job: a court record, so it outlives the portal process that took it.

    ``owner``/``heartbeat_ms`` lease the job to one portal process; a lease left stale (the process
    stopped or died) lets any portal on the same database resume the job from its stored inputs.
    """

    __tablename__ = "portal_job"
    id: str = Field(sa_column=Column(String(32), primary_key=True))
    judge_id: str = Field(sa_column=Column(String(64), nullable=False))
    case_id: str = Field(sa_column=Column(String(128), nullable=False))
    total: int = Field(sa_column=Column(Integer, nullable=False))
    done: int = Field(sa_column=Column(Integer, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # queued, running, done, failed
    counts: str = Field(sa_column=Column(Text, nullable=False))  # JSON: verdict → items so far
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    owner: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    heartbeat_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class PortalJobChunk(SQLModel, table=True):
    """A slice of a job: its inputs (as digests, never file bytes) and, once checked, its verdicts."""

    __tablename__ = "portal_job_chunk"
    job_id: str = Field(sa_column=Column(String(32), primary_key=True))
    chunk: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    items: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of inputs
    results: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON list of verdicts


class CourtFailure(SQLModel, table=True):
    """Evidence that failed at court, per depositor and day: items judged tampered whose code names this lender's
    entry (the risk chain's ``court_failures`` indicator reads these counts; no case or judge is in them)."""

    __tablename__ = "jc_court_failure"
    chain_id: str = Field(sa_column=Column(String(128), primary_key=True))
    lender_id: str = Field(sa_column=Column(String(64), primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))  # days since 1970 in Beijing time
    failures: int = Field(sa_column=Column(Integer, nullable=False))


JUDICIAL_TABLES = [m.__table__ for m in (Source, SourceState, AnchoredBlock, CodeRow, LenderName, PortalJob, PortalJobChunk, CourtFailure)]  # type: ignore[attr-defined]

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", version_table="alembic_version_judicial",
                        baseline="0001", marker_table="ledger_meta")  # the schema's history (Alembic), applied at start-up
