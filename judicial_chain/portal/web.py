"""The judges' web pages (server-rendered, no external CDN): sign in, upload or paste, watch
progress, read the sortable table, download the report.

Sessions are random ids kept server-side (cookie HttpOnly, SameSite=Strict); every form
that changes something carries the session's CSRF token, compared in constant time.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from .accounts import judge_by_password
from .evidence_input import InputError, from_pasted, from_upload
from .report import LABELS, render_report, templates

COOKIE = "fc_portal_session"
SESSION_SECONDS = 8 * 3600
MAX_UPLOAD = 256 * 1024 * 1024


@dataclass
class Session:
    judge: str
    csrf: str
    expires: float


class Sessions:
    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, judge: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._by_id[sid] = Session(judge, secrets.token_urlsafe(32), time.time() + SESSION_SECONDS)
        return sid

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._by_id.get(sid)
            if session and session.expires < time.time():
                del self._by_id[sid]
                return None
            return session

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status)


def add_web_routes(app: FastAPI, chain: Any, board: Any) -> None:
    sessions = Sessions()

    def current(request: Request) -> Session | None:
        return sessions.get(request.cookies.get(COOKIE))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/", status_code=303)

    @app.get("/web/login", include_in_schema=False)
    def login_page() -> HTMLResponse:
        return _page("login.html")

    @app.post("/web/login", include_in_schema=False)
    def login(judge_id: str = Form(max_length=64), password: str = Form(max_length=256)) -> Response:
        who = judge_by_password(chain.store.engine, judge_id, password)
        if who is None:
            return _page("login.html", 401, error="编号或密码错误 · Wrong judge ID or password")
        response = RedirectResponse("/web/", status_code=303)
        response.set_cookie(COOKIE, sessions.create(who), httponly=True, samesite="strict", max_age=SESSION_SECONDS)
        return response

    @app.get("/web/logout", include_in_schema=False)
    def logout(request: Request) -> RedirectResponse:
        sessions.drop(request.cookies.get(COOKIE))
        response = RedirectResponse("/web/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/web/", include_in_schema=False)
    def upload_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return RedirectResponse("/web/login", status_code=303)
        return _page("upload.html", judge=session.judge, csrf=session.csrf)

    @app.post("/web/verify", include_in_schema=False)
    async def verify(request: Request, csrf: str = Form(max_length=128), case_id: str = Form(max_length=128),
                     pasted: str = Form(default="", max_length=10_000_000), bundle: UploadFile | None = None) -> Response:
        session = current(request)
        if session is None:
            return RedirectResponse("/web/login", status_code=303)
        if not hmac.compare_digest(csrf.encode(), session.csrf.encode()):
            return _page("upload.html", 403, judge=session.judge, csrf=session.csrf, error="表单已过期，请重试 · The form expired; try again")
        try:
            items = []
            if bundle is not None and bundle.filename:
                data = await bundle.read(MAX_UPLOAD + 1)
                if len(data) > MAX_UPLOAD:
                    raise InputError("the upload is larger than 256 MiB")
                items += from_upload(bundle.filename, data)
            items += from_pasted(pasted)
            if not items:
                raise InputError("上传证据包或粘贴编码 · upload a bundle or paste codes")
            job = board.submit(session.judge, case_id.strip() or "unspecified", items)
        except (InputError, ValueError) as exc:
            return _page("upload.html", 422, judge=session.judge, csrf=session.csrf, error=str(exc))
        except Exception as exc:  # e.g. the failed-look-up budget (429)
            detail = getattr(exc, "detail", None) or str(exc)
            return _page("upload.html", getattr(exc, "status_code", 400), judge=session.judge, csrf=session.csrf, error=detail)
        return RedirectResponse(f"/web/jobs/{job.id}", status_code=303)

    def _job(request: Request, job_id: str) -> Any:
        session = current(request)
        if session is None:
            return None
        return board.get(job_id, session.judge)

    @app.get("/web/jobs/{job_id}", include_in_schema=False)
    def job_page(request: Request, job_id: str) -> Response:
        job = _job(request, job_id)
        if job is None:
            return RedirectResponse("/web/login", status_code=303)
        return _page("job.html", job=job, labels=LABELS)

    @app.get("/web/jobs/{job_id}/status", include_in_schema=False)
    def job_status(request: Request, job_id: str) -> Response:
        job = _job(request, job_id)
        if job is None:
            return JSONResponse({"error": "sign in"}, status_code=401)
        view = job.view(0, len(job.results))
        if "items" in view:
            view["items"] = [{k: v for k, v in i.items() if k != "bundle"} for i in view["items"]]
        return JSONResponse(view)

    @app.get("/web/jobs/{job_id}/report.html", include_in_schema=False)
    def report_html(request: Request, job_id: str) -> Response:
        job = _job(request, job_id)
        return RedirectResponse("/web/login", status_code=303) if job is None else HTMLResponse(render_report(job, chain))

    @app.get("/web/jobs/{job_id}/report.json", include_in_schema=False)
    def report_json(request: Request, job_id: str) -> Response:
        job = _job(request, job_id)
        if job is None:
            return RedirectResponse("/web/login", status_code=303)
        bundles = board.verifier.bundles([r["judicial_index"] for r in job.results if r["verdict"] == "verified"])
        items = [dict(r, bundle=bundles[r["judicial_index"]]) if r["verdict"] == "verified" else r for r in job.results]
        body = json.dumps({"case_id": job.case_id, "counts": job.counts(), "items": items}, ensure_ascii=False, indent=2)
        return Response(body, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="verification-{job.id}.json"'})

    @app.get("/web/jobs/{job_id}/report.csv", include_in_schema=False)
    def report_csv(request: Request, job_id: str) -> Response:
        job = _job(request, job_id)
        if job is None:
            return RedirectResponse("/web/login", status_code=303)
        from .api import csv_report

        return PlainTextResponse(csv_report(job), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="verification-{job.id}.csv"'})
