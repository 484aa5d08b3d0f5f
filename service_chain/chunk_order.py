"""Chunks of one pool sent together are stored in the order their lender numbered them.

The SDK sends a pool's chunks two at a time (each is checked in its own worker process) and gives each a
``position``: how many loans the pool holds before it. A chunk checked before its turn waits for the chunks ahead of
it. It gives up when its turn can no longer come — the pool has passed its position, or every other chunk of the
pool still here is itself waiting (the one before it failed or was never sent) — not on a timer alone.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["ChunkOrder"]


class ChunkOrder:
    """Turn-taking among the chunks of each pool being added now (one instance per chain)."""

    def __init__(self, patience_s: float = 300.0) -> None:
        self.patience_s = patience_s
        self._changed = threading.Condition()
        self._here: Counter[str] = Counter()  # chunks of the pool between arriving and leaving (checked or stored)
        self._waiting: Counter[str] = Counter()  # of those, the ones waiting for their turn

    @contextmanager
    def arriving(self, pool_id: str) -> Iterator[None]:
        """Around a chunk's whole request: while it is here, a chunk after it may wait for it."""
        with self._changed:
            self._here[pool_id] += 1
        try:
            yield
        finally:
            with self._changed:
                self._here[pool_id] -= 1
                if not self._here[pool_id]:
                    del self._here[pool_id]
                self._changed.notify_all()

    def wait_turn(self, pool_id: str, position: int, held: Callable[[], int]) -> bool:
        """Wait until the pool holds ``position`` loans (``held`` reads it); False when that cannot happen any more."""
        deadline = time.monotonic() + self.patience_s
        with self._changed:
            self._waiting[pool_id] += 1
            self._changed.notify_all()  # a chunk waiting for this one to finish checking re-counts
            try:
                while True:
                    now = held()
                    if now == position:
                        return True
                    left = deadline - time.monotonic()
                    if now > position or self._here[pool_id] - self._waiting[pool_id] <= 0 or left <= 0:
                        return False
                    self._changed.wait(left)
            finally:
                self._waiting[pool_id] -= 1
                if not self._waiting[pool_id]:
                    del self._waiting[pool_id]
