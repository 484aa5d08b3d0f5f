"""anchor receipts for the regulator's dashboard"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0002", "0001", None, None


def upgrade() -> None:
    """Upgrade schema (a database made earlier the same day may have the table already)."""
    if sa.inspect(op.get_bind()).has_table("sv_anchor_receipt"):
        return
    op.create_table('sv_anchor_receipt',
    sa.Column('height', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('sealed_ms', sa.BigInteger(), nullable=False),
    sa.Column('anchored_ms', sa.BigInteger(), nullable=False),
    sa.Column('judicial_checkpoint', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('height')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('sv_anchor_receipt')
