"""Sliding one-minute (or any window) budgets per key: failed look-ups per judge, failed sign-ins
per account and per client address. Charged before the work, refunded for what did not fail."""

from __future__ import annotations

import threading
import time

__all__ = ["WindowBudget"]


class WindowBudget:
    """At most ``limit`` units per key within ``window`` seconds; in memory, per portal process."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._spent: dict[str, list[list[float]]] = {}  # key → [[time, units], …]
        self._lock = threading.Lock()

    def _recent(self, key: str) -> list[list[float]]:
        now = time.monotonic()
        recent = [e for e in self._spent.get(key, []) if now - e[0] < self.window]
        if recent:
            self._spent[key] = recent
        else:
            self._spent.pop(key, None)
        return recent

    def spent(self, key: str) -> int:
        with self._lock:
            return int(sum(e[1] for e in self._recent(key)))

    def left(self, key: str) -> int:
        return max(0, self.limit - self.spent(key))

    def reserve(self, key: str, wanted: int) -> tuple[int, list[float]]:
        """Take up to ``wanted`` units now; returns how many were granted and a ticket to refund against."""
        with self._lock:
            granted = max(0, min(wanted, self.limit - int(sum(e[1] for e in self._recent(key)))))
            ticket = [time.monotonic(), float(granted)]
            if granted:
                self._spent.setdefault(key, []).append(ticket)
            return granted, ticket

    def refund(self, ticket: list[float], units: int) -> None:
        """Give back units of a reservation that turned out not to be spent (it still ages from when it was taken)."""
        with self._lock:
            ticket[1] = max(0.0, ticket[1] - units)

    def charge(self, key: str, units: int = 1) -> None:
        with self._lock:
            self._spent.setdefault(key, []).append([time.monotonic(), float(units)])

    def clear(self, key: str) -> None:
        with self._lock:
            self._spent.pop(key, None)
