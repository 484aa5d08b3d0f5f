"""One way to rank a quantile, shared by dashboards and /metrics so both show the same figure."""

from __future__ import annotations

from typing import Any

__all__ = ["quantile"]


def quantile(values: list[Any], q: float) -> Any:
    """The q-quantile: the value at rank ⌊q·(n−1)⌋ of the sorted list (0 for no values)."""
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] if ordered else 0
