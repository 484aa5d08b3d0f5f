"""The credit chain's pages (server-rendered, under /credit): the bureau's desk (征信服务窗口), where the operator
looks a borrower up, prints the borrower's own report (个人/企业信用报告) and files the borrower's disputes, and the
regulator's view of evaluations against loans, multi-head shares, every dispute and the chain's status.

The desk is the bureau, which holds the OPRF key, so an identifier typed there becomes its pseudonym here: it is
posted (never in a URL), checked, evaluated and forgotten — never stored, logged or shown again. Sign-in takes the
operator's or the regulator's token (one answer for a wrong one). Sessions are stateless: ``role.expiry.mac`` with
the MAC (HMAC-SHA256 under a key derived from both tokens, so changing either ends every session) over the role
and the expiry; the cookie is HttpOnly, SameSite=Strict, Path=/credit, and Secure when served over HTTPS. Every
form carries a CSRF token derived from the session. Pages run no script and load nothing from elsewhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from evidence import oprf
from evidence.borrower_ids import BorrowerIdError, oprf_input, parse_borrower_id, pseudonym
from evidence.deposit_codes import format_code
from evidence.loan_reports import BORROWER_KINDS
from service_kit.data_files import secret_token
from service_kit.five_views import nav_html
from service_kit.page_security import PAGES_CSP, SecurityHeaders, is_https, same_token
from service_kit.problems import ServiceError, Unauthorized

from .borrower_report import report_json, verify_report
from .config import CHINA_OFFSET_MS, OPERATOR_TOKEN_FILE, TOKEN_FILE

if TYPE_CHECKING:
    from .service import CreditChain

__all__ = ["add_pages", "PageSessions", "COOKIE", "PATH", "HIGH_EVALUATIONS_PER_LOAN", "checkpoint_size", "yuan"]

PATH = "/credit"
COOKIE = "fc_credit_session"
LIFETIME_MS = {"operator": 2 * 3_600_000, "regulator": 8 * 3_600_000}  # the desk handles personal records: shorter
KEY_LABEL = b"fivechains.credit-pages-session/v1"
PAGE_HEADERS = {"Cache-Control": "no-store"}
HIGH_EVALUATIONS_PER_LOAN = 20  # a lender evaluating this many identifiers per loan it reports is shown in red
KEPT_REPORTS = 16  # recently issued reports kept, so the JSON download is the very report on the page
MAX_IDENTIFIER = 256
_PSEUDONYM = re.compile(r"[0-9a-f]{64}")
_DISPUTE_ID = re.compile(r"D-[0-9A-F]{12}")

ROLE_NAMES = {"operator": "征信服务窗口 · Bureau desk", "regulator": "监管视图 · Regulator"}
STATUS_NAMES = {"current": "正常 · current", "closed": "已结清 · closed"}
STATE_NAMES = {"open": "处理中 · open", "late": "逾期未答复 · late (deadline missed)", "answered": "已答复 · answered"}
OUTCOME_NAMES = {"corrected": "已更正 · corrected", "upheld": "维持原记录 · upheld"}
TARGET_NAMES = {"loan": "贷款 · loan", "query": "查询 · query"}
KIND_NAMES = {"person": "个人 · person (公民身份号码 resident ID number)", "enterprise": "企业 · enterprise (统一社会信用代码 USCC)"}


# --- sessions ------------------------------------------------------------------------------------

class PageSessions:
    """Stateless sessions of the operator and the regulator, and their CSRF tokens."""

    def __init__(self, operator_token: str, regulator_token: str) -> None:
        material = b"\x00".join((KEY_LABEL, operator_token.encode(), regulator_token.encode()))
        self._key = hashlib.sha256(material).digest()

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

    def issue(self, role: str, now_ms: int) -> str:
        expiry = str(now_ms + LIFETIME_MS[role])
        return f"{role}.{expiry}.{self._mac('session', role, expiry)}"

    def role(self, cookie: str | None, now_ms: int) -> str | None:
        """The role a genuine, unexpired session cookie names, else None."""
        parts = (cookie or "").split(".")
        if len(parts) != 3 or parts[0] not in LIFETIME_MS or not (parts[1].isascii() and parts[1].isdigit()) or len(parts[1]) > 16:
            return None
        role, expiry, mac = parts
        if not hmac.compare_digest(mac.encode(), self._mac("session", role, expiry).encode()) or int(expiry) <= now_ms:
            return None
        return role

    def csrf(self, cookie: str) -> str:
        return self._mac("csrf", cookie)


# --- what the pages write ---------------------------------------------------------------------------

def yuan(fen: int | None) -> str:
    """An amount in fen as ¥1,234.56 (exact: integer arithmetic)."""
    if fen is None:
        return "—"
    sign, fen = ("-", -fen) if fen < 0 else ("", fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def status_name(status: str) -> str:
    return STATUS_NAMES.get(status) or f"逾期 {status} · overdue {status}"


def checkpoint_size(text: str) -> int | None:
    """The tree size a checkpoint's text states (its second line)."""
    lines = text.split("\n")
    return int(lines[1]) if len(lines) > 1 and lines[1].isascii() and lines[1].isdigit() and len(lines[1]) < 20 else None


def borrower_pseudonym(chain: CreditChain, text: str, kind: str | None) -> str:
    """The pseudonym as typed (64 hex), or the bureau's own OPRF of a checked identifier (raises BorrowerIdError)."""
    value = text.strip()
    if kind is None and _PSEUDONYM.fullmatch(value.lower()):
        return value.lower()
    bid = parse_borrower_id(value, kind)
    return pseudonym(oprf.evaluate(chain.oprf_key, oprf_input(bid), oprf.MODE_VOPRF))


def _target_value(target: str, lender_id: str, ref: str) -> str:
    return json.dumps([target, lender_id, ref], ensure_ascii=False)


def _parse_target(value: str) -> tuple[str, str, str] | None:
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    if not (isinstance(parsed, list) and len(parsed) == 3 and all(isinstance(p, str) and 0 < len(p) <= 64 for p in parsed)):
        return None
    return parsed[0], parsed[1], parsed[2]


def _report_context(report: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """What report.html shows beside the report itself: the verification, the size, the dispute choices."""
    loans = [{**loan, "choice": _target_value("loan", loan["lender_id"], loan["loan_id"])} for loan in report["loans"]]
    queries = [{**q, "choice": _target_value("query", q["lender_id"], str(q["index"]))} for q in report["queries"]]
    disputes = [{**d, "lender_name": names.get(d["lender_id"], d["lender_id"])} for d in report["disputes"]]
    enterprise = report["enterprise_summary"] is not None
    return {"r": report, "loans": loans, "queries": queries, "disputes": disputes, "problems": verify_report(report),
            "size": checkpoint_size(report["checkpoint"]), "enterprise": enterprise,
            "title": "企业信用报告 · Enterprise credit report" if enterprise else "个人信用报告 · Personal credit report"}


def _environment() -> Environment:
    zone = dt.timezone(dt.timedelta(milliseconds=CHINA_OFFSET_MS))
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))

    def when(ms: int | None) -> str:
        return "—" if ms is None else dt.datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S")

    env.filters.update(when=when, yuan=yuan, status_name=status_name, state_name=lambda s: STATE_NAMES.get(s, s),
                       outcome_name=lambda o: OUTCOME_NAMES.get(o, o or "—"), target_name=lambda t: TARGET_NAMES.get(t, t),
                       code=lambda c: format_code(c) if c else "—", share=lambda v: f"{100 * v:.1f}%")
    env.globals.update(role_names=ROLE_NAMES, kind_names=KIND_NAMES, high_per_loan=HIGH_EVALUATIONS_PER_LOAN)
    return env


# --- the pages ------------------------------------------------------------------------------------

def add_pages(app: FastAPI, chain: CreditChain, *, trust_forwarded_proto: bool = False) -> None:
    """Add the desk's and the regulator's pages under /credit (and the pages' security headers — no script, nothing
    from elsewhere, no framing — to every answer). ``trust_forwarded_proto``: behind a TLS proxy setting X-Forwarded-Proto."""
    app.add_middleware(SecurityHeaders, policy=PAGES_CSP)
    sessions = PageSessions(secret_token(chain.config.data_dir, OPERATOR_TOKEN_FILE), secret_token(chain.config.data_dir, TOKEN_FILE))
    env = _environment()
    kept: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
    kept_lock = threading.Lock()

    def now_ms() -> int:
        return int(time.time() * 1000)

    def page(template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(chain_id=chain.config.chain_id, bureau=chain.config.bureau_name,
                                                              five_views=nav_html(app, "credit"), **context),
                            status_code=status, headers=PAGE_HEADERS)

    def message(status: int, title: str, detail: str, /, *, home: str | None = PATH + "/", **context: Any) -> HTMLResponse:
        return page("message.html", status, title=title, detail=detail, home=home, **context)

    def session(request: Request) -> tuple[str, str] | None:
        """The signed-in cookie and its role."""
        cookie = request.cookies.get(COOKIE)
        role = sessions.role(cookie, now_ms())
        return (cookie, role) if cookie and role else None

    def to_sign_in() -> RedirectResponse:
        return RedirectResponse(PATH + "/", status_code=303)

    def not_operator(cookie: str, role: str) -> HTMLResponse:
        return message(403, "仅限征信服务窗口 · The bureau desk only",
                       "借款人的信用报告和异议只由征信机构操作员处理 · Only the bureau's operator sees borrowers' reports and files disputes.",
                       who=role, csrf=sessions.csrf(cookie))

    def report_url(borrower: str, **extra: str) -> str:
        return f"{PATH}/report?{urlencode({'borrower': borrower, **extra})}"

    def issue(borrower: str) -> dict[str, Any]:
        report = chain.borrower_report(borrower)
        with kept_lock:
            kept[(borrower, report["report_entry"]["index"])] = report
            while len(kept) > KEPT_REPORTS:
                kept.popitem(last=False)
        return report

    def operator_form(request: Request, csrf: str) -> tuple[str, Response | None]:
        """The operator's cookie, or the page that refuses the form."""
        signed = session(request)
        if signed is None:
            return "", to_sign_in()
        cookie, role = signed
        if role != "operator":
            return cookie, not_operator(cookie, role)
        if not same_token(csrf, sessions.csrf(cookie)):
            return cookie, message(403, "表单已过期 · The form expired", "请从页面重新提交 · Send it again from the page.", who=role,
                                   csrf=sessions.csrf(cookie))
        return cookie, None

    # --- signing in and out ----------------------------------------------------------------------

    @app.get(PATH, include_in_schema=False)
    def credit_root() -> RedirectResponse:
        return to_sign_in()

    @app.get(PATH + "/", include_in_schema=False)
    def home(request: Request) -> Response:
        signed = session(request)
        if signed is None:
            return page("login.html")
        cookie, role = signed
        if role == "operator":
            return page("desk.html", who=role, csrf=sessions.csrf(cookie), kinds=BORROWER_KINDS, generated_ms=now_ms())
        return regulator_view(cookie)

    @app.post(PATH + "/login", include_in_schema=False)
    def login(request: Request, token: Annotated[str, Form(max_length=512)] = "") -> Response:
        given = token.strip() or None
        role = None
        for name, check in (("operator", chain.check_operator), ("regulator", chain.check_regulator)):
            try:
                check(given)
                role = name
            except Unauthorized:
                pass
        if role is None:
            return page("login.html", 401, error="令牌错误 · The token is wrong")
        response = RedirectResponse(PATH + "/", status_code=303)
        response.set_cookie(COOKIE, sessions.issue(role, now_ms()), max_age=LIFETIME_MS[role] // 1000, path=PATH, httponly=True,
                            samesite="strict", secure=is_https(request, trust_forwarded_proto))
        return response

    @app.post(PATH + "/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        signed = session(request)
        if signed is None:
            return to_sign_in()
        if not same_token(csrf, sessions.csrf(signed[0])):
            return message(403, "表单已过期 · The form expired", "请从页面重新退出 · Sign out from a page again.", who=signed[1],
                           csrf=sessions.csrf(signed[0]))
        response = to_sign_in()
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
        return response

    # --- the bureau's desk -------------------------------------------------------------------------

    @app.post(PATH + "/lookup", include_in_schema=False)
    def lookup(request: Request, borrower: Annotated[str, Form()] = "", kind: Annotated[str, Form(max_length=16)] = "",
               csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        cookie, refused = operator_form(request, csrf)
        if refused is not None:
            return refused
        try:
            if len(borrower) > MAX_IDENTIFIER:
                raise BorrowerIdError("an identifier is 18 characters and a pseudonym 64")
            if kind and kind not in BORROWER_KINDS:
                raise BorrowerIdError(f"the kind must be one of {', '.join(BORROWER_KINDS)}")
            found = borrower_pseudonym(chain, borrower, kind or None)
        except BorrowerIdError as exc:  # its message never repeats the identifier
            return page("desk.html", 400, who="operator", csrf=sessions.csrf(cookie), kinds=BORROWER_KINDS, generated_ms=now_ms(),
                        error=f"证件号码或假名有误 · Not a valid identifier or pseudonym: {exc}")
        return RedirectResponse(report_url(found), status_code=303)

    @app.get(PATH + "/report", include_in_schema=False)
    def report_page(request: Request, borrower: str = "", filed: str = "") -> Response:
        signed = session(request)
        if signed is None:
            return to_sign_in()
        cookie, role = signed
        if role != "operator":
            return not_operator(cookie, role)
        csrf = sessions.csrf(cookie)
        if not _PSEUDONYM.fullmatch(borrower):
            return message(400, "假名有误 · Not a pseudonym", "假名是 64 位小写十六进制 · A pseudonym is 64 lowercase hex characters.",
                           who=role, csrf=csrf)
        try:
            report = issue(borrower)
        except ServiceError as exc:
            return message(exc.status if 400 <= exc.status < 600 else 500, "无法出具报告 · No report", exc.detail, who=role, csrf=csrf)
        context = _report_context(report, chain.lender_names())
        just_filed = next((d for d in report["disputes"] if d["id"] == filed), None) if _DISPUTE_ID.fullmatch(filed) else None
        return page("report.html", who=role, csrf=csrf, just_filed=just_filed, targets=TARGET_NAMES, answer_days=chain.rules.answer_days,
                    download=f"{PATH}/report.json?{urlencode({'borrower': borrower, 'entry': report['report_entry']['index']})}", **context)

    @app.get(PATH + "/report.json", include_in_schema=False)
    def report_download(request: Request, borrower: str = "", entry: str = "") -> Response:
        signed = session(request)
        if signed is None:
            return to_sign_in()
        cookie, role = signed
        if role != "operator":
            return not_operator(cookie, role)
        if not _PSEUDONYM.fullmatch(borrower):
            return message(400, "假名有误 · Not a pseudonym", "假名是 64 位小写十六进制 · A pseudonym is 64 lowercase hex characters.",
                           who=role, csrf=sessions.csrf(cookie))
        with kept_lock:
            report = kept.get((borrower, int(entry))) if entry.isascii() and entry.isdigit() and len(entry) < 20 else None
        if report is None:  # not issued by this process lately: a new report, as complete as the page's would be
            try:
                report = issue(borrower)
            except ServiceError as exc:
                return message(exc.status if 400 <= exc.status < 600 else 500, "无法出具报告 · No report", exc.detail, who=role,
                               csrf=sessions.csrf(cookie))
        name = f"credit-report-{borrower[:12]}-{report['report_entry']['index']}.json"
        return Response(report_json(report).encode() + b"\n", media_type="application/json",
                        headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})

    @app.post(PATH + "/disputes", include_in_schema=False)
    def file_dispute(request: Request, borrower: Annotated[str, Form(max_length=64)] = "", target: Annotated[str, Form(max_length=512)] = "",
                     reason: Annotated[str, Form()] = "", csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        cookie, refused = operator_form(request, csrf)
        if refused is not None:
            return refused
        back = report_url(borrower) if _PSEUDONYM.fullmatch(borrower) else PATH + "/"
        chosen = _parse_target(target)
        if chosen is None or not _PSEUDONYM.fullmatch(borrower):
            return message(400, "异议未登记 · The dispute was not filed", "请选择一笔贷款或一次查询 · Choose one loan or one query.",
                           home=back, who="operator", csrf=sessions.csrf(cookie))
        kind, lender_id, ref = chosen
        try:
            opened = chain.open_dispute(borrower, kind, lender_id, ref, reason)
        except ServiceError as exc:
            return message(exc.status if 400 <= exc.status < 500 else 500, "异议未登记 · The dispute was not filed", exc.detail, home=back,
                           who="operator", csrf=sessions.csrf(cookie))
        return RedirectResponse(report_url(borrower, filed=opened["id"]) + "#disputes", status_code=303)

    # --- the regulator ---------------------------------------------------------------------------

    def regulator_view(cookie: str) -> HTMLResponse:
        names = chain.lender_names()
        figures = [{**f, "high": f["evaluations"] > HIGH_EVALUATIONS_PER_LOAN * max(f["loans_reported"], 1)}
                   for f in chain.evaluation_figures()]
        shares = [{**s, "name": names.get(s["lender_id"], s["lender_id"])} for s in chain.multihead_shares()]
        disputes = [{**d, "lender_name": names.get(d["lender_id"], d["lender_id"])} for d in chain.disputes()]
        counts = {state: sum(1 for d in disputes if d["state"] == state) for state in STATE_NAMES}
        return page("regulator.html", who="regulator", csrf=sessions.csrf(cookie), figures=figures, shares=shares, disputes=disputes,
                    counts=counts, status=chain.status(), rules=chain.rules, generated_ms=now_ms())
