"""The sealer every chain runs: every N entries or T milliseconds, whichever first, the pending entries
become a signed block and checkpoint. One sealer per chain (on PostgreSQL, the process that
won the election); waiters are told after each seal. It reads what is pending from the
database on every tick, so entries appended by other processes are sealed as well.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from chain.ledger import Ledger

log = logging.getLogger(__name__)


class Changes:
    """A version number that async long-polls can wait on; bumped from any thread."""

    def __init__(self) -> None:
        self.version = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = asyncio.Event()

    async def wait(self, seen: int, timeout: float) -> int:
        """Return once the version moved past ``seen`` or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while self.version == seen and self._event is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                await asyncio.wait_for(self._event.wait(), left)
            except TimeoutError:
                break
        return self.version


class Sealer:
    def __init__(self, ledger: Ledger, max_entries: int, interval_ms: int, on_seal: Callable[[], None]) -> None:
        self.ledger = ledger
        self.max_entries = max_entries
        self.interval = interval_ms / 1000
        self._on_seal = on_seal
        self._wake = threading.Condition()
        self._pending_hint = 0
        self._stopping = False
        self._seal_on_stop = True
        self._thread = threading.Thread(target=self._run, name="sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self, appended: int) -> None:
        """Called by the writer after each commit."""
        with self._wake:
            self._pending_hint += appended
            if self._pending_hint >= self.max_entries:
                self._wake.notify()

    def stop(self, *, seal: bool = True) -> None:
        """Seal whatever was acknowledged (unless ``seal`` is False: this process lost the election), then stop."""
        self._seal_on_stop = seal
        self._stopping = True
        with self._wake:
            self._wake.notify()
        self._thread.join(timeout=60)

    def seal_pending(self) -> int:
        """Seal everything pending now, in blocks of at most N; return how many blocks."""
        blocks = 0
        while self.ledger.seal(max_entries=self.max_entries) is not None:
            blocks += 1
        if blocks:
            self._on_seal()
        return blocks

    def _run(self) -> None:
        since: float | None = None
        while True:
            with self._wake:  # woken early by ``notify`` once a full block's worth has been appended since the last seal
                if self._pending_hint < self.max_entries and not self._stopping:
                    self._wake.wait(timeout=min(self.interval / 5, 0.1))
            try:
                if self._stopping:
                    if self._seal_on_stop:
                        self.seal_pending()
                    return
                pending = self.ledger.store.size() - self.ledger.sealed_size()
                if pending <= 0:
                    since = None
                    with self._wake:
                        self._pending_hint = 0
                    continue
                now = time.monotonic()
                since = since or now
                if pending >= self.max_entries or now - since >= self.interval:
                    with self._wake:  # what stays unsealed counts toward the next early wake
                        self._pending_hint = max(0, pending - self.max_entries)
                    if self.ledger.seal(max_entries=self.max_entries) is not None:
                        self._on_seal()
                    since = now if pending > self.max_entries else None
            except Exception:  # keep sealing on the next tick; the entries are safe on disk
                log.exception("sealing failed; will retry")
                time.sleep(0.5)
