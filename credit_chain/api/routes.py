"""The credit chain's routes: the bureau's published key and rules, lenders' pseudonym evaluations and checks,
disputes, the borrower's report (operator), and the regulator's figures. Errors are problem+json 4xx."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from chain.encoding import b64encode
from service_kit.problems import InvalidInput

from .deps import ChainDep, LenderDep, OperatorDep, RegulatorDep, b64, signed_lender_body

router = APIRouter()
_PSEUDONYM = Path(pattern=r"^[0-9a-f]{64}$", description="The borrower's pseudonym (64 lowercase hex).")


class Evaluate(BaseModel):
    blinded: list[str] = Field(description="Blinded elements (base64, 32 bytes each), at most 2,000 per request.", max_length=2000)


class Check(BaseModel):
    borrower: str = Field(description="The applicant's pseudonym (64 lowercase hex).", examples=["3f" * 32])
    consent_code: str = Field(description="The deposit code of the borrower's consent, deposited by you on the supervision chain.")
    purpose: str = Field(description="The purpose, exactly as the consent states it.", examples=["loan-application"])


class Answer(BaseModel):
    outcome: str = Field(description="corrected or upheld.")
    reasons: str = Field(description="Why (1–4000 characters).")


class NewDispute(BaseModel):
    borrower: str
    target: str = Field(description="loan or query.")
    lender_id: str
    ref: str = Field(description="The loan id, or the query's entry index.")
    reason: str


def _model(cls: type[BaseModel], body: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}") from None


@router.get("/v1/oprf/key", tags=["pseudonyms"], summary="The bureau's OPRF public key and the entry that commits to it")
def oprf_key(chain: ChainDep) -> dict[str, Any]:
    """RFC 9497 ristretto255-SHA512, verifiable mode: `public_key` (hex), the credit-chain entry `index` whose document
    (`document`, canonical JSON) names the key; a lender checks every evaluation's proof against this key."""
    return chain.published_key()


@router.get("/v1/rules", tags=["rules"], summary="The rule file in force (multi-head flag, bands, dispute deadline, enterprise score)")
def rules(chain: ChainDep) -> dict[str, Any]:
    return {"version": chain.rules.version, "sha256": chain.rules.sha256, "text": chain.rules.text}


@router.post("/v1/oprf/evaluate", tags=["pseudonyms"], summary="Evaluate blinded identifiers (signed by a lender)",
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": Evaluate.model_json_schema()}}, "required": True}})
async def evaluate(request: Request, chain: ChainDep) -> dict[str, Any]:
    """The bureau's half of the OPRF: `evaluated` elements and one DLEQ `proof` for the batch (base64). Counted per lender
    and day on the credit chain; over the daily limit the answer is 429. Sign as for any lender request, the target being
    `/v1/oprf/evaluate?body-sha256=HEX`."""
    lender_id, body = await signed_lender_body(request, chain)
    req = _model(Evaluate, body)
    blinded = [b64(x, f"blinded[{i}]") for i, x in enumerate(req.blinded)]
    evaluated, proof = await run_in_threadpool(chain.evaluate, lender_id, blinded)
    return {"evaluated": [b64encode(e) for e in evaluated], "proof": b64encode(proof), "public_key": chain.oprf_key.public.hex()}


@router.post("/v1/checks/multihead", tags=["checks"], summary="Multi-head borrowing check of one applicant (signed; consent required)",
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": Check.model_json_schema()}}, "required": True}})
async def multihead(request: Request, chain: ChainDep) -> dict[str, Any]:
    """Refused (403) unless the supervision chain holds your anchored, unexpired consent for this borrower and purpose.
    Answers counts only — other lenders with open loans, outstanding principal (exact and banded), worst current overdue,
    other lenders' queries in 30 and 90 days, the multi-head flag and its rule — and records the query on the chain."""
    lender_id, body = await signed_lender_body(request, chain)
    req = _model(Check, body)
    return await run_in_threadpool(chain.check, lender_id, req.borrower, req.consent_code, req.purpose)


@router.get("/v1/disputes", tags=["disputes"], summary="Your disputes to answer (signed read)")
def my_disputes(chain: ChainDep, lender_id: LenderDep) -> dict[str, Any]:
    return {"disputes": chain.disputes(lender_id=lender_id)}


@router.post("/v1/disputes/{dispute_id}/answer", tags=["disputes"], summary="Answer a dispute: corrected or upheld, with reasons (signed)",
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": Answer.model_json_schema()}}, "required": True}})
async def answer(request: Request, chain: ChainDep, dispute_id: Annotated[str, Path(max_length=32)]) -> dict[str, Any]:
    lender_id, body = await signed_lender_body(request, chain)
    req = _model(Answer, body)
    return await run_in_threadpool(chain.answer_dispute, lender_id, dispute_id, req.outcome, req.reasons)


@router.post("/v1/disputes", tags=["disputes"], summary="File a borrower's dispute (the bureau's operator)")
def open_dispute(chain: ChainDep, _: OperatorDep, req: Annotated[NewDispute, Body()]) -> dict[str, Any]:
    return chain.open_dispute(req.borrower, req.target, req.lender_id, req.ref, req.reason)


@router.get("/v1/borrowers/{borrower}/report", tags=["borrowers"], summary="A borrower's own record, with its proof (the bureau's operator)")
def borrower_report(chain: ChainDep, _: OperatorDep, borrower: Annotated[str, _PSEUDONYM]) -> dict[str, Any]:
    """Loans by lender with status, every query (lender, time, purpose, consent code), disputes, and the proof:
    each entry of the record with an inclusion proof and the signed `report` entry stating how many there are.
    Check it offline with `fivechains credit verify-report`."""
    return chain.borrower_report(borrower)


@router.get("/v1/regulator/evaluations", tags=["regulator"], summary="Pseudonym evaluations per lender beside its reported loans")
def evaluations(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return {"lenders": chain.evaluation_figures()}


@router.get("/v1/regulator/multihead-shares", tags=["regulator"], summary="Per lender: share of borrowers with ≥ N other lenders")
def multihead_shares(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return {"rule": {"other_lenders_at_least": chain.rules.other_lenders_at_least, "window_days": chain.rules.window_days},
            "lenders": chain.multihead_shares()}


@router.get("/v1/regulator/disputes", tags=["regulator"], summary="Every dispute and its state")
def all_disputes(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return {"disputes": chain.disputes()}


@router.get("/v1/status", tags=["regulator"], summary="Feed position, size, rules in force")
def status(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return chain.status()
