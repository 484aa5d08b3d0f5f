"""The judicial chain's figures for Prometheus, read from its tables at scrape time: tree and
blocks, anchored source blocks, deposit codes issued, and the court's verifications by verdict."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..models import AnchoredBlock
from .accounts import VerificationLog

__all__ = ["JudicialMetrics"]


class JudicialMetrics(Collector):
    def __init__(self, chain: Any) -> None:
        self.chain = chain

    def collect(self) -> Iterator[Any]:
        A, V = AnchoredBlock.__table__, VerificationLog.__table__  # type: ignore[attr-defined]
        store, labels = self.chain.store, {"chain": self.chain.config.chain_id}
        latest = store.latest_block()
        with store.read_engine.connect() as conn:
            anchored = dict(conn.execute(select(A.c.chain_id, func.count()).group_by(A.c.chain_id)).all())
            verdicts: Counter[str] = Counter()
            for counts in conn.execute(select(V.c.counts)).scalars():
                verdicts.update(json.loads(counts))
        for name, doc, value in (("fivechains_judicial_entries", "Judicial entries sealed", latest.tree_size if latest else 0),
                                 ("fivechains_judicial_blocks", "Judicial blocks sealed", latest.height + 1 if latest else 0)):
            gauge = GaugeMetricFamily(name, doc, labels=list(labels))
            gauge.add_metric(list(labels.values()), value)
            yield gauge
        issued = CounterMetricFamily("fivechains_deposit_codes_issued", "Deposit codes issued (one per judicial entry)", labels=list(labels))
        issued.add_metric(list(labels.values()), latest.tree_size if latest else 0)
        yield issued
        blocks = CounterMetricFamily("fivechains_anchored_source_blocks", "Source blocks anchored", labels=[*labels, "source"])
        for source, count in sorted(anchored.items()):
            blocks.add_metric([*labels.values(), source], count)
        yield blocks
        by_verdict = CounterMetricFamily("fivechains_verifications", "Evidence items verified by the court portal", labels=[*labels, "verdict"])
        for verdict, count in sorted(verdicts.items()):
            by_verdict.add_metric([*labels.values(), verdict], count)
        yield by_verdict
