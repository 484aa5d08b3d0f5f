"""What an audit reports: one thing wrong with a chain, and where — chain, block, entry.

Kept apart from the stored-ledger audit so that auditors reading a chain over the network
(and mirrors) need nothing of the storage layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Finding"]


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a chain: where (block, entry) and what."""

    chain: str
    problem: str
    block: int | None = None
    entry: int | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        where = [f"chain {self.chain}"]
        if self.block is not None:
            where.append(f"block {self.block}")
        if self.entry is not None:
            where.append(f"entry {self.entry}")
        return f"{', '.join(where)}: {self.problem}"
