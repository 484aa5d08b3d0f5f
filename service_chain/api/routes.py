"""The service chain's routes: pools (lenders add loans, certify; the offered funder or buyer reads), registrations
(the lender proposes, the party accepts or releases), parties (operator), holders (court), figures (regulator)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from service_kit.problems import Forbidden, InvalidInput

from ..service import Viewer
from .deps import ChainDep, CourtDep, OperatorDep, RegulatorDep, SignerDep, b64, json_object, signed_body

router = APIRouter()
_POOL = Path(max_length=32, description="The pool's id (P + 20 hex).")
_REG = Path(max_length=64, description="The registration's id, chosen by the lender.")


class NewPool(BaseModel):
    purpose: str = Field(description="financing (pledged to a funder) or transfer (sold to a buyer).", examples=["financing"])
    offered_to: str = Field(description="The funder's or buyer's id: the only party that sees the pool.", examples=["F001"])


class Proposal(BaseModel):
    registration_id: str = Field(description="Your id for this registration (1–64 letters, digits, . _ -).", examples=["R-2026-0001"])
    pool_id: str
    amount_fen: int = Field(description="The financing amount, or the price of a transfer, in fen.")
    term_months: int = Field(description="The financing's term (0 for a transfer).")
    lender_signature: str = Field(description="Base64 signature of the terms text (fivechains.service/registration/v1) with your key.")


class PartySignature(BaseModel):
    signature: str = Field(description="Base64 signature with your key: of the terms text (accept) or the release text (release).")


class NewParty(BaseModel):
    id: str = Field(examples=["F001"])
    name: str = Field(examples=["某银行 Some Bank"])
    kind: str = Field(description="funder or buyer.")
    public_key: str = Field(description="Base64 of the raw public key: Ed25519 (32 bytes) or SM2 (65 bytes 04‖x‖y).")


class Holders(BaseModel):
    supervision_indexes: list[int] = Field(max_length=10_000, description="Supervision-chain indexes of deposits (at most 10,000).")


def _model(cls: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}") from None


def _lender(viewer: Viewer) -> str:
    if viewer.role != "lender" or viewer.id is None:
        raise Forbidden("only a lender does this (sign with X-Lender-Id)")
    return viewer.id


def _party(viewer: Viewer) -> str:
    if viewer.role != "party" or viewer.id is None:
        raise Forbidden("only the funder or buyer does this (sign with X-Party-Id)")
    return viewer.id


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"content": {"application/json": {"schema": model.model_json_schema()}}, "required": True}}


_LOANS_SCHEMA = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["loans"], "properties": {
        "position": {"type": "integer", "minimum": 0, "description": "How many loans the pool holds before this chunk: chunks sent "
                     "together are stored in this order (one waits for those before it; 409 pool-state if one before it failed)"},
        "loans": {"type": "array", "maxItems": 5000, "items": {
        "type": "object", "required": ["loan_id", "claimed_outstanding_fen", "records"], "properties": {
            "loan_id": {"type": "string"}, "claimed_outstanding_fen": {"type": "integer", "minimum": 0},
            "records": {"type": "array", "maxItems": 64, "items": {"type": "object", "required": ["deposit_code"], "properties": {
                "deposit_code": {"type": "string"}, "record": {"type": "object", "description": "The JSON record (its RFC 8785 form is hashed)"},
                "canonical": {"type": "string", "description": "The JSON record's RFC 8785 text, hashed as UTF-8"},
                "content_b64": {"type": "string", "description": "A file record's bytes"},
                "salt": {"type": "string", "description": "The record's salt (hex), if it was deposited salted"}}}}}}}}}}}}}


@router.get("/v1/rules", tags=["rules"], summary="The rule file in force (reporting limit, eligibility per purpose)")
def rules(chain: ChainDep) -> dict[str, Any]:
    return {"version": chain.rules.version, "sha256": chain.rules.sha256, "text": chain.rules.text}


@router.get("/v1/key", tags=["rules"], summary="The service chain's verifier key (certificates are signed with it)")
def key(chain: ChainDep) -> dict[str, Any]:
    return {"chain_id": chain.config.chain_id, "vkey": chain.vkey}


@router.post("/v1/pools", tags=["pools"], summary="Open a pool for financing or a transfer (signed by the lender)", openapi_extra=_schema(NewPool))
async def new_pool(request: Request, chain: ChainDep) -> dict[str, Any]:
    viewer, body = await signed_body(request, chain)
    req = _model(NewPool, json_object(body))
    return chain.create_pool(_lender(viewer), req.purpose, req.offered_to)


@router.get("/v1/pools", tags=["pools"], summary="Your pools: a lender's own, or those offered to a funder or buyer (signed read)")
def my_pools(chain: ChainDep, viewer: SignerDep) -> dict[str, Any]:
    return {"pools": chain.pools(viewer)}


@router.post("/v1/pools/{pool_id}/loans", tags=["pools"], summary="Add loans to an open pool; each is checked now (signed by the lender)",
             openapi_extra=_LOANS_SCHEMA)
async def add_loans(request: Request, chain: ChainDep, pool_id: Annotated[str, _POOL]) -> Response:
    """Up to 5,000 loans per request, each with its records (JSON record, RFC 8785 text or file bytes, and the record's
    deposit code) and the outstanding principal you claim. Each loan's verdict comes back at once: `eligible`, the
    outstanding recomputed from your deposited reports, and `exceptions` (code and sentence: unknown-record, wrong-code,
    not-anchored, missing-records, no-contract, no-disbursement, back-filled, lifecycle, claim-mismatch, overdue, rate-cap,
    paid-off, pledged, transferred). A malformed request adds nothing."""
    viewer, body = await signed_body(request, chain)
    lender = _lender(viewer)
    result = await run_in_threadpool(chain.add_loans, lender, pool_id, body)
    return Response(msgspec.json.encode(result), media_type="application/json")  # 5,000 verdicts: not through jsonable_encoder


@router.post("/v1/pools/{pool_id}/certificate", tags=["pools"], summary="Close the pool and sign its certificate (signed by the lender)")
async def certify(request: Request, chain: ChainDep, pool_id: Annotated[str, _POOL]) -> dict[str, Any]:
    """A C2SP signed note naming the pool, its counts, eligible outstanding, the Merkle root over its loans and the rule
    file's SHA-256, signed by the service chain; recorded as an entry (anchored, so it gets a deposit code)."""
    viewer, _ = await signed_body(request, chain)
    return await run_in_threadpool(chain.certify, _lender(viewer), pool_id)


@router.get("/v1/pools/{pool_id}", tags=["pools"], summary="A pool: counts, outstanding, exceptions, certificate (its lender or party)")
def pool(chain: ChainDep, viewer: SignerDep, pool_id: Annotated[str, _POOL]) -> dict[str, Any]:
    return chain.pool(viewer, pool_id)


@router.get("/v1/pools/{pool_id}/proofs", tags=["pools"], summary="Loans' offline proofs under the certificate (its lender or party)")
def proofs(chain: ChainDep, viewer: SignerDep, pool_id: Annotated[str, _POOL],
           loan_id: Annotated[list[str] | None, Query(max_length=1000)] = None,
           start: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict[str, Any]:
    """By `loan_id` (repeat), or a page of loans by position (`start`, `limit`). Check them offline with
    `fivechains service verify-certificate`."""
    return chain.proofs(viewer, pool_id, loan_id, start, limit)


@router.post("/v1/registrations", tags=["registrations"], summary="Propose a pledge or transfer of a certified pool (signed by the lender)",
             openapi_extra=_schema(Proposal))
async def propose(request: Request, chain: ChainDep) -> dict[str, Any]:
    """Refused (409 already-encumbered) if any eligible loan of the pool is already pledged or transferred, naming the
    loans and the dates of the earlier registrations (never the other party)."""
    viewer, body = await signed_body(request, chain)
    req = _model(Proposal, json_object(body))
    return await run_in_threadpool(chain.propose, _lender(viewer), req.pool_id, req.registration_id, req.amount_fen, req.term_months,
                                   b64(req.lender_signature, "lender_signature"))


@router.get("/v1/registrations", tags=["registrations"], summary="Your registrations: proposed, registered, released (signed read)")
def my_registrations(chain: ChainDep, viewer: SignerDep) -> dict[str, Any]:
    return {"registrations": chain.registrations(viewer)}


@router.post("/v1/registrations/{registration_id}/accept", tags=["registrations"], summary="Accept: sign the terms (the funder or buyer)",
             openapi_extra=_schema(PartySignature))
async def accept(request: Request, chain: ChainDep, registration_id: Annotated[str, _REG]) -> dict[str, Any]:
    viewer, body = await signed_body(request, chain)
    req = _model(PartySignature, json_object(body))
    return await run_in_threadpool(chain.accept, _party(viewer), registration_id, b64(req.signature, "signature"))


@router.post("/v1/registrations/{registration_id}/release", tags=["registrations"], summary="Release a pledge (the funder, signed)",
             openapi_extra=_schema(PartySignature))
async def release(request: Request, chain: ChainDep, registration_id: Annotated[str, _REG]) -> dict[str, Any]:
    viewer, body = await signed_body(request, chain)
    req = _model(PartySignature, json_object(body))
    return await run_in_threadpool(chain.release, _party(viewer), registration_id, b64(req.signature, "signature"))


@router.post("/v1/court/holders", tags=["court"], summary="Who holds the claim of each deposit's loan (the court's token)")
def holders(chain: ChainDep, _: CourtDep, req: Annotated[Holders, Body()]) -> dict[str, Any]:
    return {"holders": chain.holders(req.supervision_indexes)}


@router.post("/v1/admin/parties", tags=["operator"], summary="Register a funder or buyer with its key (the operator)")
def add_party(chain: ChainDep, _: OperatorDep, req: Annotated[NewParty, Body()]) -> dict[str, Any]:
    return chain.add_party(req.id, req.name, req.kind, b64(req.public_key, "public_key"))


@router.get("/v1/admin/parties", tags=["operator"], summary="Registered funders and buyers (the operator)")
def parties(chain: ChainDep, _: OperatorDep) -> dict[str, Any]:
    return {"parties": chain.list_parties()}


@router.post("/v1/admin/parties/{party_id}/{action}", tags=["operator"], summary="Disable or enable a party (the operator)")
def party_state(chain: ChainDep, _: OperatorDep, party_id: Annotated[str, Path(max_length=64)],
                action: Annotated[str, Path(pattern="^(disable|enable)$")]) -> dict[str, Any]:
    chain.set_party_enabled(party_id, action == "enable")
    return {"id": party_id, "enabled": action == "enable"}


@router.get("/v1/regulator/overview", tags=["regulator"], summary="Pools, registrations, loans pledged and transferred")
def overview(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return chain.overview()


@router.get("/v1/regulator/pools", tags=["regulator"], summary="Every pool")
def all_pools(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return {"pools": chain.pools(Viewer("regulator"))}


@router.get("/v1/regulator/pools/{pool_id}", tags=["regulator"], summary="Any pool, with its exceptions")
def any_pool(chain: ChainDep, _: RegulatorDep, pool_id: Annotated[str, _POOL]) -> dict[str, Any]:
    return chain.pool(Viewer("regulator"), pool_id)


@router.get("/v1/regulator/registrations", tags=["regulator"], summary="Every registration")
def all_registrations(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return {"registrations": chain.registrations(Viewer("regulator"))}


@router.get("/v1/status", tags=["regulator"], summary="Feed position, size, rules in force")
def status(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return chain.status()
