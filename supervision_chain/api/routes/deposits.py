"""Lenders' routes: deposit signed items, then read their own deposits with signed reads."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Query, Response
from fastapi.concurrency import run_in_threadpool

from service_kit.fast_lane import Handler

from ...records import Item
from ...service import SupervisionChain
from ..deps import ChainDep, LenderDep, b64
from ..fast_body import decode_deposit
from ..schemas import DepositRequestIn, Position

router = APIRouter(tags=["deposits"])
_IDEMPOTENCY_KEY_MAX = 128  # the Header(max_length=...) of the declared endpoint below


def _fast_request(content_type: str, idempotency_keys: list[str]) -> bool:
    """What the declared endpoint would take the same way: a JSON body, at most one short ``Idempotency-Key``."""
    return content_type.partition(";")[0].strip().lower() == "application/json" and len(idempotency_keys) <= 1 \
        and all(len(k) <= _IDEMPOTENCY_KEY_MAX for k in idempotency_keys)


def deposit_lane(chain: SupervisionChain) -> Handler:
    """The deposit handler for ``service_kit.fast_lane``: a request the fast path takes, answered before routing."""

    async def handle(scope: dict[str, Any], body: bytes) -> tuple[int, bytes] | None:
        content_type, keys = "", []
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"idempotency-key":
                keys.append(value.decode("latin-1"))
        if not _fast_request(content_type, keys):
            return None
        wire = decode_deposit(body)
        if wire is None:
            return None
        return 202, await _receipt(chain, wire.lender_id, wire.nonce, wire.timestamp_ms, keys[0] if keys else None, wire.items, wire.signature)

    return handle


async def _receipt(chain: SupervisionChain, lender_id: str, nonce: str, timestamp_ms: int, idempotency_key: str | None,
                   items: list[Item], signature: str) -> bytes:
    """The receipt of a request, as JSON: one msgspec pass, byte for byte what JSONResponse's json.dumps would write."""
    receipt = await chain.deposit_async(lender_id, nonce, timestamp_ms, idempotency_key, items, b64(signature, "signature"))
    return msgspec.json.encode(receipt)


@router.post("/v1/deposits", status_code=202, summary="Deposit one or more signed items")
async def deposit(chain: ChainDep, body: DepositRequestIn, idempotency_key: Annotated[str | None, Header(max_length=_IDEMPOTENCY_KEY_MAX)] = None) -> Response:
    # (no docstring: it would become the operation's OpenAPI description) the path for what the fast lane
    # (``deposit_lane``) does not take; Pydantic accepts some of it (e.g. "5" for an integer) and answers the rest with 422
    items = [Item(i.digest, i.record_type, i.loan_id, i.event_time_ms, i.commitment_salt, i.metadata, i.report) for i in body.items]
    return Response(await _receipt(chain, body.lender_id, body.nonce, body.timestamp_ms, idempotency_key, items, body.signature),
                    status_code=202, media_type="application/json")


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
