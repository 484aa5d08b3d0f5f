"""The lenders' keys as the supervision chain registered them, kept in a chain's own table (risk, credit, …).

A chain that takes lenders' signed requests checks them with these copies; the feed's list is the source,
synced every few seconds, and a changed key or a disabled lender drops the cached key at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, select

from chain.keys import PublicKey, public_key_from_bytes

from .report_feed import FeedLender

__all__ = ["save_lenders", "lender_key"]


def save_lenders(engine: Any, table: Table, lenders: list[FeedLender], forget: Callable[[str], None]) -> None:
    """Insert new lenders, update changed ones (and ``forget`` their cached keys); ``table`` has id, name, public_key, enabled."""
    with engine.begin() as conn:
        known = {r.id: r for r in conn.execute(select(table)).all()}
        for lender in lenders:
            row = known.get(lender.id)
            values = {"name": lender.name, "public_key": lender.public_key, "enabled": lender.enabled}
            if row is None:
                conn.execute(table.insert().values(id=lender.id, **values))
            elif (row.name, row.public_key, row.enabled) != (lender.name, lender.public_key, lender.enabled):
                conn.execute(table.update().where(table.c.id == lender.id).values(**values))
                forget(lender.id)


def lender_key(read_engine: Any, table: Table, lender_id: str) -> tuple[PublicKey, bool] | None:
    """A lender's public key and whether it is enabled, or None for a lender the feed never listed."""
    with read_engine.connect() as conn:
        row = conn.execute(select(table.c.public_key, table.c.enabled).where(table.c.id == lender_id)).first()
    return (public_key_from_bytes(row.public_key), bool(row.enabled)) if row else None
