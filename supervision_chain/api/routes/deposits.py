"""Lenders' routes: deposit signed items, then read their own deposits with signed reads."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ...records import Item
from ..deps import ChainDep, LenderDep, b64
from ..schemas import DepositRequestIn, Position

router = APIRouter(tags=["deposits"])


@router.post("/v1/deposits", status_code=202, summary="Deposit one or more signed items")
async def deposit(chain: ChainDep, body: DepositRequestIn, idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> JSONResponse:
    items = [Item(i.digest, i.record_type, i.loan_id, i.event_time_ms, i.commitment_salt, i.metadata) for i in body.items]
    receipt = await chain.deposit_async(body.lender_id, body.nonce, body.timestamp_ms, idempotency_key, items, b64(body.signature, "signature"))
    return JSONResponse(receipt, status_code=202)  # already plain JSON: skip response-model encoding


@router.get("/v1/deposits/{index}", summary="Status of one of your deposits (long-poll with wait)")
async def deposit_status(chain: ChainDep, index: Position, who: LenderDep, wait: Annotated[float, Query(ge=0, le=30)] = 0) -> dict[str, Any]:
    view = await run_in_threadpool(chain.status, who, index)
    deadline = asyncio.get_running_loop().time() + wait
    while wait and view["status"] != "anchored":
        seen = chain.changes.version
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        await chain.changes.wait(seen, left)
        newer = await run_in_threadpool(chain.status, who, index)
        if newer["status"] != view["status"]:
            return newer
        view = newer
    return view


@router.get("/v1/deposits", summary="Your deposits of a digest")
def deposits_by_digest(chain: ChainDep, who: LenderDep, digest: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")]) -> dict[str, Any]:
    return {"items": chain.find(who, digest)}
