"""the per-item secret salt behind each public commitment"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0003", "0002", None, None


def upgrade() -> None:
    """Upgrade schema: deposits made before have no salt (their commitments were not hiding).
    A database whose tables were made from the current models has the column already."""
    if "commitment_salt" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sv_deposit")}:
        return
    op.add_column('sv_deposit', sa.Column('commitment_salt', sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('sv_deposit') as batch:
        batch.drop_column('commitment_salt')
