"""The supervision chain's side of the outbox to the judicial chain (``service_kit.anchoring``):
the deposit codes that come back are stored beside the deposits, with the judicial checkpoint
that covered them (the dashboard's anchoring lag), and each block names its lenders for the court.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from chain.ledger import Ledger
from chain_sql import update_by_key
from service_kit.anchoring import AnchoredBlock, AnchorOutbox

from .models import AnchoredUpTo, AnchorReceipt, Deposit, Lender

ANCHORED_UP_TO = AnchoredUpTo.__table__  # type: ignore[attr-defined]
RECEIPTS = AnchorReceipt.__table__  # type: ignore[attr-defined]
DEPOSITS = Deposit.__table__  # type: ignore[attr-defined]
LENDERS = Lender.__table__  # type: ignore[attr-defined]

__all__ = ["Anchorer"]


def _store_codes(conn: Connection, anchored: AnchoredBlock) -> None:
    update_by_key(conn, DEPOSITS, "idx", "deposit_code", list(enumerate(anchored.codes, start=anchored.first_index)))
    upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert  # a second anchorer's receipt: kept once
    conn.execute(upsert(RECEIPTS).values(height=anchored.height, sealed_ms=anchored.sealed_ms, anchored_ms=int(time.time() * 1000),
                                         judicial_checkpoint=anchored.judicial_checkpoint).on_conflict_do_nothing())


class Anchorer(AnchorOutbox):
    """Every sealed supervision block, anchored in order; codes stored in ``sv_deposit``."""

    def __init__(self, ledger: Ledger, channel_factory: Callable[[], grpc.Channel], on_anchor: Callable[[], None]) -> None:
        super().__init__(ledger, channel_factory, on_anchor, position=ANCHORED_UP_TO, store_codes=_store_codes, names=self._lender_names)

    def _lender_names(self, first: int, end: int) -> dict[str, str]:
        """Registered names of the lenders with deposits in [first, end), for the court's reports."""
        with self.ledger.store.read_engine.connect() as conn:  # type: ignore[attr-defined]
            ids = select(DEPOSITS.c.lender_id).where(DEPOSITS.c.idx >= first, DEPOSITS.c.idx < end).distinct()
            return dict(conn.execute(select(LENDERS.c.id, LENDERS.c.name).where(LENDERS.c.id.in_(ids))).all())
