"""Tables the credit chain keeps beside its ledger, in the same database: the bureau's private store.

Loans, consents, queries, disputes and evaluation counts are written in the transaction that
appends their entries, so what an answer or report says is what the ledger proves. Everything
here is private (pseudonyms, lenders, amounts): the ledger carries only hiding commitments.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from chain_sql.migrations import Migrations

__all__ = ["Loan", "Overdue", "Consent", "Query", "EntryDoc", "Subject", "Dispute", "Evaluation", "LenderKey", "Position",
           "AnchoredUpTo", "CREDIT_TABLES", "MIGRATIONS"]

_S, _B, _I = String, BigInteger, Integer


class Loan(SQLModel, table=True):
    """One loan as the lender's reports made it: who borrows, how much is outstanding, how late."""

    __tablename__ = "cr_loan"
    __table_args__ = (Index("ix_cr_loan_borrower", "borrower"),)
    lender_id: str = Field(sa_column=Column(_S(64), primary_key=True))
    loan_id: str = Field(sa_column=Column(_S(64), primary_key=True))
    borrower: str = Field(sa_column=Column(_S(64), nullable=False))
    borrower_kind: str = Field(sa_column=Column(_S(16), nullable=False))
    principal: int = Field(sa_column=Column(_B, nullable=False))
    outstanding: int = Field(sa_column=Column(_B, nullable=False))
    opened_ms: int = Field(sa_column=Column(_B, nullable=False))
    closed_ms: int | None = Field(default=None, sa_column=Column(_B, nullable=True))
    dpd: int = Field(sa_column=Column(_I, nullable=False))  # days past due now (the latest overdue report; a repayment resets)
    worst_dpd: int = Field(sa_column=Column(_I, nullable=False))
    on_time: int = Field(sa_column=Column(_I, nullable=False))  # repayments made while current
    late: int = Field(sa_column=Column(_I, nullable=False))  # repayments made while overdue
    contract_idx: int = Field(sa_column=Column(_B, nullable=False))  # the contract's supervision index
    entry_idx: int = Field(sa_column=Column(_B, nullable=False))  # its loanopened entry on the credit chain


class Overdue(SQLModel, table=True):
    """Each overdue report, by supervision index (the worst overdue in 24 months reads them)."""

    __tablename__ = "cr_overdue"
    __table_args__ = (Index("ix_cr_overdue_borrower", "borrower", "event_ms"),)
    idx: int = Field(sa_column=Column(_B, primary_key=True, autoincrement=False))
    borrower: str = Field(sa_column=Column(_S(64), nullable=False))
    lender_id: str = Field(sa_column=Column(_S(64), nullable=False))
    loan_id: str = Field(sa_column=Column(_S(64), nullable=False))
    event_ms: int = Field(sa_column=Column(_B, nullable=False))
    dpd: int = Field(sa_column=Column(_I, nullable=False))


class Consent(SQLModel, table=True):
    """A consent deposit read from the feed (supervision index); its deposit code once a query quoted it."""

    __tablename__ = "cr_consent"
    __table_args__ = (Index("ix_cr_consent_code", "deposit_code"),)
    idx: int = Field(sa_column=Column(_B, primary_key=True, autoincrement=False))
    lender_id: str = Field(sa_column=Column(_S(64), nullable=False))
    borrower: str = Field(sa_column=Column(_S(64), nullable=False))
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    valid_from: str = Field(sa_column=Column(_S(10), nullable=False))
    valid_to: str = Field(sa_column=Column(_S(10), nullable=False))
    digest: str = Field(sa_column=Column(_S(64), nullable=False))
    deposit_code: str | None = Field(default=None, sa_column=Column(_S(32), nullable=True))


class Query(SQLModel, table=True):
    """One multi-head check, by its credit-chain entry."""

    __tablename__ = "cr_query"
    __table_args__ = (Index("ix_cr_query_borrower", "borrower", "time_ms"),)
    idx: int = Field(sa_column=Column(_B, primary_key=True, autoincrement=False))
    lender_id: str = Field(sa_column=Column(_S(64), nullable=False))
    borrower: str = Field(sa_column=Column(_S(64), nullable=False))
    time_ms: int = Field(sa_column=Column(_B, nullable=False))
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    consent_code: str = Field(sa_column=Column(_S(32), nullable=False))


class EntryDoc(SQLModel, table=True):
    """The private document behind each credit-chain entry (its opening), and whose record it is part of."""

    __tablename__ = "cr_entry"
    __table_args__ = (Index("ix_cr_entry_subject", "subject", "subject_seq"),)
    idx: int = Field(sa_column=Column(_B, primary_key=True, autoincrement=False))
    kind: str = Field(sa_column=Column(_S(16), nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(_S(64), nullable=True))
    subject_seq: int | None = Field(default=None, sa_column=Column(_I, nullable=True))
    time_ms: int = Field(sa_column=Column(_B, nullable=False))
    document: str = Field(sa_column=Column(Text, nullable=False))
    deposit_code: str | None = Field(default=None, sa_column=Column(_S(32), nullable=True))


class Subject(SQLModel, table=True):
    """A borrower (pseudonym) the bureau has entries about: how many, so the next one's seq follows."""

    __tablename__ = "cr_subject"
    borrower: str = Field(sa_column=Column(_S(64), primary_key=True))
    kind: str = Field(sa_column=Column(_S(16), nullable=False))
    entries: int = Field(sa_column=Column(_I, nullable=False))


class Dispute(SQLModel, table=True):
    """A borrower's dispute (异议) of a loan record or a query, and the lender's answer."""

    __tablename__ = "cr_dispute"
    __table_args__ = (Index("ix_cr_dispute_borrower", "borrower"), Index("ix_cr_dispute_lender", "lender_id", "state"))
    id: str = Field(sa_column=Column(_S(32), primary_key=True))
    borrower: str = Field(sa_column=Column(_S(64), nullable=False))
    lender_id: str = Field(sa_column=Column(_S(64), nullable=False))
    target: str = Field(sa_column=Column(_S(16), nullable=False))  # loan or query
    target_ref: str = Field(sa_column=Column(_S(64), nullable=False))  # the loan id, or the query's entry index
    reason: str = Field(sa_column=Column(Text, nullable=False))
    opened_ms: int = Field(sa_column=Column(_B, nullable=False))
    due_ms: int = Field(sa_column=Column(_B, nullable=False))
    state: str = Field(sa_column=Column(_S(16), nullable=False))  # open, late (deadline missed, still open), answered
    outcome: str | None = Field(default=None, sa_column=Column(_S(16), nullable=True))  # corrected or upheld
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answered_ms: int | None = Field(default=None, sa_column=Column(_B, nullable=True))
    entry_idx: int = Field(sa_column=Column(_B, nullable=False))


class Evaluation(SQLModel, table=True):
    """OPRF evaluations per lender and day (UTC+8): counted here and, per request, on the chain."""

    __tablename__ = "cr_evaluation"
    lender_id: str = Field(sa_column=Column(_S(64), primary_key=True))
    day: int = Field(sa_column=Column(_I, primary_key=True, autoincrement=False))
    count: int = Field(sa_column=Column(_B, nullable=False))


class LenderKey(SQLModel, table=True):
    """The lenders as the supervision chain registered them (their signed requests are checked with these keys)."""

    __tablename__ = "cr_lender"
    id: str = Field(sa_column=Column(_S(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))


class Position(SQLModel, table=True):
    """How far the report feed has been read: the next supervision index to ask from."""

    __tablename__ = "cr_position"
    name: str = Field(sa_column=Column(_S(16), primary_key=True))
    next_index: int = Field(sa_column=Column(_B, nullable=False))


class AnchoredUpTo(SQLModel, table=True):
    """The outbox position: the next sealed block to send to the judicial chain."""

    __tablename__ = "cr_anchored"
    name: str = Field(sa_column=Column(_S(16), primary_key=True))
    next_height: int = Field(sa_column=Column(_B, nullable=False))


CREDIT_TABLES = [m.__table__ for m in (Loan, Overdue, Consent, Query, EntryDoc, Subject, Dispute, Evaluation, LenderKey, Position,  # type: ignore[attr-defined]
                                       AnchoredUpTo)]

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", version_table="alembic_version_credit",
                        baseline="0001", marker_table="cr_loan")  # the schema's history (Alembic), applied at start-up
