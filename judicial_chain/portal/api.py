"""The court portal's API: a judge submits a case's evidence in batch and gets a verdict per item.

A batch runs as a job with progress (100,000 items do not hang one request). Every
verification is logged (who, when, which case); failed look-ups are rate-limited per judge.
"""

import base64
import binascii
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Header, Path, Query, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from service_kit.auth import TokenDigest, bearer_token
from service_kit.body_limit import BodyLimit
from service_kit.data_files import secret_token
from service_kit.observability import add_operations
from service_kit.problems import InvalidInput, NotFound, ServiceError, Unauthorized, install_problem_handlers

from ..service import JudicialChain
from ..verification import Evidence
from .accounts import create_tables, judge_by_token
from .evidence_input import ArchiveError, InputError, from_upload
from .holders import ClaimHolders
from .jobs import FAILED_LOOKUPS_PER_MINUTE, MAX_ITEMS, WORKERS, Job, JobBoard, court_failures
from .metrics import JudicialMetrics
from .report import csv_report, render_report
from .security import CSP, SecurityHeaders
from .web import add_web_routes

MAX_BODY = 64 * 1024 * 1024
OUTCOMES_TOKEN_FILE = "outcomes.token"  # in the judicial data directory (0600): who may read the failures at court


class UnreadableArchive(ServiceError):
    status, slug, title = 400, "unreadable-archive", "The case bundle cannot be read"


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64, description="Deposit code (存证编码), any case, hyphens optional.")
    digest: str | None = Field(default=None, max_length=128, description="Hex digest of the evidence, if the record is not sent.")
    record: Any = Field(default=None, description="A JSON record (hashed in its RFC 8785 form with the salt).")
    content_b64: str | None = Field(default=None, description="A file's bytes, base64.")
    salt: str | None = Field(default=None, max_length=64)
    path: str | None = Field(default=None, max_length=1024)
    line: int | None = Field(default=None, ge=1)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str = Field(min_length=1, max_length=128, description="The court's case number.")
    items: list[ItemIn] = Field(min_length=1)


_HOLDER = {"lender_id": "L0001", "loan_id": "L-2026-0001", "holder_id": "B001", "holder_name": "某资产管理公司 Some AMC",
           "holder_kind": "buyer", "since_ms": 1767182400000, "transfer_index": 12, "transfer_code": "Z9CD-MJPG-EDG6-8A", "pledged": False}
_STATUS_EXAMPLE = {"job_id": "5f0c…", "case_id": "(2026)粤0192民初9号", "status": "done", "total": 1, "done": 1,
                   "counts": {"verified": 1, "tampered": 0, "unknown_code": 0, "not_anchored": 0, "malformed": 0},
                   "items": [{"code": "Z9CD-MJPG-EDG6-8A", "verdict": "verified", "detail": "the evidence matches the deposit",
                              "lender_id": "L0001", "lender_name": "Yue Xiu Lending", "record_type": "contract",
                              "deposit_time_ms": 1767182400250, "event_time_ms": 1767182400000,
                              "supervision_chain": "supervision.fivechains.local/gz", "supervision_index": 17, "supervision_block": 3,
                              "judicial_index": 40, "judicial_block": 5, "judicial_chain": "judicial.fivechains.local/gz-internet-court",
                              "digest": "6386…", "holder": _HOLDER}]}
_STATUS_DOC = (
    "Progress, then (once `status` is `done`) the verdicts, `offset`/`limit` at a time. When the portal is linked to the "
    "service chain (服务链), each `verified` item from the supervision chain also has `holder`: who holds the loan's claim, "
    "as the service chain answered when the item was verified — `lender_id`, `loan_id`, `holder_id`, `holder_name`, "
    "`holder_kind` (`lender`: never transferred; `buyer`), `since_ms` (since when; for the lender, the contract's event time), "
    "`transfer_index` and `transfer_code` (the transfer's service-chain index and deposit code; null for the lender) and "
    "`pledged` — or null when the service chain does not know the entry or could not be asked. In the latter case the job "
    "also has `\"holders_unavailable\": true` (the verdicts themselves do not depend on it).")


def _accepted(job: Job) -> JSONResponse:
    return JSONResponse({"job_id": job.id, "status": job.status, "total": job.total, "status_url": f"/v1/verifications/{job.id}"},
                        status_code=202)


def _items_from_upload(filename: str, data: bytes) -> list[Evidence]:
    """Unpack a case bundle (run off the event loop: inflating and hashing take CPU)."""
    try:
        return from_upload(filename, data)
    except ArchiveError as exc:
        raise UnreadableArchive(str(exc)) from None
    except InputError as exc:
        raise InvalidInput(str(exc)) from None


def create_portal_app(chain: JudicialChain, *, workers: int = WORKERS, failed_lookups_per_minute: int = FAILED_LOOKUPS_PER_MINUTE,
                      lease_seconds: float = 30.0, trust_forwarded_proto: bool = False, holders: ClaimHolders | None = None) -> FastAPI:
    """The portal. ``trust_forwarded_proto``: behind a TLS-terminating proxy that sets X-Forwarded-Proto (cookies become Secure).
    ``holders``: the service chain to ask who holds each verified loan's claim (none: verdicts carry no ``holder``)."""
    create_tables(chain.store.engine)
    board = JobBoard(chain, workers, failed_lookups_per_minute, lease_seconds, holders)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        board.start()  # resumes jobs left unfinished by a stopped or dead portal
        try:
            yield
        finally:
            await run_in_threadpool(board.stop)

    app = FastAPI(title="Five Chains — court portal (法院存证核验)", version="1.0", lifespan=lifespan,
                  description="Judges verify evidence by deposit code, in batch. Errors are RFC 9457 problem+json.")
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    app.add_middleware(SecurityHeaders, policy=CSP)
    app.state.board = board
    app.state.holders = holders

    install_problem_handlers(app)

    def judge(authorization: Annotated[str | None, Header()] = None) -> str:
        who = judge_by_token(chain.store.engine, bearer_token(authorization))
        if who is None:
            raise Unauthorized("a judge's API token is required (Authorization: Bearer …)")
        return who

    outcomes = TokenDigest(secret_token(chain.config.data_dir, OUTCOMES_TOKEN_FILE), "the outcomes token")

    @app.get("/v1/outcomes/failures", tags=["regulator"], summary="Evidence judged tampered, per depositor and day (the risk chain's reader token)")
    def failures(authorization: Annotated[str | None, Header()] = None, since_day: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
        outcomes.check(bearer_token(authorization))
        return {"failures": court_failures(chain.store.read_engine, since_day)}

    @app.post("/v1/verifications", status_code=202, tags=["verification"], summary="Verify a case's evidence in batch")
    def submit(body: BatchIn, who: Annotated[str, Depends(judge)]) -> JSONResponse:
        items = []
        for n, i in enumerate(body.items):
            try:
                content = base64.b64decode(i.content_b64, validate=True) if i.content_b64 is not None else None
            except (binascii.Error, ValueError):
                raise InvalidInput(f"items.{n}.content_b64 is not base64") from None
            items.append(Evidence(i.code, i.digest, content, i.record, i.salt, i.path, i.line))
        return _accepted(board.submit(who, body.case_id, items))

    @app.post("/v1/verifications/bundle", status_code=202, tags=["verification"],
              summary="Verify a case bundle: a ZIP of evidence files with receipts.json or manifest.json (multipart upload)")
    async def submit_bundle(who: Annotated[str, Depends(judge)], case_id: Annotated[str, Form(min_length=1, max_length=128)],
                            bundle: UploadFile) -> JSONResponse:
        data = await bundle.read(MAX_BODY + 1)
        items = await run_in_threadpool(_items_from_upload, bundle.filename or "upload", data)
        return _accepted(await run_in_threadpool(board.submit, who, case_id, items))

    @app.get("/v1/verifications/{job_id}", tags=["verification"], summary="Progress, then the verdicts", description=_STATUS_DOC,
             responses={200: {"description": "The job; its verdicts once done.", "content": {"application/json": {"example": _STATUS_EXAMPLE}}}})
    def status(job_id: Annotated[str, Path(max_length=64)], who: Annotated[str, Depends(judge)],
               offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=MAX_ITEMS)] = MAX_ITEMS) -> JSONResponse:
        return JSONResponse(board.get(job_id, who, window=(offset, limit)).view(offset, limit))

    @app.get("/v1/verifications/{job_id}/report.csv", tags=["verification"], response_class=PlainTextResponse, summary="Verdicts as CSV")
    def report_csv(job_id: Annotated[str, Path(max_length=64)], who: Annotated[str, Depends(judge)]) -> PlainTextResponse:
        return PlainTextResponse(csv_report(board.get(job_id, who, results=True)), media_type="text/csv; charset=utf-8")

    @app.get("/v1/verifications/{job_id}/report.html", tags=["verification"], response_class=HTMLResponse, summary="Printable report")
    def report_html(job_id: Annotated[str, Path(max_length=64)], who: Annotated[str, Depends(judge)]) -> HTMLResponse:
        return HTMLResponse(render_report(board.get(job_id, who, results=True), chain))

    add_web_routes(app, chain, board, trust_forwarded_proto=trust_forwarded_proto)

    @app.get("/v1/verifications/{job_id}/items/{position}/bundle", tags=["verification"], response_class=PlainTextResponse,
             summary="Offline proof bundle (C2SP tlog-proof) of one verified item")
    def bundle(job_id: Annotated[str, Path(max_length=64)], position: Annotated[int, Path(ge=0, le=MAX_ITEMS)],
               who: Annotated[str, Depends(judge)]) -> PlainTextResponse:
        job = board.get(job_id, who, window=(position, 1))
        found = job.results[position - job.results_from] if 0 <= position - job.results_from < len(job.results) else None
        if found is None or found["verdict"] != "verified":
            raise NotFound("only a verified item has a proof bundle")
        index = found["judicial_index"]
        return PlainTextResponse(board.verifier.bundles([index])[index], headers={"Content-Disposition": f'attachment; filename="item-{position}.tlog-proof"'})

    @app.get("/v1/chain", tags=["verification"], summary="The judicial chain's id and verifier key (for offline bundles)")
    def chain_info() -> dict[str, Any]:
        return {"chain_id": chain.config.chain_id, "vkey": chain.vkey}

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_operations(app, chain.store.engine, JudicialMetrics(chain))  # /metrics, /livez, /readyz, request ids
    return app
