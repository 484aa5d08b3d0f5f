"""Read-only figures for the regulator: deposits per lender per day, reporting delay (event →
deposit), anchoring lag to the judicial chain, the latest checkpoints and their witnesses.

The dashboard page and its JSON twin (`GET /v1/admin/dashboard`) both show `figures()`.
Days are counted in China Standard Time (UTC+8, no daylight saving), the regulator's calendar.
Cost on a large table: one scan of sv_deposit grouped by (lender, delay bucket, day), plus the
two ORDER BY … OFFSET reads per lender of `SupervisionChain.timeliness()` for the p50 and p90
delay; the anchoring figures read the last few receipt rows only.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import BigInteger, case, func, literal_column, select

from chain.checkpoint import parse_checkpoint
from chain.encoding import b64encode
from chain.errors import ChainError
from chain.note import CosignatureVerifier, parse_note
from service_kit.quantiles import quantile

from .lookups import delay_quantile
from .models import AnchoredUpTo, AnchorReceipt, Deposit
from .registry import list_lenders

D = Deposit.__table__  # type: ignore[attr-defined]
R = AnchorReceipt.__table__  # type: ignore[attr-defined]
UP = AnchoredUpTo.__table__  # type: ignore[attr-defined]

DAY_MS = 86_400_000
CST = timezone(timedelta(hours=8), "UTC+08:00")
CST_MS = 8 * 3600 * 1000
# (key, label, upper bound in ms, exclusive); a negative delay (event time ahead of the deposit) counts as < 1 min
BUCKETS = (
    ("lt_1m", "< 1 min", 60_000),
    ("1m_1h", "1 min – 1 h", 3_600_000),
    ("1h_24h", "1 h – 24 h", DAY_MS),
    ("24h_7d", "24 h – 7 d", 7 * DAY_MS),
    ("gt_7d", "> 7 d", None),
)


def figures(chain: Any, *, days: int = 30, blocks: int = 50, now_ms: int | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, as plain JSON."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return {
        "chain_id": chain.config.chain_id,
        "generated_ms": now_ms,
        "timezone": "UTC+08:00",
        "late_after_ms": chain.config.late_after_ms,
        "buckets": [{"key": k, "label": label, "below_ms": upper} for k, label, upper in BUCKETS],
        **_lenders(chain, days, now_ms),
        "anchoring": _anchoring(chain, blocks, now_ms),
        "checkpoints": {"supervision": _supervision_checkpoint(chain), "judicial": _judicial_checkpoint(chain, now_ms)},
    }


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d")


def _lenders(chain: Any, days: int, now_ms: int) -> dict[str, Any]:
    today = (now_ms + CST_MS) // DAY_MS
    first_day = today - days + 1
    day_keys = [day_of(d * DAY_MS - CST_MS) for d in range(first_day, today + 1)]
    n = lambda value: literal_column(str(int(value)), BigInteger)  # inline constants: PostgreSQL matches GROUP BY expressions as written
    bucket = case(*((D.c.delay_ms < n(upper), n(b)) for b, (_, _, upper) in enumerate(BUCKETS[:-1])), else_=n(len(BUCKETS) - 1))
    day = case((D.c.deposit_time_ms >= n(first_day * DAY_MS - CST_MS), (D.c.deposit_time_ms + n(CST_MS)) // n(DAY_MS)), else_=n(-1))
    late = case((D.c.delay_ms > n(chain.config.late_after_ms), n(1)), else_=n(0))
    blank = lambda lender: {"id": lender["id"], "name": lender.get("name"), "licence": lender.get("licence"),
                            "enabled": lender.get("enabled", False), "deposits": 0, "deposits_in_window": 0,
                            "per_day": dict.fromkeys(day_keys, 0), "buckets": {k: 0 for k, _, _ in BUCKETS},
                            "delay": {"mean": 0, "p50": 0, "p90": 0, "max": 0, "late": 0}}
    by_id = {lender["id"]: blank(lender) for lender in list_lenders(chain.store.engine)}
    sums: dict[str, int] = {}
    worsts: dict[str, int] = {}
    with chain.store.read_engine.connect() as conn:  # one scan for the buckets, the days and the delay totals
        rows = conn.execute(select(D.c.lender_id, bucket, day, func.count(), func.sum(D.c.delay_ms), func.max(D.c.delay_ms), func.sum(late))
                            .group_by(D.c.lender_id, bucket, day)).all()
        for lender_id, b, d, count, total, worst, n_late in rows:
            view = by_id.get(lender_id) or by_id.setdefault(lender_id, blank({"id": lender_id}))
            view["deposits"] += count
            view["buckets"][BUCKETS[b][0]] += count
            view["delay"]["late"] += int(n_late)
            sums[lender_id] = sums.get(lender_id, 0) + int(total)
            worsts[lender_id] = max(worsts.get(lender_id, int(worst)), int(worst))
            if d >= first_day:
                view["per_day"][day_keys[d - first_day]] += count
                view["deposits_in_window"] += count
        for lender_id, total in sums.items():  # the same figures as SupervisionChain.timeliness()
            delay, count = by_id[lender_id]["delay"], by_id[lender_id]["deposits"]
            delay.update(mean=int(total / count), max=worsts[lender_id], p50=delay_quantile(conn, lender_id, count, 0.5), p90=delay_quantile(conn, lender_id, count, 0.9))
    lenders = sorted(by_id.values(), key=lambda v: v["id"])
    totals = {"deposits": sum(v["deposits"] for v in lenders), "deposits_in_window": sum(v["deposits_in_window"] for v in lenders),
              "late": sum(v["delay"]["late"] for v in lenders),
              "per_day": {k: sum(v["per_day"][k] for v in lenders) for k in day_keys}}
    return {"days": day_keys, "lenders": lenders, "totals": totals}


def _anchoring(chain: Any, blocks: int, now_ms: int) -> dict[str, Any]:
    latest = chain.store.latest_block()
    with chain.store.read_engine.connect() as conn:
        rows = conn.execute(select(R.c.height, R.c.sealed_ms, R.c.anchored_ms).order_by(R.c.height.desc()).limit(blocks)).all()
        next_height = conn.execute(select(UP.c.next_height).where(UP.c.name == "judicial")).scalar_one_or_none() or 0
    backlog = latest.height + 1 - next_height if latest else 0  # from the tables: the same answer from every API process
    recent = [{"height": h, "sealed_ms": s, "anchored_ms": a, "lag_ms": a - s} for h, s, a in reversed(rows)]
    lags = [r["lag_ms"] for r in recent]
    oldest_waiting = None
    if backlog > 0:
        waiting = chain.ledger.block(next_height)
        oldest_waiting = {"height": next_height, "sealed_ms": waiting.header.time_ms, "waiting_ms": now_ms - waiting.header.time_ms} if waiting else None
    return {
        "blocks": recent,
        "mean_lag_ms": sum(lags) // len(lags) if lags else None,
        "p90_lag_ms": quantile(lags, 0.9) if lags else None,
        "max_lag_ms": max(lags) if lags else None,
        "backlog": backlog,
        "next_height": next_height,
        "oldest_waiting": oldest_waiting,
        "linked": chain.config.judicial_target is not None,
        "last_error": anchorer.last_error if (anchorer := getattr(chain, "anchorer", None)) else None,  # known in the sealing process only
    }


def _supervision_checkpoint(chain: Any) -> dict[str, Any] | None:
    cp = chain.ledger.latest_checkpoint()
    block = chain.ledger.latest_block()
    if cp is None or block is None:
        return None
    return {"origin": cp.checkpoint.origin, "size": cp.checkpoint.size, "root": b64encode(cp.checkpoint.root),
            "block_height": block.header.height, "time_ms": block.header.time_ms, "text": cp.to_text()}


def witness_status(note_text: str) -> dict[str, Any]:
    """The judicial chain's signer and the witnesses' cosignatures on a checkpoint note.

    The first signature is the judicial chain's own; later ones shaped as C2SP cosignatures
    (type 0x04: an 8-byte timestamp and a 64-byte Ed25519 signature) are the witnesses'. They are
    listed as the note carries them, not verified here (the supervision chain holds no witness keys).
    """
    note = parse_note(note_text)
    witnesses = []
    for sig in note.signatures[1:]:
        try:
            seconds = CosignatureVerifier.timestamp_of(sig)
        except ChainError:
            continue
        witnesses.append({"name": sig.name, "key_id": f"{sig.key_id:08x}", "cosigned_ms": seconds * 1000})
    return {"signer": note.signatures[0].name, "witnesses": witnesses, "witness_count": len(witnesses),
            "checkpoint": parse_checkpoint(note.text)}


def _judicial_checkpoint(chain: Any, now_ms: int) -> dict[str, Any] | None:
    with chain.store.read_engine.connect() as conn:
        row = conn.execute(select(R.c.height, R.c.anchored_ms, R.c.judicial_checkpoint).where(R.c.judicial_checkpoint != "")
                           .order_by(R.c.height.desc()).limit(1)).first()
    if row is None:
        return None
    try:
        status = witness_status(row.judicial_checkpoint)
    except ChainError as exc:
        return {"error": f"the stored judicial checkpoint does not parse: {exc}", "received_ms": row.anchored_ms}
    cp = status.pop("checkpoint")
    return {"origin": cp.origin, "size": cp.size, "root": b64encode(cp.root), "received_ms": row.anchored_ms,
            "age_ms": now_ms - row.anchored_ms, "with_block": row.height, "text": row.judicial_checkpoint, **status}
