"""Lenders' routes: deposit signed items, then read their own deposits with signed reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute

from ...records import Item
from ...service import SupervisionChain
from ..deps import ChainDep, LenderDep, b64
from ..fast_body import decode_deposit
from ..schemas import DepositRequestIn, Position

router = APIRouter(tags=["deposits"])
_IDEMPOTENCY_KEY_MAX = 128  # the Header(max_length=...) of the declared endpoint below


class DepositRoute(APIRoute):
    """``POST /v1/deposits`` decoded in one msgspec pass, with no dependency solving and no worker thread.

    The declared endpoint (``deposit`` below: its Pydantic body and headers) still defines the OpenAPI
    document and is the path for every request the fast decoder does not accept, so those get exactly
    FastAPI's validation and 422 problems. The fast path takes only what that endpoint would accept
    in the same way: a JSON content type, at most one short ``Idempotency-Key``, a body valid under
    the same rules (``fast_body``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()

        async def handler(request: Request) -> Response:
            headers = request.headers
            if headers.get("content-type", "").partition(";")[0].strip().lower() == "application/json":
                keys = headers.getlist("idempotency-key")
                if len(keys) <= 1 and all(len(k) <= _IDEMPOTENCY_KEY_MAX for k in keys):
                    wire = decode_deposit(await request.body())
                    if wire is not None:
                        return await _accept(request.app.state.chain, wire.lender_id, wire.nonce, wire.timestamp_ms,
                                             keys[0] if keys else None, wire.items, wire.signature)
            return await standard(request)

        return handler


async def _accept(chain: SupervisionChain, lender_id: str, nonce: str, timestamp_ms: int, idempotency_key: str | None,
                  items: list[Item], signature: str) -> Response:
    receipt = await chain.deposit_async(lender_id, nonce, timestamp_ms, idempotency_key, items, b64(signature, "signature"))
    # plain JSON already: one msgspec pass, byte for byte what JSONResponse's json.dumps would write
    return Response(msgspec.json.encode(receipt), status_code=202, media_type="application/json")


_fast = APIRouter(route_class=DepositRoute)


@_fast.post("/v1/deposits", status_code=202, summary="Deposit one or more signed items")
async def deposit(chain: ChainDep, body: DepositRequestIn, idempotency_key: Annotated[str | None, Header(max_length=_IDEMPOTENCY_KEY_MAX)] = None) -> Response:
    # (no docstring: it would become the operation's OpenAPI description) the path for bodies the fast
    # decoder refused; Pydantic accepts some of them (e.g. "5" for an integer) and answers the rest with 422
    items = [Item(i.digest, i.record_type, i.loan_id, i.event_time_ms, i.commitment_salt, i.metadata, i.report) for i in body.items]
    return await _accept(chain, body.lender_id, body.nonce, body.timestamp_ms, idempotency_key, items, body.signature)


router.include_router(_fast)


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
