"""the schema of the pilot: ledger and supervision tables"""
import sqlalchemy as sa
from alembic import op

from chain_sql.ledger_migration import create_ledger_tables, drop_ledger_tables

revision, down_revision, branch_labels, depends_on = "0001", None, None, None


def upgrade() -> None:
    """Upgrade schema."""
    create_ledger_tables(op)
    op.create_table('sv_anchored',
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('next_height', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('sv_deposit',
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('lender_id', sa.String(length=64), nullable=False),
    sa.Column('request_first', sa.BigInteger(), nullable=False),
    sa.Column('digest', sa.String(length=128), nullable=False),
    sa.Column('record_type', sa.String(length=16), nullable=False),
    sa.Column('loan_id', sa.String(length=64), nullable=False),
    sa.Column('event_ms', sa.BigInteger(), nullable=False),
    sa.Column('accepted_ms', sa.BigInteger(), nullable=False),
    sa.Column('delay_ms', sa.BigInteger(), nullable=False),
    sa.Column('meta', sa.Text(), nullable=True),
    sa.Column('deposit_code', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('idx')
    )
    op.create_table('sv_digest_run',
    sa.Column('block_height', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('digest_key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('block_height', 'digest_key', 'idx'),
    sqlite_with_rowid=False
    )
    op.create_table('sv_indexed',
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('next_height', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('sv_lender',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('licence', sa.Text(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('sv_request',
    sa.Column('first_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('lender_id', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('timestamp_ms', sa.BigInteger(), nullable=False),
    sa.Column('items_root', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('accepted_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('first_index'),
    sa.UniqueConstraint('lender_id', 'idempotency_key', name='uq_sv_request_idem'),
    sa.UniqueConstraint('lender_id', 'nonce', name='uq_sv_request_nonce')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('sv_request')
    op.drop_table('sv_lender')
    op.drop_table('sv_indexed')
    op.drop_table('sv_digest_run')
    op.drop_table('sv_deposit')
    op.drop_table('sv_anchored')
    drop_ledger_tables(op)
