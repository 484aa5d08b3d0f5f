"""The ledger tables' migration, written once: every chain's first migration calls these.

Alembic operations for the five ``ledger_*`` tables of ``chain_sql.schema``; a chain adds its
own tables beside them in its own scripts and version table.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["create_ledger_tables", "drop_ledger_tables", "LEDGER_TABLE_NAMES"]

LEDGER_TABLE_NAMES = ("ledger_block", "ledger_checkpoint", "ledger_entry", "ledger_meta", "ledger_tile")


def create_ledger_tables(op: Any) -> None:
    """Create the ledger tables (``op`` is ``alembic.op`` inside a migration script)."""
    op.create_table("ledger_block",
                    sa.Column("height", sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column("tree_size", sa.BigInteger(), nullable=False),
                    sa.Column("header", sa.Text(), nullable=False),
                    sa.PrimaryKeyConstraint("height"),
                    sa.UniqueConstraint("tree_size"))
    op.create_table("ledger_checkpoint",
                    sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column("note", sa.Text(), nullable=False),
                    sa.PrimaryKeyConstraint("size"))
    op.create_table("ledger_entry",
                    sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
                    sa.Column("data", sa.LargeBinary(), nullable=False),
                    sa.PrimaryKeyConstraint("idx"))
    op.create_table("ledger_meta",
                    sa.Column("key", sa.String(), nullable=False),
                    sa.Column("value", sa.Text(), nullable=False),
                    sa.PrimaryKeyConstraint("key"))
    op.create_table("ledger_tile",
                    sa.Column("level", sa.Integer(), nullable=False),
                    sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column("hashes", sa.LargeBinary(), nullable=False),
                    sa.PrimaryKeyConstraint("level", "idx"))


def drop_ledger_tables(op: Any) -> None:
    for name in reversed(LEDGER_TABLE_NAMES):
        op.drop_table(name)
