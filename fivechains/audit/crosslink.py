"""The cross-link between the chains, checked entry by entry: every sealed supervision record
is anchored in the judicial chain exactly once, in order, with the same digest, lender and
deposit time; nothing is anchored that the supervision chain does not publish.

The judicial chain accepts a source's blocks only in order, so its anchors of one source
name supervision entries 0, 1, 2, … in turn. The book therefore keeps only what is still
open — the records sealed but not yet seen anchored, and their blocks — and carries that
(small) remainder from one audit to the next.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evidence.anchor_entry import anchor_facts
from evidence.entry_codec import EntryError
from evidence.supervision_entry import parse_supervision_entry, supervision_entry_fields

__all__ = ["AnchorBook", "anchor_source"]

Record = tuple[str, str, int] | None  # (digest, lender_id, deposit_time_ms) of a supervision entry; None if unreadable
UNCHECKED = ("", "", -1)  # an entry of a damaged supervision block: named already, its anchor is not compared
Find = Callable[..., None]  # ChainReplay.find(problem, block=…, entry=…)


_SOURCE = re.compile(rb'"source":"([A-Za-z0-9._:/-]{1,128})","source_index":')


def anchor_source(data: bytes) -> str | None:
    """The source chain an anchor entry names (one search in the form the judicial chain writes), None if not an anchor."""
    found = _SOURCE.search(data)
    if found is not None:
        return found.group(1).decode()
    try:
        return anchor_facts(data)[0]
    except EntryError:
        return None


@dataclass
class AnchorBook:
    source: str  # the supervision chain id whose anchors are checked
    next_anchored: int = 0  # the supervision index the next anchor must name
    records: list[Record] = field(default_factory=list)  # supervision entries from `base` on
    open_blocks: deque[tuple[int, int, int]] = field(default_factory=deque)  # (height, tree size after, time ms) not fully anchored
    lags: list[tuple[int, int]] = field(default_factory=list)  # (supervision height, anchoring lag ms), this audit
    base: int = -1  # the supervision index of records[0] (records before next_anchored are spent, dropped when saved)

    def __post_init__(self) -> None:
        self.base = self.next_anchored if self.base < 0 else self.base
        self.open_blocks = deque(self.open_blocks)

    @property
    def published(self) -> int:
        """Supervision entries the book has seen: anchors must stay below this."""
        return self.base + len(self.records)

    def add_supervision_block(self, height: int, first: int, entries: list[bytes] | None, end: int, time_ms: int) -> None:
        """A replayed supervision block: its entries, or None when they are damaged (their anchors are then not compared)."""
        if first != self.published:
            raise ValueError(f"supervision entries must come in order: expected {self.published}, got {first}")
        if entries is None:
            self.records.extend([UNCHECKED] * (end - first))
            self.open_blocks.append((height, end, time_ms))
            return
        for data in entries:
            fields = supervision_entry_fields(data)  # the form the chain writes, read with one regular expression
            if fields is not None:
                deposit, digest, _event, lender, _kind = fields
                self.records.append((digest.decode(), lender.decode(), int(deposit)))
                continue
            try:
                r = parse_supervision_entry(data)
                self.records.append((r.digest, r.lender_id, r.deposit_time_ms))
            except EntryError:
                self.records.append(None)
        self.records.extend([None] * (end - first - len(entries)))
        self.open_blocks.append((height, end, time_ms))

    def add_judicial_entry(self, find: Find, height: int, index: int, data: bytes, block_time_ms: int, gaps_allowed: bool = False) -> None:
        """One judicial entry (block ``height``, index ``index``): if it anchors our source, check it.

        ``gaps_allowed``: the entry comes from a damaged block whose missing entries are named already.
        """
        try:
            source, at, digest, lender_id, deposit_time_ms = anchor_facts(data)
        except EntryError:
            find("the judicial entry is not an anchor record", block=height, entry=index)
            return
        if source != self.source:
            return  # another source chain: not this audit's business
        if at < self.next_anchored:
            find(f"anchors supervision entry {at} a second time (or out of order)", block=height, entry=index)
            return
        if at >= self.published:
            find(f"anchors supervision entry {at}, which the supervision chain does not publish", block=height, entry=index)
            return
        if at > self.next_anchored and not gaps_allowed:
            find(f"supervision entries {self.next_anchored}–{at - 1} were skipped: never anchored", block=height, entry=index)
        record = self.records[at - self.base]
        if record != UNCHECKED and (record is None or (digest, lender_id, deposit_time_ms) != record):
            find(f"anchors supervision entry {at} with another digest, lender or deposit time than the supervision chain holds",
                 block=height, entry=index)
        self.next_anchored = at + 1
        while self.open_blocks and self.open_blocks[0][1] <= self.next_anchored:
            sv_height, _, sealed_ms = self.open_blocks.popleft()
            self.lags.append((sv_height, max(0, block_time_ms - sealed_ms)))

    def check_unanchored(self, find: Find, in_flight: int = 2) -> None:
        """Every sealed supervision block must be anchored; the newest ``in_flight`` may still be on their way."""
        first = self.next_anchored
        for height, end, _ in list(self.open_blocks)[: max(0, len(self.open_blocks) - in_flight)]:
            find("the block is not (fully) anchored in the judicial chain", block=height, entry=first)
            first = end

    def lag_summary(self) -> dict[str, Any]:
        values = sorted(lag for _, lag in self.lags)
        return {"blocks": len(values), "max": values[-1] if values else 0,
                "mean": int(sum(values) / len(values)) if values else 0,
                "p90": values[int(0.9 * (len(values) - 1))] if values else 0,
                "in_flight_blocks": len(self.open_blocks),
                "per_block": [{"height": h, "lag_ms": lag} for h, lag in self.lags]}

    # --- carried between audits ----------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {"source": self.source, "next_anchored": self.next_anchored, "records": self.records[self.next_anchored - self.base:],
                "open_blocks": list(self.open_blocks)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AnchorBook:
        try:
            return cls(state["source"], int(state["next_anchored"]), [tuple(r) if r is not None else None for r in state["records"]],  # type: ignore[misc]
                       deque(tuple(b) for b in state["open_blocks"]))  # type: ignore[misc]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the saved cross-link state is not usable: {exc}") from None
