"""The court portal's web pages: a judge signs in, uploads a case bundle or pastes codes, watches
progress, sorts the verdicts and downloads the report.

Sign-in: the form carries a CSRF token (double-submit cookie); failed sign-ins are throttled per
account and per client address; the one-time password must be changed before anything else
works. Every request re-reads the judge's account, so disabling a judge ends their session at
once. Cookies are HttpOnly, SameSite=Strict and Secure over HTTPS; sign-out is a POST.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from service_kit.problems import ServiceError

from .accounts import AccountError, PasswordExpired, account_state, change_password, judge_by_password
from .evidence_input import ArchiveError, InputError, from_pasted, from_upload
from .holders import UNAVAILABLE_NOTE, holder_line
from .jobs import HOLDERS_UNAVAILABLE, Job, JobBoard
from .limits import WindowBudget
from .report import LABELS, csv_report, render_report, templates
from .security import is_https, new_token, same_token

__all__ = ["add_web_routes", "Sessions", "SIGN_IN_FAILURES_PER_ACCOUNT", "SIGN_IN_FAILURES_PER_ADDRESS", "SIGN_IN_WINDOW"]

COOKIE = "fc_portal_session"
LOGIN_COOKIE = "fc_portal_login"  # the sign-in form's CSRF token (double submit)
SESSION_SECONDS = 8 * 3600
MAX_UPLOAD = 256 * 1024 * 1024
SIGN_IN_WINDOW = 15 * 60.0
SIGN_IN_FAILURES_PER_ACCOUNT = 5
SIGN_IN_FAILURES_PER_ADDRESS = 20
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"portal.css": "text/css", "job.js": "text/javascript"}


@dataclass
class Session:
    judge: str
    csrf: str
    expires: float


class Sessions:
    """Signed-in browsers, in memory (a portal restart signs judges out; their jobs stay)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, judge: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._by_id[sid] = Session(judge, new_token(), time.time() + SESSION_SECONDS)
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


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    """A verdict as the job page's script shows it: no bundle; the claim holder as its line of text (the script sets it as text)."""
    out = {k: v for k, v in item.items() if k != "bundle"}
    if "holder" in item:
        out["holder_text"] = holder_line(item["holder"])
    return out


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status, headers={"Cache-Control": "no-store"})


def add_web_routes(app: FastAPI, chain: Any, board: JobBoard, trust_forwarded_proto: bool = False) -> None:
    sessions = Sessions()
    per_account = WindowBudget(SIGN_IN_FAILURES_PER_ACCOUNT, SIGN_IN_WINDOW)
    per_address = WindowBudget(SIGN_IN_FAILURES_PER_ADDRESS, SIGN_IN_WINDOW)
    engine = chain.store.engine

    def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, httponly=True, samesite="strict", max_age=max_age,
                            secure=is_https(request, trust_forwarded_proto), path="/")

    def signed_in(request: Request, allow_password_change: bool = False) -> Session | Response:
        """The request's session, with its judge still enabled; else where the browser must go."""
        sid = request.cookies.get(COOKIE)
        session = sessions.get(sid)
        if session is None:
            return RedirectResponse("/web/login", status_code=303)
        state = account_state(engine, session.judge)
        if state is None:  # disabled since signing in: the session ends now
            sessions.drop(sid)
            response = RedirectResponse("/web/login", status_code=303)
            response.delete_cookie(COOKIE, path="/")
            return response
        if state.must_change_password and not allow_password_change:
            return RedirectResponse("/web/password", status_code=303)
        return session

    def login_form(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
        token = new_token()
        response = _page("login.html", status, csrf=token, error=error)
        set_cookie(request, response, LOGIN_COOKIE, token, 3600)
        return response

    def start_session(request: Request, judge: str, to: str) -> Response:
        response = RedirectResponse(to, status_code=303)
        set_cookie(request, response, COOKIE, sessions.create(judge), SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/", status_code=303)

    @app.get("/web/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC_FILES:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    @app.get("/web/login", include_in_schema=False)
    def login_page(request: Request) -> HTMLResponse:
        return login_form(request)

    @app.post("/web/login", include_in_schema=False)
    def login(request: Request, judge_id: str = Form(max_length=64), password: str = Form(max_length=256),
              csrf: str = Form(default="", max_length=128)) -> Response:
        if not same_token(csrf, request.cookies.get(LOGIN_COOKIE)):
            return login_form(request, 403, "表单已过期，请重试 · The form expired; try again")
        address = "addr:" + (request.client.host if request.client else "?")
        account = "acct:" + judge_id.strip().lower()
        if per_account.left(account) == 0 or per_address.left(address) == 0:
            minutes = int(SIGN_IN_WINDOW // 60)
            return login_form(request, 429, f"登录失败次数过多，请 {minutes} 分钟后再试 · "
                                            f"Too many failed sign-ins; try again in {minutes} minutes")
        try:
            signed = judge_by_password(engine, judge_id, password)
        except PasswordExpired:
            return login_form(request, 403, "一次性密码已过期，请联系管理员重新签发 · "
                                            "The one-time password has expired; ask the administrator for a new one")
        if signed is None:
            per_account.charge(account)
            per_address.charge(address)
            return login_form(request, 401, "编号或密码错误 · Wrong judge ID or password")
        per_account.clear(account)
        return start_session(request, signed.judge_id, "/web/password" if signed.must_change_password else "/web/")

    @app.get("/web/password", include_in_schema=False)
    def password_page(request: Request) -> Response:
        session = signed_in(request, allow_password_change=True)
        if not isinstance(session, Session):
            return session
        return _page("password.html", judge=session.judge, csrf=session.csrf)

    @app.post("/web/password", include_in_schema=False)
    def password_change(request: Request, csrf: str = Form(max_length=128), current: str = Form(max_length=256),
                        new: str = Form(max_length=256), confirm: str = Form(max_length=256)) -> Response:
        session = signed_in(request, allow_password_change=True)
        if not isinstance(session, Session):
            return session
        again = {"judge": session.judge, "csrf": session.csrf}
        if not same_token(csrf, session.csrf):
            return _page("password.html", 403, error="表单已过期，请重试 · The form expired; try again", **again)
        if new != confirm:
            return _page("password.html", 422, error="两次输入的新密码不一致 · The new passwords differ", **again)
        try:
            change_password(engine, session.judge, current, new)
        except AccountError as exc:
            return _page("password.html", 422, error=str(exc), **again)
        sessions.drop(request.cookies.get(COOKIE))
        return start_session(request, session.judge, "/web/")  # a fresh session id after the change

    @app.post("/web/logout", include_in_schema=False)
    def logout(request: Request, csrf: str = Form(default="", max_length=128)) -> Response:
        session = sessions.get(request.cookies.get(COOKIE))
        if session is not None and not same_token(csrf, session.csrf):
            return PlainTextResponse("the sign-out form expired; reload the page", status_code=403)
        sessions.drop(request.cookies.get(COOKIE))
        response = RedirectResponse("/web/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/web/", include_in_schema=False)
    def upload_page(request: Request) -> Response:
        session = signed_in(request)
        if not isinstance(session, Session):
            return session
        return _page("upload.html", judge=session.judge, csrf=session.csrf)

    @app.post("/web/verify", include_in_schema=False)
    async def verify(request: Request, csrf: str = Form(max_length=128), case_id: str = Form(max_length=128),
                     pasted: str = Form(default="", max_length=10_000_000), bundle: UploadFile | None = None) -> Response:
        session = await run_in_threadpool(signed_in, request)
        if not isinstance(session, Session):
            return session
        again = {"judge": session.judge, "csrf": session.csrf}
        if not same_token(csrf, session.csrf):
            return _page("upload.html", 403, error="表单已过期，请重试 · The form expired; try again", **again)
        try:
            items = []
            if bundle is not None and bundle.filename:
                data = await bundle.read(MAX_UPLOAD + 1)
                if len(data) > MAX_UPLOAD:
                    raise InputError("the upload is larger than 256 MiB")
                items += await run_in_threadpool(from_upload, bundle.filename, data)
            items += from_pasted(pasted)
            if not items:
                raise InputError("上传证据包或粘贴编码 · upload a bundle or paste codes")
            job = await run_in_threadpool(board.submit, session.judge, case_id.strip() or "unspecified", items)
        except ArchiveError as exc:
            return _page("upload.html", 400, error=str(exc), **again)
        except (InputError, ValueError) as exc:
            return _page("upload.html", 422, error=str(exc), **again)
        except ServiceError as exc:  # e.g. the failed-look-up budget (429)
            return _page("upload.html", exc.status, error=exc.detail, **again)
        return RedirectResponse(f"/web/jobs/{job.id}", status_code=303)

    def _job(request: Request, job_id: str, results: bool = True) -> Job | Response:
        session = signed_in(request)
        if not isinstance(session, Session):
            return session
        return board.get(job_id, session.judge, results)

    @app.get("/web/jobs/{job_id}", include_in_schema=False)
    def job_page(request: Request, job_id: str) -> Response:
        job = _job(request, job_id, results=False)
        return job if not isinstance(job, Job) else _page("job.html", job=job, labels=LABELS, holders_unavailable=UNAVAILABLE_NOTE)

    @app.get("/web/jobs/{job_id}/status", include_in_schema=False)
    def job_status(request: Request, job_id: str) -> Response:
        job = _job(request, job_id, results=False)  # a progress poll reads no verdicts …
        if isinstance(job, Job) and job.status == "done":
            job = _job(request, job_id)  # … until there are all of them to show
        if not isinstance(job, Job):
            return JSONResponse({"error": "sign in"}, status_code=401)
        view = job.view(0, len(job.results))
        if "items" in view:
            view["items"] = [_shown(i) for i in view["items"]]
        return JSONResponse(view)

    @app.get("/web/jobs/{job_id}/report.html", include_in_schema=False)
    def report_html(request: Request, job_id: str) -> Response:
        job = _job(request, job_id)
        return job if not isinstance(job, Job) else HTMLResponse(render_report(job, chain))

    @app.get("/web/jobs/{job_id}/report.json", include_in_schema=False)
    def report_json(request: Request, job_id: str) -> Response:
        job = _job(request, job_id)
        if not isinstance(job, Job):
            return job
        bundles = board.verifier.bundles([r["judicial_index"] for r in job.results if r["verdict"] == "verified"])
        items = [dict(r, bundle=bundles[r["judicial_index"]]) if r["verdict"] == "verified" else r for r in job.results]
        noted = {HOLDERS_UNAVAILABLE: True} if job.tally.get(HOLDERS_UNAVAILABLE) else {}
        body = json.dumps({"case_id": job.case_id, "counts": job.counts(), **noted, "items": items}, ensure_ascii=False, indent=2)
        return Response(body, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="verification-{job.id}.json"'})

    @app.get("/web/jobs/{job_id}/report.csv", include_in_schema=False)
    def report_csv(request: Request, job_id: str) -> Response:
        job = _job(request, job_id)
        if not isinstance(job, Job):
            return job
        return PlainTextResponse(csv_report(job), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="verification-{job.id}.csv"'})
