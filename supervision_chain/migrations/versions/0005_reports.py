"""typed regulatory reports: each deposit's report (canonical JSON text) and an index of the deposits carrying one"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0005", "0004", None, None

WHERE = sa.text("report IS NOT NULL")


def upgrade() -> None:
    """Upgrade schema: deposits made before carry no report. A database whose tables were made from the
    current models has the column and the index already."""
    inspector = sa.inspect(op.get_bind())
    if "report" not in {c["name"] for c in inspector.get_columns("sv_deposit")}:
        op.add_column('sv_deposit', sa.Column('report', sa.Text(), nullable=True))
    if "ix_sv_deposit_report" not in {i["name"] for i in inspector.get_indexes("sv_deposit")}:
        op.create_index('ix_sv_deposit_report', 'sv_deposit', ['idx'], sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_sv_deposit_report', table_name='sv_deposit')
    with op.batch_alter_table('sv_deposit') as batch:
        batch.drop_column('report')
