"""the risk-control chain: ledger, warnings and their steps, officers, lenders' keys, models, complaints, outbox"""
import sqlalchemy as sa
from alembic import op

from chain_sql.ledger_migration import create_ledger_tables, drop_ledger_tables

revision, down_revision, branch_labels, depends_on = "0001", None, None, None
_TABLES = ("rk_warning", "rk_step", "rk_officer", "rk_lender", "rk_model", "rk_complaint", "rk_anchored")


def upgrade() -> None:
    create_ledger_tables(op)
    S, B, I, T = sa.String, sa.BigInteger, sa.Integer, sa.Text  # noqa: N806, E741
    op.create_table("rk_warning", sa.Column("id", S(32), primary_key=True), sa.Column("lender_id", S(64), nullable=False),
                    sa.Column("level", S(16), nullable=False), sa.Column("state", S(16), nullable=False), sa.Column("day", I(), nullable=False),
                    sa.Column("closed_day", I()), sa.Column("risk_index", I(), nullable=False), sa.Column("band", S(16), nullable=False),
                    sa.Column("model_sha256", S(64), nullable=False), sa.Column("opened_ms", B(), nullable=False),
                    sa.Column("updated_ms", B(), nullable=False), sa.Column("deadline_ms", B()), sa.Column("deadline_for", S(16)),
                    sa.Column("deadline_flagged", sa.Boolean(), nullable=False), sa.Column("steps", I(), nullable=False))
    op.create_index("ix_rk_warning_lender_id", "rk_warning", ["lender_id"])
    op.create_table("rk_step", sa.Column("warning_id", S(32), primary_key=True), sa.Column("seq", I(), primary_key=True, autoincrement=False),
                    sa.Column("step", S(16), nullable=False), sa.Column("actor", S(64), nullable=False), sa.Column("time_ms", B(), nullable=False),
                    sa.Column("idx", B(), nullable=False, unique=True), sa.Column("document", T(), nullable=False),
                    sa.Column("commitment_salt", S(64), nullable=False), sa.Column("deposit_code", S(32)))
    for table in ("rk_officer", "rk_lender"):
        op.create_table(table, sa.Column("id", S(64), primary_key=True), sa.Column("name", T(), nullable=False),
                        sa.Column("public_key", sa.LargeBinary(), nullable=False), sa.Column("enabled", sa.Boolean(), nullable=False))
    op.create_table("rk_model", sa.Column("sha256", S(64), primary_key=True), sa.Column("version", S(64), nullable=False),
                    sa.Column("text", T(), nullable=False))
    op.create_table("rk_complaint", sa.Column("idx", B(), primary_key=True, autoincrement=False), sa.Column("lender_id", S(64), nullable=False),
                    sa.Column("day", I(), nullable=False), sa.Column("digest", S(64), nullable=False),
                    sa.Column("commitment_salt", S(64), nullable=False), sa.Column("time_ms", B(), nullable=False), sa.Column("deposit_code", S(32)))
    op.create_index("ix_rk_complaint_lender_id", "rk_complaint", ["lender_id"])
    op.create_table("rk_anchored", sa.Column("name", S(16), primary_key=True), sa.Column("next_height", B(), nullable=False))


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)
    drop_ledger_tables(op)
