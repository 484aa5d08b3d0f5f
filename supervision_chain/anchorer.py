"""The durable outbox to the judicial chain: every sealed block is anchored, in order, until
acknowledged; the deposit codes that come back are stored beside the deposits.

The outbox is the ledger itself plus one number (the next height to anchor), so nothing is
lost across restarts and an outage only delays: anchors queue and catch up. Resending a
block is harmless: the judicial chain answers it with the same codes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import grpc
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from chain.ledger import Ledger
from proto import crosschain_pb2 as pb
from proto import crosschain_pb2_grpc as pb_grpc

from .models import AnchoredUpTo, AnchorReceipt, Deposit, Lender

log = logging.getLogger(__name__)
ANCHORED_UP_TO = AnchoredUpTo.__table__  # type: ignore[attr-defined]
RECEIPTS = AnchorReceipt.__table__  # type: ignore[attr-defined]
DEPOSITS = Deposit.__table__  # type: ignore[attr-defined]
LENDERS = Lender.__table__  # type: ignore[attr-defined]


class Anchorer:
    def __init__(self, ledger: Ledger, channel_factory: Callable[[], grpc.Channel], on_anchor: Callable[[], None]) -> None:
        self.ledger = ledger
        self.engine = ledger.store.engine  # type: ignore[attr-defined]
        self._channel_factory = channel_factory
        self._on_anchor = on_anchor
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="anchorer", daemon=True)
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self.notify()
        self._thread.join(timeout=30)

    def notify(self) -> None:
        """A block was sealed: look again now."""
        with self._wake:
            self._wake.notify()

    def next_height(self) -> int:
        with self.ledger.store.read_engine.connect() as conn:  # type: ignore[attr-defined]
            value = conn.execute(select(ANCHORED_UP_TO.c.next_height).where(ANCHORED_UP_TO.c.name == "judicial")).scalar_one_or_none()
        return int(value or 0)

    def backlog(self) -> int:
        """Sealed blocks not yet acknowledged by the judicial chain."""
        latest = self.ledger.store.latest_block()
        return (latest.height + 1 - self.next_height()) if latest else 0

    def _run(self) -> None:
        channel = self._channel_factory()
        stub = pb_grpc.CrossChainStub(channel)
        delay = 0.2
        while not self._stopping:
            height = self.next_height()
            stored = self.ledger.store.block(height)
            if stored is None:
                with self._wake:
                    self._wake.wait(timeout=0.5)
                continue
            try:
                self._anchor(stub, height, stored)
                delay = 0.2
                self.last_error = None
            except grpc.RpcError as exc:
                self.last_error = f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
                log.warning("anchoring block %d failed (%s); retrying in %.1f s", height, self.last_error, delay)
                with self._wake:
                    self._wake.wait(timeout=delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # keep the outbox alive; the block stays queued
                log.exception("anchoring block %d failed", height)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        channel.close()

    def _names(self, first: int, end: int) -> dict[str, str]:
        """Registered names of the lenders with deposits in [first, end), for the court's reports."""
        with self.ledger.store.read_engine.connect() as conn:  # type: ignore[attr-defined]
            ids = select(DEPOSITS.c.lender_id).where(DEPOSITS.c.idx >= first, DEPOSITS.c.idx < end).distinct()
            return dict(conn.execute(select(LENDERS.c.id, LENDERS.c.name).where(LENDERS.c.id.in_(ids))).all())

    def _anchor(self, stub: pb_grpc.CrossChainStub, height: int, stored) -> None:  # type: ignore[no-untyped-def]
        block = self.ledger.block(height)
        first = block.header.first_index  # type: ignore[union-attr]
        entries = self.ledger.store.entries(first, stored.tree_size)
        request = pb.AnchorRequest(
            source_chain_id=self.ledger.chain_id, block_header=stored.header,
            checkpoint=self.ledger.store.checkpoint(stored.tree_size) or "",
            first_index=first, entries=[e.data for e in entries], lender_names=self._names(first, stored.tree_size))
        receipt = stub.Anchor(request, timeout=60)
        if receipt.first_source_index != first or len(receipt.deposit_codes) != len(entries):
            raise RuntimeError(f"the judicial chain answered block {height} with codes for other entries")
        codes = list(enumerate(receipt.deposit_codes, start=first))
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("UPDATE sv_deposit SET deposit_code = ? WHERE idx = ?", [(c, i) for i, c in codes])
            else:
                for i, c in codes:
                    conn.execute(DEPOSITS.update().where(DEPOSITS.c.idx == i).values(deposit_code=c))
            if conn.execute(ANCHORED_UP_TO.update().where(ANCHORED_UP_TO.c.name == "judicial").values(next_height=height + 1)).rowcount == 0:
                conn.execute(ANCHORED_UP_TO.insert().values(name="judicial", next_height=height + 1))
            upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert  # a second anchorer's receipt: kept once
            conn.execute(upsert(RECEIPTS).values(height=height, sealed_ms=block.header.time_ms,  # type: ignore[union-attr]
                                                 anchored_ms=int(time.time() * 1000), judicial_checkpoint=receipt.judicial_checkpoint)
                         .on_conflict_do_nothing())
        self._on_anchor()
