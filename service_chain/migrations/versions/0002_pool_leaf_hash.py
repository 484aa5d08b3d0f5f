"""a pool loan's leaf hash, made when the loan is checked (certifying a pool then reads 32 bytes a loan, not its leaf)

Rows from before have none: the chain hashes their leaves when it needs them, as it always did.
"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0002", "0001", None, None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sc_pool_loan")}
    if "leaf_hash" not in columns:  # a database made from the current models has it already
        with op.batch_alter_table("sc_pool_loan") as batch:
            batch.add_column(sa.Column("leaf_hash", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sc_pool_loan") as batch:
        batch.drop_column("leaf_hash")
