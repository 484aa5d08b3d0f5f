"""The deposit API (FastAPI, under /v1): thin — parse, authorise, call the chain, map errors.

Every error is an RFC 9457 problem+json with a 4xx status; bodies over the size limit are
refused before they are read.
"""


import asyncio
import binascii
import logging
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from chain.encoding import b64decode_strict, b64encode
from service_kit.auth import signed_headers
from service_kit.body_limit import BodyLimit
from service_kit.observability import add_operations
from service_kit.problems import install_problem_handlers

from .dashboard import add_dashboard
from .errors import InvalidInput, NotFound
from .metrics import SupervisionMetrics
from .oversight import figures
from .records import ID_PATTERN, MAX_SAFE_INT, RECORD_TYPES, Item
from .registry import add_lender, list_lenders, set_enabled
from .service import SupervisionChain

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 8 * 1024 * 1024
ID = ID_PATTERN.pattern
Count = Annotated[int, Query(ge=0, le=MAX_SAFE_INT)]
Position = Annotated[int, Path(ge=0, le=MAX_SAFE_INT)]
RecordType = Literal["contract", "disbursement", "repayment", "overdue", "collection", "other"]
assert set(RECORD_TYPES) == set(RecordType.__args__)  # type: ignore[attr-defined]


class DepositItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="Lowercase hex SHA-256 (or SM3) digest of the record.")
    record_type: RecordType
    loan_id: str = Field(pattern=ID, description="The lender's id of the loan.")
    event_time_ms: int = Field(ge=0, le=MAX_SAFE_INT, description="When the recorded event happened, ms since the epoch.")
    metadata: dict[str, Any] | None = Field(default=None, description="Optional JSON object, kept private to the lender.")
    salt: str = Field(pattern=r"^[0-9a-f]{64}$", description="32 random bytes, lowercase hex, fresh for each item: hides the "
                      "loan id and metadata behind the public commitment. Kept by the lender and the chain, never published.")


class DepositRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lender_id: str = Field(pattern=ID)
    nonce: str = Field(pattern=ID, description="Unique per request: a replayed nonce is refused.")
    timestamp_ms: int = Field(ge=0, le=MAX_SAFE_INT, description="Client clock; must be within the replay window.")
    items: list[DepositItemIn] = Field(min_length=1, description="1 to 10,000 items.")
    signature: str = Field(description="Base64 Ed25519 signature of the request text over the items' Merkle root.")


class LenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    licence: str = Field(min_length=1, max_length=100)
    public_key: str = Field(description="Base64 of the 32-byte Ed25519 public key.")


def _b64(value: str, what: str) -> bytes:
    try:
        return b64decode_strict(value)
    except (ValueError, binascii.Error):
        raise InvalidInput(f"{what} is not valid base64") from None


def create_app(chain: SupervisionChain, *, manage_lifecycle: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        chain.changes.bind(asyncio.get_running_loop())
        if manage_lifecycle:
            chain.start()
        yield
        if manage_lifecycle:
            await run_in_threadpool(chain.stop)

    app = FastAPI(
        title="Five Chains — supervision chain (监管链)",
        version="1.0",
        description="Lenders deposit digests of loan records; auditors read the chain. Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
    )

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    install_problem_handlers(app)

    # --- credentials ------------------------------------------------------------------------

    def regulator(authorization: Annotated[str | None, Header()] = None) -> None:
        token = authorization[7:] if authorization and authorization.startswith("Bearer ") else None
        chain.check_regulator(token)

    def lender(
        request: Request,
        x_lender_id: Annotated[str | None, Header()] = None,
        x_timestamp: Annotated[str | None, Header()] = None,
        x_nonce: Annotated[str | None, Header()] = None,
        x_signature: Annotated[str | None, Header()] = None,
    ) -> str:
        signed = signed_headers(x_lender_id, x_timestamp, x_nonce, x_signature)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        chain.check_read_signature(signed.party_id, signed.nonce, signed.timestamp_ms, request.method, target,
                                   _b64(signed.signature_b64, "X-Signature"))
        return signed.party_id

    RegulatorDep = Annotated[None, Depends(regulator)]
    LenderDep = Annotated[str, Depends(lender)]

    # --- lenders' deposits --------------------------------------------------------------------

    @app.post("/v1/deposits", status_code=202, tags=["deposits"], summary="Deposit one or more signed items")
    async def deposit(body: DepositRequestIn, idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> JSONResponse:
        items = [Item(i.digest, i.record_type, i.loan_id, i.event_time_ms, i.salt, i.metadata) for i in body.items]
        receipt = await chain.deposit_async(body.lender_id, body.nonce, body.timestamp_ms, idempotency_key, items, _b64(body.signature, "signature"))
        return JSONResponse(receipt, status_code=202)  # already plain JSON: skip response-model encoding

    @app.get("/v1/deposits/{index}", tags=["deposits"], summary="Status of one of your deposits (long-poll with wait)")
    async def deposit_status(index: Position, who: LenderDep, wait: Annotated[float, Query(ge=0, le=30)] = 0) -> dict[str, Any]:
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

    @app.get("/v1/deposits", tags=["deposits"], summary="Your deposits of a digest")
    def deposits_by_digest(who: LenderDep, digest: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")]) -> dict[str, Any]:
        return {"items": chain.find(who, digest)}

    # --- public reads for auditors ---------------------------------------------------------------

    @app.get("/v1/chain", tags=["audit"], summary="Chain id, verifier key, hash suite, sealed size")
    def chain_info() -> dict[str, Any]:
        return {"chain_id": chain.config.chain_id, "vkey": chain.vkey, "hash_suite": chain.ledger.suite.name,
                "sealed_size": chain.ledger.sealed_size()}

    @app.get("/v1/checkpoint", tags=["audit"], response_class=PlainTextResponse, summary="Latest signed checkpoint (C2SP)")
    def checkpoint() -> PlainTextResponse:
        cp = chain.ledger.latest_checkpoint()
        if cp is None:
            raise NotFound("nothing has been sealed yet")
        return PlainTextResponse(cp.to_text(), headers={"Cache-Control": "no-store"})

    @app.get("/v1/blocks", tags=["audit"], summary="Signed block headers from a height")
    def blocks(start: Count = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        rows = chain.store.blocks(start, start + limit)
        return {"blocks": [{"height": b.height, "tree_size": b.tree_size, "header": b.header} for b in rows]}

    @app.get("/v1/blocks/{height}", tags=["audit"], summary="One signed block header")
    def block(height: Position) -> dict[str, Any]:
        b = chain.store.block(height)
        if b is None:
            raise NotFound(f"no block {height}")
        return {"height": b.height, "tree_size": b.tree_size, "header": b.header}

    @app.get("/v1/proofs/inclusion", tags=["audit"], summary="Inclusion proof of an entry")
    def inclusion(index: Count, tree_size: Annotated[int | None, Query(ge=1, le=MAX_SAFE_INT)] = None) -> dict[str, Any]:
        proof = chain.ledger.inclusion_proof(index, tree_size)
        return {"index": index, "tree_size": proof.tree_size, "leaf_hash": b64encode(proof.leaf_hash),
                "hashes": [b64encode(h) for h in proof.hashes]}

    @app.get("/v1/proofs/consistency", tags=["audit"], summary="Consistency proof between two sealed sizes")
    def consistency(old_size: Annotated[int, Query(ge=1, le=MAX_SAFE_INT)], new_size: Annotated[int | None, Query(ge=1, le=MAX_SAFE_INT)] = None) -> dict[str, Any]:
        proof = chain.ledger.consistency_proof(old_size, new_size)
        return {"old_size": old_size, "new_size": proof.new_size, "hashes": [b64encode(h) for h in proof.hashes]}

    @app.get("/v1/entries", tags=["audit"], summary="Sealed entries by index range (at most 1,000)")
    def entries(start: Count, end: Annotated[int, Query(ge=1, le=MAX_SAFE_INT)]) -> dict[str, Any]:
        if end <= start or end - start > 1000:
            raise InvalidInput("ask for 1 to 1,000 entries: start < end ≤ start + 1000")
        end = min(end, chain.ledger.sealed_size())
        rows = chain.store.entries(start, end) if end > start else []
        return {"entries": [{"index": e.index, "data": e.data.decode()} for e in rows]}

    # --- the regulator --------------------------------------------------------------------------

    @app.post("/v1/admin/lenders", status_code=201, tags=["regulator"], summary="Register a lender")
    def admin_add_lender(body: LenderIn, _: RegulatorDep) -> dict[str, Any]:
        return add_lender(chain.store.engine, body.id, body.name, body.licence, _b64(body.public_key, "public_key"))

    @app.get("/v1/admin/lenders", tags=["regulator"], summary="List lenders")
    def admin_list_lenders(_: RegulatorDep) -> dict[str, Any]:
        return {"lenders": list_lenders(chain.store.engine)}

    @app.post("/v1/admin/lenders/{lender_id}/disable", tags=["regulator"], summary="Disable a lender")
    def admin_disable(lender_id: Annotated[str, Path(pattern=ID)], _: RegulatorDep) -> dict[str, Any]:
        chain.forget_lender(lender_id)
        return set_enabled(chain.store.engine, lender_id, False)

    @app.post("/v1/admin/lenders/{lender_id}/enable", tags=["regulator"], summary="Enable a lender again")
    def admin_enable(lender_id: Annotated[str, Path(pattern=ID)], _: RegulatorDep) -> dict[str, Any]:
        chain.forget_lender(lender_id)
        return set_enabled(chain.store.engine, lender_id, True)

    @app.get("/v1/admin/timeliness", tags=["regulator"], summary="Per-lender reporting delay (event → deposit)")
    def admin_timeliness(_: RegulatorDep) -> dict[str, Any]:
        return {"lenders": chain.timeliness()}

    @app.get("/v1/admin/dashboard", tags=["regulator"], summary="The dashboard's figures: deposits per day, delays, anchoring lag, checkpoints")
    def admin_dashboard(_: RegulatorDep, days: Annotated[int, Query(ge=1, le=366)] = 30, blocks: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
        return figures(chain, days=days, blocks=blocks)

    add_dashboard(app, chain)  # the same figures as a web page under /regulator
    add_operations(app, chain.store.engine, SupervisionMetrics(chain))  # /metrics, /livez, /readyz, request ids

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
