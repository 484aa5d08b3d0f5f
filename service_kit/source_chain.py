"""The background work every source chain runs beside its API (risk, credit, service): the sealer, the outbox to
the judicial chain, and one loop thread that follows the supervision chain's feed — started and stopped together.

Each chain decides what a feed page means; what is the same everywhere lives here: seal, then wake the outbox and
the long-polls; read the lenders' keys every few seconds; read pages while they come full; keep going when the
supervision chain is away (the error is kept for the chain's status) and stop within one interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Table

from chain.ledger import Ledger

from .anchoring import AnchorOutbox, judicial_channel
from .report_feed import FeedLender, ReportFeed
from .sealing import Changes, Sealer

__all__ = ["Anchoring", "SourceChainWorkers", "FeedLoop"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anchoring:
    """Where and how a chain anchors: the judicial target (None: not at all), its certificates, the outbox's position
    table, how the deposit codes that come back are stored, and the depositor named to the court."""

    target: str | None
    certs_dir: Path | None
    position: Table
    store_codes: Callable[[Any, Any], None]
    depositor_id: str
    depositor_name: str


class SourceChainWorkers:
    """The sealer, the judicial outbox and the loop thread of one chain."""

    def __init__(self, ledger: Ledger, changes: Changes, chain_id: str, anchoring: Anchoring, *, seal_max_entries: int,
                 seal_interval_ms: int, loop: Callable[[threading.Event], None], name: str) -> None:
        self.ledger, self.changes, self.chain_id, self.anchoring = ledger, changes, chain_id, anchoring
        self.sealer = Sealer(ledger, seal_max_entries, seal_interval_ms, self._sealed)
        self.anchorer: AnchorOutbox | None = None
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=loop, args=(self.stopping,), name=name, daemon=True)

    def start(self) -> None:
        self.sealer.start()
        a = self.anchoring
        if a.target:
            self.anchorer = AnchorOutbox(self.ledger, self._channel, self.changes.bump, position=a.position, store_codes=a.store_codes,
                                         names=lambda first, end: {a.depositor_id: a.depositor_name})
            self.anchorer.start()
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.sealer.stop()
        if self.anchorer:
            self.anchorer.stop()

    def _sealed(self) -> None:
        if self.anchorer:
            self.anchorer.notify()
        self.changes.bump()

    def _channel(self) -> Any:
        return judicial_channel(self.anchoring.target, self.anchoring.certs_dir, self.chain_id)


class FeedLoop:
    """Follows the supervision chain's report feed with the regulator's token: ``follow_once(feed)`` applies one page
    (True: it held reports, read on at once); ``tick()`` runs after each idle read (deadlines and the like)."""

    def __init__(self, url: str | None, token_file: Path | None, interval_ms: int, *, sync_lenders: Callable[[list[FeedLender]], None],
                 follow_once: Callable[[ReportFeed], bool], tick: Callable[[], Any] | None = None, what: str = "feed") -> None:
        self.feed = ReportFeed(url, token_file.read_text().strip()) if url and token_file else None
        self.interval = interval_ms / 1000
        self.error: str | None = None
        self._sync, self._follow, self._tick, self._what = sync_lenders, follow_once, tick, what

    def run(self, stopping: threading.Event) -> None:
        synced = 0.0
        while not stopping.is_set():
            try:
                if self.feed is not None:
                    if time.monotonic() - synced > 5:
                        self._sync(self.feed.lenders())
                        synced = time.monotonic()
                    if self._follow(self.feed):
                        continue
                if self._tick is not None:
                    self._tick()
                self.error = None
            except (httpx.HTTPError, OSError) as exc:
                self.error = f"{exc.__class__.__name__}: {exc}"
                log.warning("the report feed is not answering (%s); retrying", self.error)
            except Exception:  # keep following; the next tick tries again
                log.exception("the %s failed; retrying", self._what)
            stopping.wait(self.interval)
        if self.feed is not None:
            self.feed.close()
