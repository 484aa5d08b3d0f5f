"""a pool loan's leaf hash, made when the loan is checked, and an index holding the hashes in order (certifying a pool
then reads 32 bytes a loan from the index, not the pages of its leaves)

Rows from before have none: the chain hashes their leaves when it needs them, as it always did.
"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0002", "0001", None, None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sc_pool_loan")}
    if "leaf_hash" in columns:  # a database made from the current models has both already
        return
    with op.batch_alter_table("sc_pool_loan") as batch:
        batch.add_column(sa.Column("leaf_hash", sa.LargeBinary(), nullable=True))
    op.create_index("ix_sc_pool_loan_hashes", "sc_pool_loan", ["pool_id", "seq", "leaf_hash"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sc_pool_loan_hashes", table_name="sc_pool_loan")
    with op.batch_alter_table("sc_pool_loan") as batch:
        batch.drop_column("leaf_hash")
