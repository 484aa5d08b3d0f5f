"""evidence that failed at court, counted per depositor and day (the risk chain's court_failures indicator)"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0003", "0002", None, None


def upgrade() -> None:
    op.create_table("jc_court_failure", sa.Column("chain_id", sa.String(128), primary_key=True), sa.Column("lender_id", sa.String(64), primary_key=True),
                    sa.Column("day", sa.Integer(), primary_key=True, autoincrement=False), sa.Column("failures", sa.Integer(), nullable=False))


def downgrade() -> None:
    op.drop_table("jc_court_failure")
