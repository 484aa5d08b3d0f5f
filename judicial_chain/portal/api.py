"""The court portal's API: a judge submits a case's evidence in batch and gets a verdict per item.

A batch runs as a job with progress (100,000 items do not hang one request). Every
verification is logged (who, when, which case); failed look-ups are rate-limited per judge.
"""

import base64
import binascii
import csv
import io
import threading
import time
import uuid
from collections import Counter, OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Header, Path, Query, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from service_kit.body_limit import BodyLimit
from service_kit.observability import add_operations
from service_kit.problems import install_problem_handlers

from ..service import JudicialChain
from ..verification import VERDICTS, Evidence, Verifier
from .accounts import create_tables, judge_by_token, log_verification
from .evidence_input import InputError, from_upload
from .metrics import JudicialMetrics
from .report import render_report

MAX_ITEMS = 100_000
MAX_BODY = 64 * 1024 * 1024
FAILED_LOOKUPS_PER_MINUTE = 20_000
CHUNK = 2000


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


@dataclass
class Job:
    id: str
    judge: str
    case_id: str
    total: int
    done: int = 0
    status: str = "running"
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    created: float = field(default_factory=time.time)

    def counts(self) -> dict[str, int]:
        counted = Counter(r["verdict"] for r in self.results)
        return {v: counted.get(v, 0) for v in VERDICTS}

    def view(self, offset: int, limit: int) -> dict[str, Any]:
        out = {"job_id": self.id, "case_id": self.case_id, "status": self.status, "total": self.total, "done": self.done,
               "counts": self.counts()}
        if self.status == "done":
            out["items"] = self.results[offset : offset + limit]
        if self.error:
            out["error"] = self.error
        return out


def csv_report(job: Job) -> str:
    out = io.StringIO()
    columns = ["code", "verdict", "path", "line", "lender_id", "deposit_ms", "supervision_index", "judicial_index", "detail"]
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(job.results)
    return out.getvalue()


class _FailureBudget:
    """Per judge, failed look-ups in the last minute; over the budget, further batches wait."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._spent: dict[str, list[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def spent(self, judge: str) -> int:
        now = time.monotonic()
        with self._lock:
            recent = [(t, n) for t, n in self._spent.get(judge, []) if now - t < 60]
            self._spent[judge] = recent
            return sum(n for _, n in recent)

    def spend(self, judge: str, failed: int) -> None:
        with self._lock:
            self._spent.setdefault(judge, []).append((time.monotonic(), failed))


class JobBoard:
    """Verification jobs: run in the background with progress, visible only to the judge who asked."""

    def __init__(self, chain: JudicialChain) -> None:
        self.chain = chain
        self.verifier = Verifier(chain)
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.budget = _FailureBudget(FAILED_LOOKUPS_PER_MINUTE)

    def submit(self, who: str, case_id: str, items: list[Evidence]) -> Job:
        if len(items) > MAX_ITEMS:
            raise StarletteHTTPException(413, f"at most {MAX_ITEMS:,} items in one batch")
        if not items:
            raise StarletteHTTPException(422, "no evidence items")
        if self.budget.spent(who) >= FAILED_LOOKUPS_PER_MINUTE:
            raise StarletteHTTPException(429, "too many failed look-ups in the last minute; try again shortly")
        job = Job(uuid.uuid4().hex, who, case_id, len(items))
        self.jobs[job.id] = job
        while len(self.jobs) > 200:
            self.jobs.popitem(last=False)
        threading.Thread(target=self._run, args=(job, items), daemon=True).start()
        return job

    def get(self, job_id: str, who: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.judge != who:
            raise StarletteHTTPException(404, "no such verification")
        return job

    def _run(self, job: Job, items: list[Evidence]) -> None:
        try:
            for start in range(0, len(items), CHUNK):
                verdicts = self.verifier.verify(items[start : start + CHUNK], with_bundles=False)  # bundles on request
                job.results.extend(v.to_dict() for v in verdicts)
                job.done = len(job.results)
            counts = job.counts()
            self.budget.spend(job.judge, counts["tampered"] + counts["unknown_code"] + counts["malformed"])
            log_verification(self.chain.store.engine, job.judge, job.case_id, job.total, counts)
            job.status = "done"
        except Exception as exc:  # the job reports it; the server goes on
            job.status, job.error = "failed", f"{exc.__class__.__name__}: {exc}"


def create_portal_app(chain: JudicialChain) -> FastAPI:
    create_tables(chain.store.engine)
    board = JobBoard(chain)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield

    app = FastAPI(title="Five Chains — court portal (法院存证核验)", version="1.0", lifespan=lifespan,
                  description="Judges verify evidence by deposit code, in batch. Errors are RFC 9457 problem+json.")
    app.add_middleware(BodyLimit, limit=MAX_BODY)

    install_problem_handlers(app)

    def judge(authorization: Annotated[str | None, Header()] = None) -> str:
        token = authorization[7:] if authorization and authorization.startswith("Bearer ") else None
        who = judge_by_token(chain.store.engine, token)
        if who is None:
            raise StarletteHTTPException(401, "a judge's API token is required (Authorization: Bearer …)")
        return who

    @app.post("/v1/verifications", status_code=202, tags=["verification"], summary="Verify a case's evidence in batch")
    def submit(body: BatchIn, who: Annotated[str, Depends(judge)]) -> JSONResponse:
        items = []
        for n, i in enumerate(body.items):
            try:
                content = base64.b64decode(i.content_b64, validate=True) if i.content_b64 is not None else None
            except (binascii.Error, ValueError):
                raise StarletteHTTPException(422, f"items.{n}.content_b64 is not base64") from None
            items.append(Evidence(i.code, i.digest, content, i.record, i.salt, i.path, i.line))
        job = board.submit(who, body.case_id, items)
        return JSONResponse({"job_id": job.id, "status": job.status, "total": job.total, "status_url": f"/v1/verifications/{job.id}"},
                            status_code=202)

    @app.post("/v1/verifications/bundle", status_code=202, tags=["verification"],
              summary="Verify a case bundle: a ZIP of evidence files with receipts.json or manifest.json (multipart upload)")
    async def submit_bundle(who: Annotated[str, Depends(judge)], case_id: Annotated[str, Form(min_length=1, max_length=128)],
                            bundle: UploadFile) -> JSONResponse:
        data = await bundle.read(MAX_BODY + 1)
        try:
            items = from_upload(bundle.filename or "upload", data)
        except InputError as exc:
            raise StarletteHTTPException(422, str(exc)) from None
        job = board.submit(who, case_id, items)
        return JSONResponse({"job_id": job.id, "status": job.status, "total": job.total, "status_url": f"/v1/verifications/{job.id}"},
                            status_code=202)

    @app.get("/v1/verifications/{job_id}", tags=["verification"], summary="Progress, then the verdicts")
    def status(job_id: Annotated[str, Path(max_length=64)], who: Annotated[str, Depends(judge)],
               offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=MAX_ITEMS)] = MAX_ITEMS) -> JSONResponse:
        return JSONResponse(board.get(job_id, who).view(offset, limit))

    @app.get("/v1/verifications/{job_id}/report.csv", tags=["verification"], response_class=PlainTextResponse, summary="Verdicts as CSV")
    def report_csv(job_id: Annotated[str, Path(max_length=64)], who: Annotated[str, Depends(judge)]) -> PlainTextResponse:
        return PlainTextResponse(csv_report(board.get(job_id, who)), media_type="text/csv; charset=utf-8")

    @app.get("/v1/verifications/{job_id}/report.html", tags=["verification"], response_class=HTMLResponse, summary="Printable report")
    def report_html(job_id: Annotated[str, Path(max_length=64)], who: Annotated[str, Depends(judge)]) -> HTMLResponse:
        return HTMLResponse(render_report(board.get(job_id, who), chain))

    from .web import add_web_routes

    add_web_routes(app, chain, board)

    @app.get("/v1/verifications/{job_id}/items/{position}/bundle", tags=["verification"], response_class=PlainTextResponse,
             summary="Offline proof bundle (C2SP tlog-proof) of one verified item")
    def bundle(job_id: Annotated[str, Path(max_length=64)], position: Annotated[int, Path(ge=0, le=MAX_ITEMS)],
               who: Annotated[str, Depends(judge)]) -> PlainTextResponse:
        job = board.get(job_id, who)
        if position >= len(job.results) or job.results[position]["verdict"] != "verified":
            raise StarletteHTTPException(404, "only a verified item has a proof bundle")
        index = job.results[position]["judicial_index"]
        return PlainTextResponse(board.verifier.bundles([index])[index], headers={"Content-Disposition": f'attachment; filename="item-{position}.tlog-proof"'})

    @app.get("/v1/chain", tags=["verification"], summary="The judicial chain's id and verifier key (for offline bundles)")
    def chain_info() -> dict[str, Any]:
        return {"chain_id": chain.config.chain_id, "vkey": chain.vkey}

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_operations(app, chain.store.engine, JudicialMetrics(chain))  # /metrics, /livez, /readyz, request ids
    return app
