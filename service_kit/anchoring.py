"""The durable outbox every source chain keeps to the judicial chain: each sealed block is anchored,
in order, until acknowledged; the deposit codes that come back are handed to the chain to store.

The outbox is the ledger itself plus one number (the next height to anchor, a row of the chain's
position table), so nothing is lost across restarts and an outage only delays: anchors queue and
catch up. Resending a block is harmless: the judicial chain answers it with the same codes. What a
chain does with the codes (its own tables) is its ``store_codes`` hook, run in the same transaction
as the position, so codes and position never disagree.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from chain.ledger import Ledger
from proto import crosschain_pb2 as pb
from proto import crosschain_pb2_grpc as pb_grpc

__all__ = ["AnchorOutbox", "AnchoredBlock"]

log = logging.getLogger(__name__)
POSITION = "judicial"  # the position table's row name


@dataclass(frozen=True)
class AnchoredBlock:
    """What the judicial chain answered for one block: codes[i] names source entry first_index + i."""

    height: int
    first_index: int
    codes: list[str]
    judicial_checkpoint: str
    sealed_ms: int


class AnchorOutbox:
    """One thread per chain that sends sealed blocks to the judicial chain and stores what comes back.

    ``position`` is a table of (name, next_height); ``store_codes(conn, anchored)`` writes the codes in
    the transaction that moves the position; ``names(first, end)`` gives the registered names of the
    depositors of entries [first, end), shown in the court's reports."""

    def __init__(self, ledger: Ledger, channel_factory: Callable[[], grpc.Channel], on_anchor: Callable[[], None], *,
                 position: Table, store_codes: Callable[[Connection, AnchoredBlock], None],
                 names: Callable[[int, int], dict[str, str]] = lambda first, end: {}) -> None:
        self.ledger = ledger
        self.engine = ledger.store.engine  # type: ignore[attr-defined]
        self._channel_factory = channel_factory
        self._on_anchor = on_anchor
        self._position = position
        self._store_codes = store_codes
        self._names = names
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
            value = conn.execute(select(self._position.c.next_height).where(self._position.c.name == POSITION)).scalar_one_or_none()
        return int(value or 0)

    def backlog(self) -> int:
        """Sealed blocks not yet acknowledged by the judicial chain."""
        latest = self.ledger.store.latest_block()
        return (latest.height + 1 - self.next_height()) if latest else 0

    def _run(self) -> None:
        """Anchor block after block. One block is in flight at a time (the judicial chain takes them in order), but
        the next block's request is read while the judicial chain works on this one, and sent before this one's
        codes are stored: a block costs the slower of the two sides, not both."""
        channel = self._channel_factory()
        stub = pb_grpc.CrossChainStub(channel)
        delay = 0.2
        in_flight: _InFlight | None = None
        while not self._stopping:
            try:
                if in_flight is None:
                    prepared = self._request(self.next_height())
                    if prepared is None:  # nothing sealed to send: wait for the sealer
                        with self._wake:
                            self._wake.wait(timeout=0.5)
                        continue
                    in_flight = _InFlight(prepared, stub.Anchor.future(prepared.request, timeout=60))
                following = self._request(in_flight.prepared.height + 1)  # read while the judicial chain works
                anchored = self._answer(in_flight.prepared, in_flight.future.result())
                in_flight = _InFlight(following, stub.Anchor.future(following.request, timeout=60)) if following else None
                self._store(anchored)
                delay = 0.2
                self.last_error = None
            except grpc.RpcError as exc:
                in_flight = None  # start again from the stored position (a block anchored twice gets its codes again)
                self.last_error = f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
                log.warning("anchoring %s to the judicial chain failed (%s); retrying in %.1f s", self.ledger.chain_id, self.last_error, delay)
                with self._wake:
                    self._wake.wait(timeout=delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # keep the outbox alive; the block stays queued
                in_flight = None
                log.exception("anchoring %s to the judicial chain failed", self.ledger.chain_id)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        if in_flight is not None:
            in_flight.future.cancel()
        channel.close()

    def _request(self, height: int) -> _Prepared | None:
        """The anchor request of block ``height``, or None while it is not sealed."""
        stored = self.ledger.store.block(height)
        if stored is None:
            return None
        block = self.ledger.block(height)
        first = block.header.first_index  # type: ignore[union-attr]
        entries = self.ledger.store.entries(first, stored.tree_size)
        request = pb.AnchorRequest(
            source_chain_id=self.ledger.chain_id, block_header=stored.header,
            checkpoint=self.ledger.store.checkpoint(stored.tree_size) or "",
            first_index=first, entries=[e.data for e in entries], lender_names=self._names(first, stored.tree_size))
        return _Prepared(height, first, len(entries), block.header.time_ms, request)  # type: ignore[union-attr]

    def _answer(self, prepared: _Prepared, receipt: pb.AnchorReceipt) -> AnchoredBlock:
        if receipt.first_source_index != prepared.first or len(receipt.deposit_codes) != prepared.count:
            raise RuntimeError(f"the judicial chain answered block {prepared.height} with codes for other entries")
        return AnchoredBlock(prepared.height, prepared.first, list(receipt.deposit_codes), receipt.judicial_checkpoint, prepared.sealed_ms)

    def _store(self, anchored: AnchoredBlock) -> None:
        """The codes, and the position past the block, in one transaction."""
        with self.engine.begin() as conn:
            self._store_codes(conn, anchored)
            moved = conn.execute(self._position.update().where(self._position.c.name == POSITION).values(next_height=anchored.height + 1))
            if moved.rowcount == 0:
                conn.execute(self._position.insert().values(name=POSITION, next_height=anchored.height + 1))
        self._on_anchor()


@dataclass(frozen=True)
class _Prepared:
    """A block's anchor request, with what its answer must match."""

    height: int
    first: int
    count: int
    sealed_ms: int
    request: pb.AnchorRequest


@dataclass(frozen=True)
class _InFlight:
    prepared: _Prepared
    future: grpc.Future


def judicial_channel(target: str | None, certs_dir: Path | None, chain_id: str) -> grpc.Channel:
    """A mutual-TLS channel to the judicial chain with this chain's client certificate (from the consortium's certs)."""
    from proto.channel import client_channel, client_stem

    if certs_dir is None or target is None:
        raise ValueError("anchoring to the judicial chain needs --judicial HOST:PORT and --certs (the consortium's certificates)")
    return client_channel(target, certs_dir, client_stem(chain_id))
