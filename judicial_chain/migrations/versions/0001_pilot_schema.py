"""the schema of the pilot: ledger, judicial and portal tables"""
import sqlalchemy as sa
from alembic import op

from chain_sql.ledger_migration import create_ledger_tables, drop_ledger_tables

revision, down_revision, branch_labels, depends_on = "0001", None, None, None


def upgrade() -> None:
    """Upgrade schema."""
    create_ledger_tables(op)
    op.create_table('jc_anchor',
    sa.Column('chain_id', sa.String(length=128), nullable=False),
    sa.Column('height', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('block_hash', sa.LargeBinary(), nullable=False),
    sa.Column('first_source_index', sa.BigInteger(), nullable=False),
    sa.Column('first_judicial_index', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('anchored_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'height')
    )
    op.create_table('jc_code',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('judicial_index', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('code'),
    sa.UniqueConstraint('judicial_index'),
    sqlite_with_rowid=False
    )
    op.create_table('jc_lender',
    sa.Column('chain_id', sa.String(length=128), nullable=False),
    sa.Column('lender_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'lender_id')
    )
    op.create_table('jc_source',
    sa.Column('chain_id', sa.String(length=128), nullable=False),
    sa.Column('vkey', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('chain_id')
    )
    op.create_table('jc_source_state',
    sa.Column('chain_id', sa.String(length=128), nullable=False),
    sa.Column('next_height', sa.BigInteger(), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('edge', sa.LargeBinary(), nullable=False),
    sa.Column('last_block_hash', sa.LargeBinary(), nullable=False),
    sa.Column('last_checkpoint', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('chain_id')
    )
    op.create_table('portal_judge',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('password_salt', sa.LargeBinary(), nullable=False),
    sa.Column('password_hash', sa.LargeBinary(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('portal_verification_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('judge_id', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=128), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('portal_verification_log')
    op.drop_table('portal_judge')
    op.drop_table('jc_source_state')
    op.drop_table('jc_source')
    op.drop_table('jc_lender')
    op.drop_table('jc_code')
    op.drop_table('jc_anchor')
    drop_ledger_tables(op)
