"""the service chain: ledger, mirrored deposits, parties, lenders, pools and their loans, registrations, claims, entry documents, positions, outbox"""

import sqlalchemy as sa
from alembic import op

from chain_sql.ledger_migration import create_ledger_tables, drop_ledger_tables

revision, down_revision, branch_labels, depends_on = "0001", None, None, None
_TABLES = ('sc_record', 'sc_party', 'sc_lender', 'sc_pool', 'sc_pool_loan', 'sc_registration', 'sc_claim', 'sc_entry', 'sc_position', 'sc_anchored')


def upgrade() -> None:
    create_ledger_tables(op)
    op.create_table('sc_anchored',
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('next_height', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('sc_claim',
    sa.Column('lender_id', sa.String(length=64), nullable=False),
    sa.Column('loan_id', sa.String(length=64), nullable=False),
    sa.Column('pledge_id', sa.String(length=64), nullable=True),
    sa.Column('pledged_ms', sa.BigInteger(), nullable=True),
    sa.Column('holder_id', sa.String(length=64), nullable=True),
    sa.Column('transfer_id', sa.String(length=64), nullable=True),
    sa.Column('held_ms', sa.BigInteger(), nullable=True),
    sa.Column('transfer_idx', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('lender_id', 'loan_id')
    )
    op.create_table('sc_entry',
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('time_ms', sa.BigInteger(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('deposit_code', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('idx')
    )
    op.create_table('sc_lender',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('sc_party',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('sc_pool',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('lender_id', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('offered_to', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('loans', sa.Integer(), nullable=False),
    sa.Column('eligible', sa.Integer(), nullable=False),
    sa.Column('outstanding', sa.BigInteger(), nullable=False),
    sa.Column('certificate', sa.Text(), nullable=True),
    sa.Column('root', sa.String(length=128), nullable=True),
    sa.Column('entry_idx', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sc_pool_lender', 'sc_pool', ['lender_id'], unique=False)
    op.create_index('ix_sc_pool_party', 'sc_pool', ['offered_to'], unique=False)
    op.create_table('sc_pool_loan',
    sa.Column('pool_id', sa.String(length=32), nullable=False),
    sa.Column('loan_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('eligible', sa.Boolean(), nullable=False),
    sa.Column('outstanding', sa.BigInteger(), nullable=False),
    sa.Column('leaf', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('pool_id', 'loan_id')
    )
    op.create_index('ix_sc_pool_loan_seq', 'sc_pool_loan', ['pool_id', 'seq'], unique=True)
    op.create_table('sc_position',
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('next_index', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('sc_record',
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('lender_id', sa.String(length=64), nullable=False),
    sa.Column('loan_id', sa.String(length=64), nullable=False),
    sa.Column('record_type', sa.String(length=16), nullable=False),
    sa.Column('event_ms', sa.BigInteger(), nullable=False),
    sa.Column('deposit_ms', sa.BigInteger(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('deposit_code', sa.String(length=32), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('rate_bp', sa.Integer(), nullable=True),
    sa.Column('dpd', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('idx')
    )
    op.create_index('ix_sc_record_loan', 'sc_record', ['lender_id', 'loan_id'], unique=False)
    op.create_table('sc_registration',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('pool_id', sa.String(length=32), nullable=False),
    sa.Column('lender_id', sa.String(length=64), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('lender_signature', sa.Text(), nullable=False),
    sa.Column('party_signature', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('proposed_ms', sa.BigInteger(), nullable=False),
    sa.Column('registered_ms', sa.BigInteger(), nullable=True),
    sa.Column('released_ms', sa.BigInteger(), nullable=True),
    sa.Column('entry_idx', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sc_registration_pool', 'sc_registration', ['pool_id'], unique=False)


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
    drop_ledger_tables(op)
