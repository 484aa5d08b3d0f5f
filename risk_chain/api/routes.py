"""The risk chain's JSON API: warnings and their closed loop, complaints, models and figures."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from evidence.canonical_json import canonical_json
from service_kit.problems import InvalidInput, NotFound

from ..closed_loop import STATES
from .deps import ChainDep, RegulatorDep, ViewerDep, b64

router = APIRouter()
WarningId = Annotated[str, Path(pattern=r"^W-[0-9A-F]{12}$")]
ID = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: Literal["assign", "answer", "review", "close", "escalate"]
    actor: str = Field(pattern=ID, description="The officer's or lender's id.")
    actor_kind: Literal["officer", "lender"]
    time_ms: int = Field(ge=0, le=2**53 - 1, description="When signed (ms); within 5 minutes of the server's clock, after the last step.")
    body: dict[str, Any] = Field(description="assign {assignee, note?} · answer {text, attachments: [{name, digest}]} · "
                                             "review {finding: accepted|rejected, note?} · close {note} · escalate {action: on-site-inspection|court-referral, note?}")
    signature: str = Field(description="Base64 signature by the actor's key over the fivechains.risk-step/v1 text (docs/protocol.md).")


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lender_id: str = Field(pattern=ID)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the complaint (kept by the regulator).")
    time_ms: int | None = Field(default=None, ge=0, le=2**53 - 1, description="When it was received (default: now).")


class OfficerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    public_key: str = Field(description="Base64 of the raw Ed25519 (32 bytes) or SM2 (65 bytes) public key.")


@router.get("/v1/warnings", tags=["warnings"], summary="Warnings: all for the regulator, a lender's own for a signed read")
def list_warnings(chain: ChainDep, who: ViewerDep, state: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    for s in state or []:
        if s not in STATES:
            raise InvalidInput(f"state: {s!r} is not one of {', '.join(STATES)}")
    return {"warnings": chain.warnings(who.lender_id, tuple(state) if state else None)}


@router.get("/v1/warnings/{warning_id}", tags=["warnings"], summary="One warning: its explanation and every step")
def get_warning(chain: ChainDep, who: ViewerDep, warning_id: WarningId) -> dict[str, Any]:
    return chain.warning_view(warning_id, who.lender_id)


@router.get("/v1/warnings/{warning_id}/steps/{seq}/document", tags=["warnings"],
            summary="A step's signed document, byte for byte as its entry commits to (for a court: verify it by its deposit code)")
def step_document(chain: ChainDep, who: ViewerDep, warning_id: WarningId, seq: Annotated[int, Path(ge=0, le=10_000)]) -> Response:
    view = chain.warning_view(warning_id, who.lender_id)
    if seq >= len(view["steps"]):
        raise NotFound(f"warning {warning_id} has no step {seq}")
    return Response(canonical_json(view["steps"][seq]["document"]) + b"\n", media_type="application/json")


@router.post("/v1/warnings/{warning_id}/steps", tags=["warnings"], summary="Take a step of the closed loop (signed by the actor)")
def take_step(chain: ChainDep, warning_id: WarningId, body: StepIn) -> dict[str, Any]:
    return chain.take_step(warning_id, body.step, body.actor, body.actor_kind, body.time_ms, body.body, b64(body.signature, "signature"))


@router.post("/v1/complaints", tags=["regulator"], status_code=201, summary="Record a consumer complaint about a lender (its digest)")
def add_complaint(chain: ChainDep, body: ComplaintIn, _: RegulatorDep) -> dict[str, Any]:
    return chain.add_complaint(body.lender_id, body.digest, body.time_ms if body.time_ms is not None else int(time.time() * 1000))


@router.post("/v1/admin/officers", tags=["regulator"], status_code=201, summary="Register a regulator officer's key")
def add_officer(chain: ChainDep, body: OfficerIn, _: RegulatorDep) -> dict[str, Any]:
    try:
        return chain.add_officer(body.id, body.name, b64(body.public_key, "public_key"))
    except ValueError as exc:
        raise InvalidInput(f"public_key: {exc}") from None


@router.post("/v1/admin/model/reload", tags=["regulator"], summary="Load the model file again (a bad file leaves the last good model in force)")
def reload_model(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    from ..scorecard import ModelError

    try:
        model = chain.reload_model()
    except ModelError as exc:
        raise InvalidInput(f"the model file was refused ({exc}); model {chain.models.model.version} stays in force") from None
    return {"version": model.version, "sha256": model.sha256}


@router.get("/v1/models/{sha256}", tags=["figures"], response_class=PlainTextResponse, summary="A scorecard model file by its SHA-256")
def model_file(chain: ChainDep, sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]) -> PlainTextResponse:
    return PlainTextResponse(chain.model_text(sha256), media_type="application/toml")


@router.get("/v1/lenders/{lender_id}/series", tags=["figures"], summary="A lender's figures, index and band per day")
def lender_series(chain: ChainDep, who: ViewerDep, lender_id: Annotated[str, Path(pattern=ID)]) -> dict[str, Any]:
    if who.lender_id is not None and who.lender_id != lender_id:
        raise NotFound("no figures for you under that lender id")
    return {"lender_id": lender_id, "days": chain.series(lender_id)}


@router.get("/v1/scores", tags=["figures"], summary="Every lender's latest index, band and indicator points (the heat map)")
def scores(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return {"lenders": [{"lender_id": lender, "day": day.isoformat(), "risk_index": s.index, "band": s.band,
                         "lines": [{"indicator": line.indicator, "value": line.value if line.value == line.value else None,
                                    "points": line.points, "limit_crossed": line.limit_crossed} for line in s.lines]}
                        for lender, (day, s) in sorted(chain.scores.items())]}


@router.get("/v1/status", tags=["regulator"], summary="Feed position, latest day, model in force, anchoring backlog")
def status(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return json.loads(json.dumps(chain.status()))
