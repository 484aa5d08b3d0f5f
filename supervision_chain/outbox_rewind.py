"""Rewind the supervision chain's outbox to what a (restored) judicial chain holds.

When a supervision chain and the judicial chain it anchors into are restored from backups taken
at slightly different moments, the supervision outbox may name blocks the restored judicial chain
never received. Rewinding the outbox (and forgetting those blocks' receipts and deposit codes)
makes the anchorer send them again on start; they get their deposit codes anew.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from chain_sql.schema import BlockRow

from .models import AnchoredUpTo, AnchorReceipt, Deposit

__all__ = ["rewind_outbox"]

OUTBOX = "judicial"  # the outbox row's name (sv_anchored.name)
ANCHORED_UP_TO = AnchoredUpTo.__table__  # type: ignore[attr-defined]
RECEIPTS = AnchorReceipt.__table__  # type: ignore[attr-defined]
DEPOSITS = Deposit.__table__  # type: ignore[attr-defined]
BLOCKS = BlockRow.__table__  # type: ignore[attr-defined]


def rewind_outbox(engine: Engine, judicial_next_height: int) -> dict[str, Any] | None:
    """Set the outbox back to ``judicial_next_height`` (the next block the judicial chain expects) if it is ahead.

    Returns {from_height, to_height, first_index} when it rewound, None when nothing was ahead.
    """
    with engine.begin() as conn:
        outbox = conn.execute(select(ANCHORED_UP_TO.c.next_height).where(ANCHORED_UP_TO.c.name == OUTBOX)).scalar_one_or_none() or 0
        if outbox <= judicial_next_height:
            return None
        before = conn.execute(select(BLOCKS.c.tree_size).where(BLOCKS.c.height == judicial_next_height - 1)).scalar_one_or_none()
        first = int(before or 0)  # the first entry of the first block to send again
        conn.execute(ANCHORED_UP_TO.update().where(ANCHORED_UP_TO.c.name == OUTBOX).values(next_height=judicial_next_height))
        conn.execute(RECEIPTS.delete().where(RECEIPTS.c.height >= judicial_next_height))
        conn.execute(DEPOSITS.update().where(DEPOSITS.c.idx >= first).values(deposit_code=None))
    return {"from_height": int(outbox), "to_height": judicial_next_height, "first_index": first}
