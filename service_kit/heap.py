"""The collector's settings for a long-running service process, set once the service has started.

Python's cyclic collector runs a young collection every 700 new container objects and, now and
then, a full one over every object alive. A service holds a large settled heap (FastAPI,
SQLAlchemy, the chain's state) and a 1,000-item deposit makes thousands of short-lived objects,
so the default made several collections per request and, every few seconds, a full pass over
the whole heap while requests waited: the single deposits' p99 was that pause (107 ms against
a p50 of 28 ms). Freezing the heap as it stands after start-up takes it out of every later
collection, and a larger first threshold makes young collections rarer; garbage in cycles is
still collected, later.
"""

from __future__ import annotations

import gc

__all__ = ["settle_heap", "THRESHOLDS"]

THRESHOLDS = (10_000, 20, 100)  # young collection every 10,000 new containers (default 700, 10, 10)


def settle_heap() -> None:
    """Collect what start-up left, freeze the rest out of future collections, and space collections out."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
