"""The supervision chain's Prometheus figures, read from its tables at scrape time.

Metrics are read from the database when scraped, not counted in process memory, so every API
process of the chain answers /metrics with the same figures and a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from chain.block import parse_block_header
from chain.note import parse_note
from service_kit.observability import summary_metric

__all__ = ["SupervisionMetrics"]


class SupervisionMetrics(Collector):
    """The supervision chain's figures, read from its tables at scrape time (cheap: sizes and the last blocks)."""

    WINDOW = 100  # blocks over which seal latency and anchoring lag are summarised

    def __init__(self, chain: Any) -> None:
        self.chain = chain

    def collect(self) -> Iterator[Any]:
        from .models import AnchoredUpTo, AnchorReceipt, Deposit, Lender

        D, L = Deposit.__table__, Lender.__table__  # type: ignore[attr-defined]
        R, UP = AnchorReceipt.__table__, AnchoredUpTo.__table__  # type: ignore[attr-defined]
        store, labels = self.chain.store, {"chain": self.chain.config.chain_id}
        size, latest = store.size(), store.latest_block()
        sealed = latest.tree_size if latest else 0
        blocks = latest.height + 1 if latest else 0
        recent = store.blocks(max(0, blocks - self.WINDOW), blocks)
        with store.read_engine.connect() as conn:
            anchored_next = conn.execute(select(UP.c.next_height).where(UP.c.name == "judicial")).scalar_one_or_none() or 0
            lenders = dict(conn.execute(select(L.c.enabled, func.count()).group_by(L.c.enabled)).all())
            receipts = conn.execute(select(R.c.anchored_ms - R.c.sealed_ms).order_by(R.c.height.desc()).limit(self.WINDOW)).scalars().all()
            headers = {b.height: parse_block_header(parse_note(b.header).text) for b in recent}
            firsts = {h: header.first_index for h, header in headers.items()}
            accepted = dict(conn.execute(select(D.c.idx, D.c.deposit_time_ms).where(D.c.idx.in_(list(firsts.values()) or [-1]))).all())
        seal_latency = [(headers[h].time_ms - accepted[first]) / 1000 for h, first in firsts.items() if first in accepted]

        counter = CounterMetricFamily("fivechains_deposits_accepted", "Deposits acknowledged (entries appended)", labels=list(labels))
        counter.add_metric(list(labels.values()), size)
        yield counter
        for name, doc, value in (("fivechains_entries_sealed", "Entries sealed into signed blocks", sealed),
                                 ("fivechains_entries_pending", "Entries acknowledged, not yet sealed", size - sealed),
                                 ("fivechains_blocks_sealed", "Blocks sealed", blocks),
                                 ("fivechains_outbox_depth_blocks", "Sealed blocks not yet acknowledged by the judicial chain",
                                  max(0, blocks - anchored_next) if self.chain.config.judicial_target else 0)):
            gauge = GaugeMetricFamily(name, doc, labels=list(labels))
            gauge.add_metric(list(labels.values()), value)
            yield gauge
        lender_gauge = GaugeMetricFamily("fivechains_lenders", "Registered lenders", labels=[*labels, "state"])
        for enabled, count in lenders.items():
            lender_gauge.add_metric([*labels.values(), "enabled" if enabled else "disabled"], count)
        yield lender_gauge
        yield from summary_metric("fivechains_seal_latency_seconds", "Oldest entry of a block: accepted → sealed", labels, seal_latency)
        yield from summary_metric("fivechains_anchor_lag_seconds", "Block sealed → acknowledged by the judicial chain", labels,
                            [lag / 1000 for lag in receipts])
