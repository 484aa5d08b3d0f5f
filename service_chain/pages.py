"""The service chain's pages (server-rendered, under /service): the regulator's view (监管视图) of pools, their
exceptions and printable authenticity certificates (资产池真实性证明), and of every pledge and transfer; the
platform's desk (服务平台窗口), where the operator registers funders and buyers and disables or enables them; and a
public page where anyone checks a pool certificate (and one loan's proof) against the service chain's key.

Sign-in takes the operator's or the regulator's token (one answer for a wrong one). Sessions are stateless:
``role.expiry.mac`` with the MAC (HMAC-SHA256 under a key derived from both tokens, so changing either ends every
session) over the role and the expiry; the cookie is HttpOnly, SameSite=Strict, Path=/service, and Secure when
served over HTTPS. Every form that changes something carries a CSRF token derived from the session. Pages run no
script and load nothing from elsewhere; the verify page reads at most ``MAX_VERIFY_BYTES`` and answers garbage
with a verdict, never an error page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, quote

import msgspec
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from chain.encoding import b64decode_strict, b64encode
from chain.errors import ChainError
from chain.keys import public_key_from_bytes
from evidence.deposit_codes import format_code
from service_kit.data_files import secret_token
from service_kit.five_views import nav_html
from service_kit.page_security import PAGES_CSP, SecurityHeaders, is_https, same_token
from service_kit.problems import ServiceError, Unauthorized

from .certificate import Certificate, CertificateError, verify_certificate
from .config import OPERATOR_TOKEN_FILE, TOKEN_FILE
from .service import Viewer
from .tables import PoolLoan

if TYPE_CHECKING:
    from .service import ServiceChain

__all__ = ["add_pages", "PageSessions", "COOKIE", "PATH", "EXCEPTION_NAMES", "MAX_VERIFY_BYTES", "FIRST_EXCEPTIONS", "yuan",
           "exception_counts"]

log = logging.getLogger(__name__)

PATH = "/service"
COOKIE = "fc_service_session"
LIFETIME_MS = {"operator": 2 * 3_600_000, "regulator": 8 * 3_600_000}
KEY_LABEL = b"fivechains.service-pages-session/v1"
PAGE_HEADERS = {"Cache-Control": "no-store"}
CHINA = dt.timezone(dt.timedelta(hours=8))
MAX_VERIFY_BYTES = 1024 * 1024  # what the verify page reads of a request
MAX_CERTIFICATE_CHARS = 64 * 1024
MAX_VKEY_CHARS = 1024
FIRST_EXCEPTIONS = 200  # how many exception loans a pool page lists
KEPT_COUNTS = 64  # certified pools' exception counts kept (a certified pool no longer changes)
_POOL_ID = re.compile(r"P[0-9A-F]{20}")
_PARTY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
POOL_LOANS = PoolLoan.__table__  # type: ignore[attr-defined]

ROLE_NAMES = {"operator": "服务平台窗口 · Platform desk", "regulator": "监管视图 · Regulator"}
PURPOSE_NAMES = {"financing": "融资 · financing", "transfer": "转让 · transfer"}
POOL_STATE_NAMES = {"open": "未认证 · open", "certified": "已认证 · certified"}
KIND_NAMES = {"pledge": "质押 · pledge", "transfer": "转让 · transfer"}
REGISTRATION_STATE_NAMES = {"proposed": "待签署 · proposed", "registered": "已登记 · registered", "released": "已解除 · released"}
PARTY_KIND_NAMES = {"funder": "资金方 · funder", "buyer": "受让方 · buyer"}
EXCEPTION_NAMES = {
    "unknown-record": "记录与存证不符 · record matches no deposit",
    "wrong-code": "存证编码不符 · wrong deposit code",
    "not-anchored": "尚未锚定 · not anchored yet",
    "missing-records": "记录缺失 · records missing",
    "duplicate-record": "记录重复 · record given twice",
    "no-contract": "无合同 · no contract",
    "no-disbursement": "无放款 · no disbursement",
    "back-filled": "补录（非实时）· back-filled (not real time)",
    "lifecycle": "生命周期不符 · lifecycle does not add up",
    "claim-mismatch": "余额与申报不符 · outstanding differs from the claim",
    "overdue": "逾期 · overdue",
    "rate-cap": "利率超限 · above the rate cap",
    "paid-off": "已结清 · paid off",
    "pledged": "已质押 · already pledged",
    "transferred": "已转让 · already transferred",
}


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


def when(ms: int | None) -> str:
    return "—" if ms is None else dt.datetime.fromtimestamp(ms / 1000, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def exception_counts(chain: ServiceChain, pool_id: str) -> dict[str, int]:
    """How many of the pool's loans carry each exception code, over every ineligible loan (read in pages)."""
    counts: dict[str, int] = {}
    query = select(POOL_LOANS.c.leaf).where(POOL_LOANS.c.pool_id == pool_id, POOL_LOANS.c.eligible.is_(False))
    with chain.store.read_engine.connect() as conn:
        for (leaf,) in conn.execution_options(yield_per=5000).execute(query):
            for code in set(msgspec.json.decode(leaf).get("exceptions", [])):
                counts[code] = counts.get(code, 0) + 1
    return counts


def _loan_codes(codes: list[str]) -> list[tuple[str, int]]:
    """A loan's exception codes, each once with how often it was raised (one per record, say), in the order first raised."""
    seen: dict[str, int] = {}
    for code in codes:
        seen[code] = seen.get(code, 0) + 1
    return list(seen.items())


def _code_rows(counts: dict[str, int]) -> list[dict[str, Any]]:
    """Exception counts in the order of EXCEPTION_NAMES (codes this page does not know last)."""
    order = {code: n for n, code in enumerate(EXCEPTION_NAMES)}
    return [{"code": c, "count": n} for c, n in sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))]


def _terms(text: Any) -> dict[str, Any]:
    try:
        terms = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return terms if isinstance(terms, dict) else {}


def _certificate_fields(c: Certificate) -> dict[str, Any]:
    return {"chain": c.chain, "pool": c.pool, "lender": c.lender, "purpose": c.purpose, "offered_to": c.offered_to, "loans": c.loans,
            "eligible": c.eligible, "outstanding": c.outstanding, "hash": c.hash, "root": b64encode(c.root), "rules": c.rules,
            "time_ms": c.time_ms}


def _normalized_note(text: str) -> str:
    """A pasted note as signed: LF line ends (a browser sends a textarea's as CRLF), ending in one newline."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip(" \t\n") + "\n"


def verify_pasted(certificate: str, vkey: str, proof: str) -> dict[str, Any]:
    """The verify page's verdict on what was pasted: valid with the certificate's fields (and the loan's leaf), or invalid
    with the reason. Never raises."""
    certificate, vkey, proof = _normalized_note(certificate), vkey.strip(), proof.strip()
    if not certificate.strip():
        return {"valid": False, "reason": "请粘贴证书 · Paste a certificate"}
    if len(certificate) > MAX_CERTIFICATE_CHARS or len(vkey) > MAX_VKEY_CHARS:
        return {"valid": False, "reason": f"证书或公钥过长 · The certificate may be at most {MAX_CERTIFICATE_CHARS:,} characters and the key "
                                          f"{MAX_VKEY_CHARS:,}"}
    if not vkey:
        return {"valid": False, "reason": "请粘贴服务链的验证公钥 · Paste the service chain's verifier key (vkey)"}
    parsed: Any = None
    if proof:
        try:
            parsed = json.loads(proof)
        except ValueError as exc:
            return {"valid": False, "reason": f"贷款证明不是 JSON · The loan proof is not JSON ({exc.msg}, line {exc.lineno})"}
        if isinstance(parsed, dict) and isinstance(parsed.get("proofs"), list):  # the API's answer, with one proof
            if len(parsed["proofs"]) != 1:
                return {"valid": False, "reason": "请只粘贴一笔贷款的证明 · Paste one loan's proof (this holds "
                                                  f"{len(parsed['proofs'])})"}
            parsed = parsed["proofs"][0]
        if not isinstance(parsed, dict):
            return {"valid": False, "reason": "贷款证明应为 JSON 对象 · The loan proof must be a JSON object"}
    try:
        cert, leaf = verify_certificate(certificate, vkey, parsed)
    except CertificateError as exc:
        return {"valid": False, "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 — whatever was pasted, the page answers with a verdict
        log.info("a pasted certificate failed oddly: %s", exc.__class__.__name__)
        return {"valid": False, "reason": f"无法解析 · Not a certificate, key or proof this page can read ({exc.__class__.__name__})"}
    return {"valid": True, "fields": _certificate_fields(cert), "leaf": leaf}


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
    env.filters.update(when=when, yuan=yuan, code=lambda c: format_code(c) if c else "—", count=lambda n: f"{n:,}",
                       purpose_name=lambda p: PURPOSE_NAMES.get(p, p), pool_state=lambda s: POOL_STATE_NAMES.get(s, s),
                       kind_name=lambda k: KIND_NAMES.get(k, k), registration_state=lambda s: REGISTRATION_STATE_NAMES.get(s, s),
                       party_kind=lambda k: PARTY_KIND_NAMES.get(k, k), exception_name=lambda c: EXCEPTION_NAMES.get(c, c),
                       url_part=lambda s: quote(str(s), safe=""))
    env.globals.update(role_names=ROLE_NAMES, party_kinds=PARTY_KIND_NAMES, exception_names=EXCEPTION_NAMES,
                       max_verify_bytes=MAX_VERIFY_BYTES)
    return env


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request's body, or None once it passes ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isascii() or not declared.isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


# --- the pages ------------------------------------------------------------------------------------

def add_pages(app: FastAPI, chain: ServiceChain, *, trust_forwarded_proto: bool = False) -> None:
    """Add the regulator's, the operator's and the public verify pages under /service (and the pages' security headers —
    no script, nothing from elsewhere, no framing — to every answer). ``trust_forwarded_proto``: behind a TLS proxy."""
    app.add_middleware(SecurityHeaders, policy=PAGES_CSP)
    sessions = PageSessions(secret_token(chain.config.data_dir, OPERATOR_TOKEN_FILE), secret_token(chain.config.data_dir, TOKEN_FILE))
    env = _environment()
    kept: OrderedDict[str, dict[str, int]] = OrderedDict()
    kept_lock = threading.Lock()

    def now_ms() -> int:
        return int(time.time() * 1000)

    def page(template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(chain_id=chain.config.chain_id, platform=chain.config.platform_name,
                                                              five_views=nav_html(app, "service"), **context),
                            status_code=status, headers=PAGE_HEADERS)

    def message(status: int, title: str, detail: str, /, *, home: str | None = PATH + "/", **context: Any) -> HTMLResponse:
        return page("message.html", status, title=title, detail=detail, home=home, **context)

    def session(request: Request) -> tuple[str, str] | None:
        """The signed-in cookie and its role."""
        cookie = request.cookies.get(COOKIE)
        role = sessions.role(cookie, now_ms())
        return (cookie, role) if cookie and role else None

    def signed_in(request: Request) -> dict[str, Any]:
        """The header's context: who is signed in (if anyone) and the sign-out form's token."""
        signed = session(request)
        return {"who": signed[1], "csrf": sessions.csrf(signed[0])} if signed else {}

    def to_sign_in() -> RedirectResponse:
        return RedirectResponse(PATH + "/login", status_code=303)

    def as_role(request: Request, wanted: str) -> tuple[dict[str, Any], Response | None]:
        """The header's context for a page of ``wanted`` (regulator or operator), or the answer that refuses it."""
        signed = session(request)
        if signed is None:
            return {}, to_sign_in()
        cookie, role = signed
        who = {"who": role, "csrf": sessions.csrf(cookie)}
        if role != wanted:
            if wanted == "regulator":
                return who, message(403, "仅限监管 · The regulator only", "资产池和登记只由监管查看 · Only the regulator sees every pool and "
                                                                       "registration.", **who)
            return who, message(403, "仅限服务平台窗口 · The platform desk only", "资金方和受让方只由服务平台操作员登记 · Only the platform's "
                                                                              "operator registers funders and buyers.", **who)
        return who, None

    def operator_form(request: Request, csrf: str) -> tuple[dict[str, Any], Response | None]:
        who, refused = as_role(request, "operator")
        if refused is None and not same_token(csrf, who["csrf"]):
            refused = message(403, "表单已过期 · The form expired", "请从页面重新提交 · Send it again from the page.", home=PATH + "/parties",
                              **who)
        return who, refused

    def counts_of(pool: dict[str, Any]) -> dict[str, int]:
        """How many loans carry each exception: from the page's own list when it holds every exception loan, else counted
        over the whole pool (kept once certified)."""
        if pool["exceptions_count"] <= len(pool["exceptions"]):
            counts: dict[str, int] = {}
            for e in pool["exceptions"]:
                for code in set(e["exceptions"]):
                    counts[code] = counts.get(code, 0) + 1
            return counts
        with kept_lock:
            if pool["pool_id"] in kept:
                return kept[pool["pool_id"]]
        counts = exception_counts(chain, pool["pool_id"])
        if pool["state"] == "certified":
            with kept_lock:
                kept[pool["pool_id"]] = counts
                while len(kept) > KEPT_COUNTS:
                    kept.popitem(last=False)
        return counts

    # --- signing in and out ----------------------------------------------------------------------

    @app.get(PATH, include_in_schema=False)
    def service_root() -> RedirectResponse:
        return RedirectResponse(PATH + "/", status_code=303)

    @app.get(PATH + "/", include_in_schema=False)
    def home(request: Request) -> Response:
        signed = session(request)
        if signed is None:
            return to_sign_in()
        if signed[1] == "operator":
            return RedirectResponse(PATH + "/parties", status_code=303)
        return overview(request)

    @app.get(PATH + "/login", include_in_schema=False)
    def login_page(request: Request) -> Response:
        return page("login.html", **signed_in(request))

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

    @app.get(PATH + "/logout", include_in_schema=False)
    def logout_page() -> RedirectResponse:  # signing out is a POST from a page's button
        return RedirectResponse(PATH + "/", status_code=303)

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

    # --- the regulator ---------------------------------------------------------------------------

    def overview(request: Request) -> Response:
        who, refused = as_role(request, "regulator")
        if refused is not None:
            return refused
        figures = chain.overview()
        kinds: dict[str, dict[str, int]] = {kind: {} for kind in KIND_NAMES}
        for key, n in figures["registrations"].items():
            kind, _, state = key.partition(":")
            kinds.setdefault(kind, {})[state] = n
        parties = chain.list_parties()
        return page("overview.html", figures=figures, kinds=kinds, states=list(REGISTRATION_STATE_NAMES),
                    pool_states={s: figures["pools"].get(s, 0) for s in [*POOL_STATE_NAMES, *figures["pools"]]},
                    parties={k: sum(1 for p in parties if p["kind"] == k) for k in PARTY_KIND_NAMES}, vkey=chain.vkey,
                    generated_ms=now_ms(), **who)

    @app.get(PATH + "/pools", include_in_schema=False)
    def pools_page(request: Request) -> Response:
        who, refused = as_role(request, "regulator")
        if refused is not None:
            return refused
        names = chain.names()
        pools = [{**p, "lender_name": names.get(p["lender_id"], p["lender_id"]), "offered_to_name": names.get(p["offered_to"], p["offered_to"])}
                 for p in chain.pools(Viewer("regulator"))]
        return page("pools.html", pools=pools, generated_ms=now_ms(), **who)

    @app.get(PATH + "/pools/{pool_id}", include_in_schema=False)
    def pool_page(request: Request, pool_id: str) -> Response:
        who, refused = as_role(request, "regulator")
        if refused is not None:
            return refused
        not_found = message(404, "未找到资产池 · No such pool", "资产池编号是 P 加 20 位十六进制 · A pool's id is P and 20 hex digits; this one "
                                                              "is not on the service chain.", home=PATH + "/pools", **who)
        if not _POOL_ID.fullmatch(pool_id):
            return not_found
        try:
            pool = chain.pool(Viewer("regulator"), pool_id, exceptions_limit=FIRST_EXCEPTIONS)
        except ServiceError as exc:
            return not_found if exc.status == 404 else message(exc.status if 400 <= exc.status < 600 else 500, "无法显示 · Not shown",
                                                                exc.detail, home=PATH + "/pools", **who)
        verified: dict[str, Any] | None = None
        if pool["certificate"]:
            try:
                verified = _certificate_fields(verify_certificate(pool["certificate"], chain.vkey)[0])
            except CertificateError as exc:  # the chain's own certificate: would mean its key or database changed
                verified = {"error": str(exc)}
        registrations = [r for r in chain.registrations(Viewer("regulator")) if r["pool_id"] == pool_id]
        return page("pool.html", p=pool, codes=_code_rows(counts_of(pool)),
                    first=[{"loan_id": e["loan_id"], "codes": _loan_codes(e["exceptions"])} for e in pool["exceptions"]], verified=verified,
                    registrations=[{**r, "t": _terms(r["terms"])} for r in registrations], generated_ms=now_ms(), **who)

    @app.get(PATH + "/pools/{pool_id}/certificate.txt", include_in_schema=False)
    def certificate_download(request: Request, pool_id: str) -> Response:
        who, refused = as_role(request, "regulator")
        if refused is not None:
            return refused
        try:
            pool = chain.pool(Viewer("regulator"), pool_id, exceptions_limit=0) if _POOL_ID.fullmatch(pool_id) else None
        except ServiceError:
            pool = None
        if pool is None or not pool["certificate"]:
            return message(404, "没有证书 · No certificate", "该资产池不存在或尚未认证 · The pool does not exist or is not certified yet.",
                           home=PATH + "/pools", **who)
        return Response(pool["certificate"], media_type="text/plain; charset=utf-8",
                        headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="pool-certificate-{pool_id}.txt"'})

    @app.get(PATH + "/registrations", include_in_schema=False)
    def registrations_page(request: Request) -> Response:
        who, refused = as_role(request, "regulator")
        if refused is not None:
            return refused
        names = chain.names()
        rows = [{**r, "t": _terms(r["terms"]), "lender_name": names.get(r["lender_id"], r["lender_id"]),
                 "party_name": names.get(r["party_id"], r["party_id"])} for r in chain.registrations(Viewer("regulator"))]
        return page("registrations.html", registrations=rows, generated_ms=now_ms(), **who)

    # --- the platform's desk ---------------------------------------------------------------------

    def parties_view(who: dict[str, Any], status: int = 200, **context: Any) -> HTMLResponse:
        return page("parties.html", status, parties=chain.list_parties(), generated_ms=now_ms(), **who, **context)

    @app.get(PATH + "/parties", include_in_schema=False)
    def parties_page(request: Request, added: str = "", changed: str = "") -> Response:
        who, refused = as_role(request, "operator")
        if refused is not None:
            return refused
        return parties_view(who, added=added if _PARTY_ID.fullmatch(added) else None, changed=changed if _PARTY_ID.fullmatch(changed) else None)

    @app.post(PATH + "/parties", include_in_schema=False)
    def register_party(request: Request, party_id: Annotated[str, Form(max_length=64)] = "", name: Annotated[str, Form(max_length=200)] = "",
                       kind: Annotated[str, Form(max_length=16)] = "", public_key: Annotated[str, Form(max_length=512)] = "",
                       csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        who, refused = operator_form(request, csrf)
        if refused is not None:
            return refused
        entered = {"party_id": party_id, "name": name, "kind": kind, "public_key": public_key}
        try:
            key = b64decode_strict("".join(public_key.split()))
        except ValueError:
            return parties_view(who, 400, error="公钥不是标准 Base64 · The public key is not standard (padded) base64", entered=entered)
        try:  # checked here too: the chain's own check lets a key of the wrong length through as a chain error
            public_key_from_bytes(key)
        except (ChainError, ValueError, TypeError):
            return parties_view(who, 422, error="公钥无效 · Not a public key: Ed25519 (32 bytes) or SM2 (65 bytes 04‖x‖y, on the curve)",
                                entered=entered)
        try:
            chain.add_party(party_id.strip(), name.strip(), kind, key)
        except ServiceError as exc:
            return parties_view(who, exc.status if 400 <= exc.status < 500 else 500, error=f"未登记 · Not registered: {exc.detail}",
                                entered=entered)
        return RedirectResponse(f"{PATH}/parties?added={quote(party_id.strip(), safe='')}", status_code=303)

    @app.post(PATH + "/parties/{party_id}/{action}", include_in_schema=False)
    def party_state(request: Request, party_id: str, action: str, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        who, refused = operator_form(request, csrf)
        if refused is not None:
            return refused
        if action not in ("enable", "disable"):
            return message(404, "未找到 · Not found", "只能启用或停用 · A party is enabled or disabled.", home=PATH + "/parties", **who)
        try:
            chain.set_party_enabled(party_id, action == "enable")
        except ServiceError as exc:
            return message(exc.status if 400 <= exc.status < 500 else 500, "未更改 · Not changed", exc.detail, home=PATH + "/parties", **who)
        return RedirectResponse(f"{PATH}/parties?changed={quote(party_id, safe='')}", status_code=303)

    # --- anyone: check a certificate ---------------------------------------------------------------

    @app.get(PATH + "/verify", include_in_schema=False)
    def verify_page(request: Request) -> Response:
        return page("verify.html", vkey=chain.vkey, entered={}, result=None, **signed_in(request))

    @app.post(PATH + "/verify", include_in_schema=False)
    async def verify_post(request: Request) -> Response:
        who = signed_in(request)
        body = await _read_capped(request, MAX_VERIFY_BYTES)
        if body is None:
            return page("verify.html", 413, vkey=chain.vkey, entered={}, result={
                "valid": False, "reason": f"提交内容过大 · What was sent is over {MAX_VERIFY_BYTES:,} bytes"}, **who)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if body and content_type != "application/x-www-form-urlencoded":
            return page("verify.html", 415, vkey=chain.vkey, entered={}, result={
                "valid": False, "reason": "请用本页的表单提交 · Send the page's form (application/x-www-form-urlencoded)"}, **who)
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=16)
        except (UnicodeDecodeError, ValueError):
            return page("verify.html", 400, vkey=chain.vkey, entered={}, result={
                "valid": False, "reason": "无法读取表单 · The form could not be read (not UTF-8, or too many fields)"}, **who)
        entered = {k: (fields.get(k) or [""])[0] for k in ("certificate", "vkey", "proof")}
        result = verify_pasted(entered["certificate"], entered["vkey"], entered["proof"])
        return page("verify.html", 200, vkey=chain.vkey, entered=entered, result=result, **who)
