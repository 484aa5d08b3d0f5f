"""one name per field: the columns take the names the wire and the code use"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0004", "0003", None, None

RENAMES = {"sv_deposit": [("event_ms", "event_time_ms"), ("accepted_ms", "deposit_time_ms"), ("meta", "metadata")],
           "sv_request": [("accepted_ms", "deposit_time_ms")]}


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    """Rename in place; a database whose tables were made from the current models has the new names already."""
    for table, pairs in RENAMES.items():
        have = _columns(table)
        todo = [(old, new) for old, new in pairs if old in have and new not in have]
        if todo:
            with op.batch_alter_table(table) as batch:
                for old, new in todo:
                    batch.alter_column(old, new_column_name=new)


def downgrade() -> None:
    for table, pairs in RENAMES.items():
        with op.batch_alter_table(table) as batch:
            for old, new in pairs:
                batch.alter_column(new, new_column_name=old)
