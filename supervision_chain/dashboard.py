"""The regulator's dashboard (server-rendered, under /regulator): sign in with the regulator
token, then read `oversight.figures()` as tables and inline SVG charts, printable.

Sessions are stateless, so any number of API processes behind one port accept the same
cookie: ``expiry_ms.HMAC-SHA256(key, expiry_ms)`` in hex, with the key derived from the
regulator token (a new token ends every session). The cookie is HttpOnly, SameSite=Strict,
Path=/regulator and lasts 8 hours; signing out is a POST carrying a CSRF token derived from the
session the same way. Signing out deletes the browser's cookie: being stateless, a copied
cookie stays valid until it expires. The token itself is never logged or stored in the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from service_kit.five_views import NAV_CSS, nav_html
from service_kit.page_security import PAGES_CSP, SecurityHeaders

from .data_dir import regulator_token
from .errors import Unauthorized
from .oversight import BUCKETS, CST, day_of, figures
from .svg_charts import bar_chart, stacked_bar

COOKIE = "fc_regulator_session"
PATH = "/regulator"
SESSION_MS = 8 * 3600 * 1000
KEY_LABEL = b"fivechains.dashboard-session/v1"
BUCKET_COLOURS = ("#2e7d32", "#7cb342", "#f9a825", "#ef6c00", "#c62828")
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class SessionKeys:
    """Stateless sessions: a cookie names its expiry and carries a MAC over it."""

    def __init__(self, token: str) -> None:
        self._key = hashlib.sha256(KEY_LABEL + token.encode()).digest()

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}\n{value}".encode(), hashlib.sha256).hexdigest()

    def issue(self, now_ms: int) -> str:
        expiry = str(now_ms + SESSION_MS)
        return f"{expiry}.{self._mac('session', expiry)}"

    def valid(self, cookie: str | None, now_ms: int) -> bool:
        expiry, sep, mac = (cookie or "").partition(".")
        if not sep or not (expiry.isascii() and expiry.isdigit()) or len(expiry) > 16:
            return False
        return hmac.compare_digest(mac.encode(), self._mac("session", expiry).encode()) and int(expiry) > now_ms

    def csrf(self, cookie: str) -> str:
        return self._mac("csrf", cookie)


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if abs(ms) >= size:
            return f"{ms / size:.1f} {unit}"
    return f"{ms} ms"


def _when(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d %H:%M:%S")


templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
templates.globals["five_views_css"] = Markup(NAV_CSS)
templates.filters["duration"] = _duration
templates.filters["when"] = _when


def _charts(view: dict[str, Any]) -> dict[str, Any]:
    """The SVG charts of the figures, keyed for the template."""
    days = view["days"]
    short = [d[5:] for d in days]
    per_lender = {}
    for lender in view["lenders"]:
        per_lender[lender["id"]] = {
            "days": Markup(bar_chart(short, [lender["per_day"][d] for d in days], title=f"{lender['id']}: deposits per day")),
            "delays": Markup(stacked_bar([(label, lender["buckets"][key], colour) for (key, label, _), colour in zip(BUCKETS, BUCKET_COLOURS)],
                                         title=f"{lender['id']}: event → deposit delay")),
        }
    blocks = view["anchoring"]["blocks"]
    return {
        "total": Markup(bar_chart(short, [view["totals"]["per_day"][d] for d in days], title="all lenders: deposits per day", color="#555")),
        "lenders": per_lender,
        "lag": Markup(bar_chart([str(b["height"]) for b in blocks], [b["lag_ms"] for b in blocks], title="anchoring lag per block (ms)",
                                color="#7a1f1f", unit=" ms", label_every=max(1, len(blocks) // 8))) if blocks else None,
    }


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status, headers=HEADERS)


def add_dashboard(app: FastAPI, chain: Any) -> None:
    """Add the regulator's pages under /regulator to the supervision chain's app (with the kit's security headers:
    no scripts, no framing)."""
    app.add_middleware(SecurityHeaders, policy=PAGES_CSP)
    keys = SessionKeys(regulator_token(chain.config.data_dir))
    now_ms = lambda: int(time.time() * 1000)  # noqa: E731

    def session(request: Request) -> str | None:
        cookie = request.cookies.get(COOKIE)
        return cookie if keys.valid(cookie, now_ms()) else None

    def to_login() -> RedirectResponse:
        return RedirectResponse(PATH + "/login", status_code=303)

    @app.get(PATH, include_in_schema=False)
    def regulator_root() -> RedirectResponse:
        return RedirectResponse(PATH + "/", status_code=303)

    @app.get(PATH + "/login", include_in_schema=False)
    def login_page() -> HTMLResponse:
        return _page("login.html")

    @app.post(PATH + "/login", include_in_schema=False)
    def login(token: Annotated[str, Form(max_length=512)] = "") -> Response:
        try:
            chain.check_regulator(token.strip())
        except Unauthorized:
            return _page("login.html", 401, error="令牌错误 · The regulator token is wrong")
        response = RedirectResponse(PATH + "/", status_code=303)
        response.set_cookie(COOKIE, keys.issue(now_ms()), max_age=SESSION_MS // 1000, path=PATH, httponly=True, samesite="strict",
                            secure=False)  # served on loopback over HTTP; put a TLS proxy in front elsewhere
        return response

    @app.post(PATH + "/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        cookie = session(request)
        if cookie is None:
            return to_login()
        if not hmac.compare_digest(csrf.encode(), keys.csrf(cookie).encode()):
            return _page("login.html", 403, error="表单已过期，请从看板重新退出 · The form expired; sign out from the dashboard again")
        response = to_login()
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
        return response

    @app.get(PATH + "/", include_in_schema=False)
    def dashboard(request: Request, days: Annotated[int, Query(ge=1, le=366)] = 30,
                  blocks: Annotated[int, Query(ge=1, le=1000)] = 50) -> Response:
        cookie = session(request)
        if cookie is None:
            return to_login()
        view = figures(chain, days=days, blocks=blocks)
        return _page("dashboard.html", view=view, charts=_charts(view), csrf=keys.csrf(cookie), buckets=list(zip(BUCKETS, BUCKET_COLOURS)),
                     today=day_of(view["generated_ms"]), five_views=nav_html(app, "supervision"))
