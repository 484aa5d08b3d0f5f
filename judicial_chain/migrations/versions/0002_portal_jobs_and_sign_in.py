"""durable verification jobs; one-time passwords that must be changed and expire"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0002", "0001", None, None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('portal_job',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('judge_id', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=128), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('owner', sa.String(length=32), nullable=True),
    sa.Column('heartbeat_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('portal_job_chunk',
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('chunk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('items', sa.Text(), nullable=False),
    sa.Column('results', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job_id', 'chunk')
    )
    if not sa.inspect(op.get_bind()).has_table('portal_judge'):
        # a database made before migrations whose portal never ran: the portal's tables as 0001 has them
        _create_portal_tables_of_0001()
    with op.batch_alter_table('portal_judge') as batch:
        # judges made before this revision still hold their one-time password: they must change it (it does not expire)
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column('password_issued_ms', sa.BigInteger(), nullable=True))


def _create_portal_tables_of_0001() -> None:
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
    if not sa.inspect(op.get_bind()).has_table('portal_verification_log'):
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
    with op.batch_alter_table('portal_judge') as batch:
        batch.drop_column('password_issued_ms')
        batch.drop_column('must_change_password')
    op.drop_table('portal_job_chunk')
    op.drop_table('portal_job')
