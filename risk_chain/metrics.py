"""The risk chain's Prometheus figures: warnings by state and level, missed deadlines, the feed's position, the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

__all__ = ["RiskMetrics"]


class RiskMetrics(Collector):
    def __init__(self, chain: Any) -> None:
        self.chain = chain

    def collect(self) -> Iterator[Any]:
        from .tables import Warning_

        W = Warning_.__table__  # type: ignore[attr-defined]
        labels = {"chain": self.chain.config.chain_id}
        with self.chain.store.read_engine.connect() as conn:
            rows = conn.execute(select(W.c.state, W.c.level, func.count()).group_by(W.c.state, W.c.level)).all()
            missed = conn.execute(select(func.count()).select_from(W).where(W.c.deadline_flagged.is_(True))).scalar_one()
        warnings = GaugeMetricFamily("fivechains_risk_warnings", "Warnings by state and level", labels=["chain", "state", "level"])
        for state, level, count in rows:
            warnings.add_metric([labels["chain"], state, level], count)
        yield warnings
        yield GaugeMetricFamily("fivechains_risk_deadlines_missed", "Warnings whose current deadline passed unanswered",
                                value=missed, labels=None)
        yield GaugeMetricFamily("fivechains_risk_feed_position", "The next supervision index the report feed reads", value=self.chain.position)
        yield GaugeMetricFamily("fivechains_risk_entries", "Entries on the risk ledger", value=self.chain.store.size())
