"""Lenders' routes: deposit signed items, then read their own deposits with signed reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute

from service_kit.fast_lane import Handler

from ...records import Item
from ...service import SupervisionChain
from ..deps import ChainDep, LenderDep, b64
from ..fast_body import WireRequest, decode_deposit
from ..schemas import DepositRequestIn, Position

router = APIRouter(tags=["deposits"])
_IDEMPOTENCY_KEY_MAX = 128  # the Header(max_length=...) of the declared endpoint below


def _fast_request(content_type: str, idempotency_keys: list[str]) -> bool:
    """What the declared endpoint would take the same way: a JSON body, at most one short ``Idempotency-Key``."""
    return content_type.partition(";")[0].strip().lower() == "application/json" and len(idempotency_keys) <= 1 \
        and all(len(k) <= _IDEMPOTENCY_KEY_MAX for k in idempotency_keys)


class DepositRoute(APIRoute):
    """``POST /v1/deposits`` decoded in one msgspec pass, with no dependency solving and no worker thread.

    The declared endpoint (``deposit`` below: its Pydantic body and headers) still defines the OpenAPI
    document and is the path for every request the fast decoder does not accept, so those get exactly
    FastAPI's validation and 422 problems. The fast path takes only what that endpoint would accept
    in the same way: a JSON content type, at most one short ``Idempotency-Key``, a body valid under
    the same rules (``fast_body``). (Most requests do not even get here: ``deposit_lane`` answers
    them before the router; this route takes the rest, e.g. a chunked body.)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()

        async def handler(request: Request) -> Response:
            headers = request.headers
            keys = headers.getlist("idempotency-key")
            if _fast_request(headers.get("content-type", ""), keys):
                wire = decode_deposit(await request.body())
                if wire is not None:
                    return Response(await _accept(request.app.state.chain, wire, keys[0] if keys else None),
                                    status_code=202, media_type="application/json")
            return await standard(request)

        return handler


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
        return 202, await _accept(chain, wire, keys[0] if keys else None)

    return handle


async def _accept(chain: SupervisionChain, wire: WireRequest, idempotency_key: str | None) -> bytes:
    """The receipt of a decoded request, as JSON: one msgspec pass, byte for byte what JSONResponse's json.dumps would write."""
    receipt = await chain.deposit_async(wire.lender_id, wire.nonce, wire.timestamp_ms, idempotency_key, wire.items,
                                        b64(wire.signature, "signature"))
    return msgspec.json.encode(receipt)


_fast = APIRouter(route_class=DepositRoute)


@_fast.post("/v1/deposits", status_code=202, summary="Deposit one or more signed items")
async def deposit(chain: ChainDep, body: DepositRequestIn, idempotency_key: Annotated[str | None, Header(max_length=_IDEMPOTENCY_KEY_MAX)] = None) -> Response:
    # (no docstring: it would become the operation's OpenAPI description) the path for bodies the fast
    # decoder refused; Pydantic accepts some of them (e.g. "5" for an integer) and answers the rest with 422
    items = [Item(i.digest, i.record_type, i.loan_id, i.event_time_ms, i.commitment_salt, i.metadata, i.report) for i in body.items]
    receipt = await chain.deposit_async(body.lender_id, body.nonce, body.timestamp_ms, idempotency_key, items, b64(body.signature, "signature"))
    return Response(msgspec.json.encode(receipt), status_code=202, media_type="application/json")


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
