"""The outbox rewind after a restore: blocks the restored judicial chain lacks are sent again, their codes forgotten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Integer, select

from chain_sql.schema import BlockRow
from supervision_chain.models import AnchoredUpTo, AnchorReceipt, Deposit
from supervision_chain.outbox_rewind import rewind_outbox
from supervision_chain.service import SupervisionConfig, open_supervision_store

DEPOSITS, RECEIPTS, OUTBOX, BLOCKS = (m.__table__ for m in (Deposit, AnchorReceipt, AnchoredUpTo, BlockRow))  # type: ignore[attr-defined]


def _row(table: Any, **given: Any) -> dict[str, Any]:
    """A row with every required column filled (the test needs only a few of them)."""
    filler = {c.name: (0 if isinstance(c.type, Integer) else "x") for c in table.columns if not c.nullable}
    return {**filler, **given}


def test_the_outbox_goes_back_to_what_the_judicial_chain_holds(tmp_path: Path) -> None:
    store = open_supervision_store(SupervisionConfig(tmp_path))
    try:
        with store.engine.begin() as conn:
            conn.execute(BLOCKS.insert(), [_row(BLOCKS, height=0, tree_size=3), _row(BLOCKS, height=1, tree_size=5)])
            conn.execute(DEPOSITS.insert(), [_row(DEPOSITS, idx=i, deposit_code=f"CODE{i}") for i in range(5)])
            conn.execute(RECEIPTS.insert(), [_row(RECEIPTS, height=h) for h in (0, 1)])
            conn.execute(OUTBOX.insert().values(name="judicial", next_height=2))
        assert rewind_outbox(store.engine, 2) is None  # not ahead: nothing changes
        assert rewind_outbox(store.engine, 1) == {"from_height": 2, "to_height": 1, "first_index": 3}
        with store.engine.connect() as conn:
            assert conn.execute(select(OUTBOX.c.next_height)).scalar_one() == 1
            assert conn.execute(select(RECEIPTS.c.height)).scalars().all() == [0]
            codes = dict(conn.execute(select(DEPOSITS.c.idx, DEPOSITS.c.deposit_code).order_by(DEPOSITS.c.idx)).all())
        assert codes == {0: "CODE0", 1: "CODE1", 2: "CODE2", 3: None, 4: None}
    finally:
        store.close()
