"""Tables the risk-control chain keeps beside its ledger, in the same database.

A warning and each of its steps are written in the transaction that appends the step's entry, so
the state a page shows is always the state the ledger proves. Step documents (with the lender's
signature and the figures behind a warning) are private: the ledger carries only their digests.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Boolean, Column, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from chain_sql.migrations import Migrations

__all__ = ["Warning_", "Step", "Officer", "LenderKey", "ModelText", "Complaint", "AnchoredUpTo", "RISK_TABLES", "MIGRATIONS"]


class Warning_(SQLModel, table=True):
    """One warning about one lender and where its closed loop stands."""

    __tablename__ = "rk_warning"
    id: str = Field(sa_column=Column(String(32), primary_key=True))
    lender_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    level: str = Field(sa_column=Column(String(16), nullable=False))  # red, orange, or limit (a hard limit alone)
    state: str = Field(sa_column=Column(String(16), nullable=False))
    day: int = Field(sa_column=Column(Integer, nullable=False))  # the data day it was (re)opened at (days since 1970, UTC+8)
    closed_day: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    risk_index: int = Field(sa_column=Column(Integer, nullable=False))
    band: str = Field(sa_column=Column(String(16), nullable=False))
    model_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    opened_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    deadline_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # the next thing due
    deadline_for: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))  # answer or decision
    deadline_flagged: bool = Field(sa_column=Column(Boolean, nullable=False, default=False))
    steps: int = Field(sa_column=Column(Integer, nullable=False))


class Step(SQLModel, table=True):
    """One step of a warning: its signed document and the ledger entry that commits to it."""

    __tablename__ = "rk_step"
    warning_id: str = Field(sa_column=Column(String(32), primary_key=True))
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    step: str = Field(sa_column=Column(String(16), nullable=False))
    actor: str = Field(sa_column=Column(String(64), nullable=False))
    time_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    idx: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))  # the ledger entry
    document: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON
    commitment_salt: str = Field(sa_column=Column(String(64), nullable=False))
    deposit_code: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))


class Officer(SQLModel, table=True):
    """A regulator officer who takes steps; steps are signed with this key."""

    __tablename__ = "rk_officer"
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False, default=True))


class LenderKey(SQLModel, table=True):
    """A lender as the supervision chain registered it (copied from its feed): answers and reads are checked with this key."""

    __tablename__ = "rk_lender"
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False, default=True))


class ModelText(SQLModel, table=True):
    """Every scorecard model ever used, by its SHA-256, so any warning can be recomputed with the exact file."""

    __tablename__ = "rk_model"
    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    version: str = Field(sa_column=Column(String(64), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))


class Complaint(SQLModel, table=True):
    """A consumer complaint about a lender: its ledger entry, the day it counts on, and the complaint's digest."""

    __tablename__ = "rk_complaint"
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    lender_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    day: int = Field(sa_column=Column(Integer, nullable=False))
    digest: str = Field(sa_column=Column(String(64), nullable=False))
    commitment_salt: str = Field(sa_column=Column(String(64), nullable=False))
    time_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    deposit_code: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))


class AnchoredUpTo(SQLModel, table=True):
    """The outbox position: the next sealed block to send to the judicial chain."""

    __tablename__ = "rk_anchored"
    name: str = Field(sa_column=Column(String(16), primary_key=True))
    next_height: int = Field(sa_column=Column(BigInteger, nullable=False))


RISK_TABLES = [m.__table__ for m in (Warning_, Step, Officer, LenderKey, ModelText, Complaint, AnchoredUpTo)]  # type: ignore[attr-defined]

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", version_table="alembic_version_risk",
                        baseline="0001", marker_table="rk_warning")  # the schema's history (Alembic), applied at start-up
