"""consents found by deposit code: a partial index over the codes of consent deposits only"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0006", "0005", None, None

WHERE = sa.text("record_type = 'consent'")


def upgrade() -> None:
    """Upgrade schema. A database whose tables were made from the current models has the index already."""
    if "ix_sv_deposit_consent_code" not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("sv_deposit")}:
        op.create_index('ix_sv_deposit_consent_code', 'sv_deposit', ['deposit_code'], sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_sv_deposit_consent_code', table_name='sv_deposit')
