"""the credit chain: ledger, loans, overdue reports, consents, queries, entry documents, subjects, disputes, evaluations, lenders, positions, outbox"""

import sqlalchemy as sa
from alembic import op

from chain_sql.ledger_migration import create_ledger_tables, drop_ledger_tables

revision, down_revision, branch_labels, depends_on = "0001", None, None, None
_TABLES = ("cr_loan", "cr_overdue", "cr_consent", "cr_query", "cr_entry", "cr_subject", "cr_dispute", "cr_evaluation", "cr_lender", "cr_position", "cr_anchored")


def upgrade() -> None:
    create_ledger_tables(op)
    S, B, I, T = sa.String, sa.BigInteger, sa.Integer, sa.Text  # noqa: N806, E741
    op.create_table(
        "cr_loan",
        sa.Column("lender_id", S(64), primary_key=True),
        sa.Column("loan_id", S(64), primary_key=True),
        sa.Column("borrower", S(64), nullable=False),
        sa.Column("borrower_kind", S(16), nullable=False),
        sa.Column("principal", B(), nullable=False),
        sa.Column("outstanding", B(), nullable=False),
        sa.Column("opened_ms", B(), nullable=False),
        sa.Column("closed_ms", B()),
        sa.Column("dpd", I(), nullable=False),
        sa.Column("worst_dpd", I(), nullable=False),
        sa.Column("on_time", I(), nullable=False),
        sa.Column("late", I(), nullable=False),
        sa.Column("contract_idx", B(), nullable=False),
        sa.Column("entry_idx", B(), nullable=False),
    )
    op.create_index("ix_cr_loan_borrower", "cr_loan", ["borrower"])
    op.create_table(
        "cr_overdue",
        sa.Column("idx", B(), primary_key=True, autoincrement=False),
        sa.Column("borrower", S(64), nullable=False),
        sa.Column("lender_id", S(64), nullable=False),
        sa.Column("loan_id", S(64), nullable=False),
        sa.Column("event_ms", B(), nullable=False),
        sa.Column("dpd", I(), nullable=False),
    )
    op.create_index("ix_cr_overdue_borrower", "cr_overdue", ["borrower", "event_ms"])
    op.create_table(
        "cr_consent",
        sa.Column("idx", B(), primary_key=True, autoincrement=False),
        sa.Column("lender_id", S(64), nullable=False),
        sa.Column("borrower", S(64), nullable=False),
        sa.Column("purpose", T(), nullable=False),
        sa.Column("valid_from", S(10), nullable=False),
        sa.Column("valid_to", S(10), nullable=False),
        sa.Column("digest", S(64), nullable=False),
        sa.Column("deposit_code", S(32)),
    )
    op.create_index("ix_cr_consent_code", "cr_consent", ["deposit_code"])
    op.create_table(
        "cr_query",
        sa.Column("idx", B(), primary_key=True, autoincrement=False),
        sa.Column("lender_id", S(64), nullable=False),
        sa.Column("borrower", S(64), nullable=False),
        sa.Column("time_ms", B(), nullable=False),
        sa.Column("purpose", T(), nullable=False),
        sa.Column("consent_code", S(32), nullable=False),
    )
    op.create_index("ix_cr_query_borrower", "cr_query", ["borrower", "time_ms"])
    op.create_table(
        "cr_entry",
        sa.Column("idx", B(), primary_key=True, autoincrement=False),
        sa.Column("kind", S(16), nullable=False),
        sa.Column("subject", S(64)),
        sa.Column("subject_seq", I()),
        sa.Column("time_ms", B(), nullable=False),
        sa.Column("document", T(), nullable=False),
        sa.Column("deposit_code", S(32)),
    )
    op.create_index("ix_cr_entry_subject", "cr_entry", ["subject", "subject_seq"])
    op.create_table("cr_subject", sa.Column("borrower", S(64), primary_key=True), sa.Column("kind", S(16), nullable=False), sa.Column("entries", I(), nullable=False))
    op.create_table(
        "cr_dispute",
        sa.Column("id", S(32), primary_key=True),
        sa.Column("borrower", S(64), nullable=False),
        sa.Column("lender_id", S(64), nullable=False),
        sa.Column("target", S(16), nullable=False),
        sa.Column("target_ref", S(64), nullable=False),
        sa.Column("reason", T(), nullable=False),
        sa.Column("opened_ms", B(), nullable=False),
        sa.Column("due_ms", B(), nullable=False),
        sa.Column("state", S(16), nullable=False),
        sa.Column("outcome", S(16)),
        sa.Column("answer", T()),
        sa.Column("answered_ms", B()),
        sa.Column("entry_idx", B(), nullable=False),
    )
    op.create_index("ix_cr_dispute_lender", "cr_dispute", ["lender_id", "state"])
    op.create_index("ix_cr_dispute_borrower", "cr_dispute", ["borrower"])
    op.create_table("cr_evaluation", sa.Column("lender_id", S(64), primary_key=True), sa.Column("day", I(), primary_key=True, autoincrement=False), sa.Column("count", B(), nullable=False))
    op.create_table(
        "cr_lender",
        sa.Column("id", S(64), primary_key=True),
        sa.Column("name", T(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
    )
    op.create_table("cr_position", sa.Column("name", S(16), primary_key=True), sa.Column("next_index", B(), nullable=False))
    op.create_table("cr_anchored", sa.Column("name", S(16), primary_key=True), sa.Column("next_height", B(), nullable=False))


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)
    drop_ledger_tables(op)
