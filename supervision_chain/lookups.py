"""What a lender may look up about its own deposits, and the regulator's timeliness figures.

A lender sees only its own deposits: another lender's index answers exactly like a missing one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from chain.encoding import b64encode
from chain.ledger import Ledger

from .digest_index import find_indexes
from .errors import NotFound
from .models import Deposit

__all__ = ["DepositLookups", "delay_quantile"]

DEPOSITS = Deposit.__table__  # type: ignore[attr-defined]


class DepositLookups:
    def __init__(self, ledger: Ledger, read_engine: Any, late_after_ms: int) -> None:
        self.ledger = ledger
        self.read_engine = read_engine
        self.late_after_ms = late_after_ms

    def _deposit_row(self, lender_id: str, index: int) -> Any:
        with self.read_engine.connect() as conn:
            row = conn.execute(select(DEPOSITS).where(DEPOSITS.c.idx == index)).first()
        if row is None or row.lender_id != lender_id:  # same answer either way: no probing others' deposits
            raise NotFound(f"lender {lender_id} has no deposit at index {index}")
        return row

    def status(self, lender_id: str, index: int) -> dict[str, Any]:
        row = self._deposit_row(lender_id, index)
        view: dict[str, Any] = {
            "index": row.idx, "digest": row.digest, "record_type": row.record_type, "loan_id": row.loan_id,
            "event_time_ms": row.event_time_ms, "deposit_time_ms": row.deposit_time_ms, "commitment_salt": row.commitment_salt, "status": "pending",
            "deposit_code": row.deposit_code,
        }
        cp = self.ledger.latest_checkpoint()
        if cp is None or index >= cp.checkpoint.size:
            return view
        block = self.ledger.block_containing(index)
        proof = self.ledger.inclusion_proof(index, cp.checkpoint.size)
        view.update(
            status="anchored" if row.deposit_code else "sealed",
            block_height=block.header.height if block else None,
            tree_size=cp.checkpoint.size,
            checkpoint=cp.to_text(),
            leaf_hash=b64encode(proof.leaf_hash),
            inclusion_proof=[b64encode(h) for h in proof.hashes],
        )
        return view

    def find(self, lender_id: str, digest: str) -> list[dict[str, Any]]:
        return [self.status(lender_id, i) for i in find_indexes(self.read_engine, self.ledger, lender_id, digest)]

    def timeliness(self) -> list[dict[str, Any]]:
        """Per lender: deposits, reporting delay (event → deposit) and how many were late."""
        late = self.late_after_ms
        with self.read_engine.connect() as conn:
            rows = conn.execute(
                select(DEPOSITS.c.lender_id, func.count(), func.avg(DEPOSITS.c.delay_ms), func.max(DEPOSITS.c.delay_ms),
                       func.sum(case((DEPOSITS.c.delay_ms > late, 1), else_=0)))  # (PostgreSQL casts no boolean to an integer)
                .group_by(DEPOSITS.c.lender_id).order_by(DEPOSITS.c.lender_id)
            ).all()
            out = []
            for lender_id, count, avg, worst, n_late in rows:
                out.append({"lender_id": lender_id, "deposits": count, "mean_delay_ms": int(avg or 0),
                            "p50_delay_ms": delay_quantile(conn, lender_id, count, 0.5),
                            "p90_delay_ms": delay_quantile(conn, lender_id, count, 0.9), "max_delay_ms": int(worst or 0),
                            "late": int(n_late or 0), "late_after_ms": late})
        return out



def delay_quantile(conn: Any, lender_id: str, count: int, q: float) -> int:
    """The q-quantile of a lender's reporting delays, read with one indexed ORDER BY."""
    offset = min(count - 1, int(q * (count - 1)))
    query = (select(DEPOSITS.c.delay_ms).where(DEPOSITS.c.lender_id == lender_id)
             .order_by(DEPOSITS.c.delay_ms).offset(offset).limit(1))
    return int(conn.execute(query).scalar_one())
