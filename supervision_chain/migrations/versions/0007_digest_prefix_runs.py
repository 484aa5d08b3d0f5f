"""digest runs keyed by the digest's first 16 hex characters (cut by the database, not in Python)

The runs are derived data: the old table is dropped and the sealer writes the new one again from
the deposit rows at its next start (``index_sealed_blocks`` resumes from block 0).
"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0007", "0006", None, None


def upgrade() -> None:
    """Upgrade schema. A database whose tables were made from the current models has the new table already."""
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if 'sv_digest_run' in tables:
        op.drop_table('sv_digest_run')
    if 'sv_digest_prefix' in tables:
        return
    op.create_table('sv_digest_prefix',
    sa.Column('block_height', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('digest_prefix', sa.String(length=16), nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('block_height', 'digest_prefix', 'idx'),
    sqlite_with_rowid=False
    )
    op.execute(sa.text("DELETE FROM sv_indexed WHERE name = 'digests'"))  # index every sealed block again


def downgrade() -> None:
    """Downgrade schema (the integer-keyed runs are written again by the older code's sealer)."""
    op.drop_table('sv_digest_prefix')
    op.create_table('sv_digest_run',
    sa.Column('block_height', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('digest_key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('block_height', 'digest_key', 'idx'),
    sqlite_with_rowid=False
    )
    op.execute(sa.text("DELETE FROM sv_indexed WHERE name = 'digests'"))
