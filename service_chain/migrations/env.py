"""Alembic environment: always run through chain_sql.migrations, on the connection it passes."""

from alembic import context

attributes = context.config.attributes
context.configure(connection=attributes["connection"], version_table=attributes["version_table"],
                  target_metadata=attributes.get("target_metadata"), render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
