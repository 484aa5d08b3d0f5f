"""Signed reads are accepted once: each (lender, nonce) is remembered for the replay window.

A signed read is only valid within the time window around its timestamp, so a nonce need be
remembered only until its timestamp leaves the window. The set is in memory, per process, and
bounded: when it is full of unexpired nonces the read is refused (429) rather than forgetting one
early, which would let a replay through. With several API processes a replay sent to another
process is not caught; the window still bounds it.
"""

from __future__ import annotations

import heapq
import threading

__all__ = ["NonceWindow"]


class NonceWindow:
    def __init__(self, window_ms: int, capacity: int = 200_000) -> None:
        self._window_ms = window_ms
        self._capacity = capacity
        self._seen: set[tuple[str, str]] = set()
        self._expiry: list[tuple[int, str, str]] = []  # (forget after ms, lender, nonce), a heap
        self._lock = threading.Lock()

    def _forget_expired(self, now_ms: int) -> None:
        while self._expiry and self._expiry[0][0] < now_ms:
            _, lender_id, nonce = heapq.heappop(self._expiry)
            self._seen.discard((lender_id, nonce))

    def use(self, lender_id: str, nonce: str, timestamp_ms: int, now_ms: int) -> str | None:
        """Record a nonce; None if it is fresh, else why it is refused ("replay" or "full")."""
        with self._lock:
            self._forget_expired(now_ms)
            key = (lender_id, nonce)
            if key in self._seen:
                return "replay"
            if len(self._seen) >= self._capacity:
                return "full"
            self._seen.add(key)
            heapq.heappush(self._expiry, (timestamp_ms + self._window_ms, lender_id, nonce))
            return None
