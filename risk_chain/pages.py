"""The risk-control chain's pages (server-rendered, under /risk): the regulator's heat map, warning queue,
lender figures and printable warning reports, and each lender's view of its own warnings.

The regulator signs in with the risk chain's regulator token; a lender signs in with a one-use link its
key signed (``sign_in_link``, printed by ``fivechains risk page-link``): a signed read of ``GET /risk/lender``
checked like any signed read (this chain, the time window, the read nonce used once). Sessions are
stateless, so every process holding the token accepts them: ``expiry.subject.mac`` with the MAC
(HMAC-SHA256 under a key derived from the regulator token) over the kind of session, the expiry and the
subject (the lender's id; nothing for the regulator). Cookies are HttpOnly, SameSite=Strict; the
regulator's has Path=/risk and lasts 8 hours, a lender's has Path=/risk/lender and lasts 30 minutes and
ends early when the lender is disabled. Signing out is a POST carrying a CSRF token derived from the
session. Pages run no script and load nothing from elsewhere (charts are inline SVG drawn here).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from chain.encoding import b64decode_strict, b64encode
from evidence.canonical_json import canonical_json
from service_kit.data_files import secret_token
from service_kit.five_views import nav_html
from service_kit.page_security import SecurityHeaders
from service_kit.party_auth import read_text
from service_kit.problems import NotFound, ServiceError

from .closed_loop import ACTIVE, STATES
from .config import TOKEN_FILE
from .indicator_sql import INDICATORS
from .scorecard import BANDS, Rule, band_of, parse_model

if TYPE_CHECKING:
    from chain.keys import PrivateKey

    from .service import RiskChain

__all__ = ["add_pages", "sign_in_link", "PageKeys", "line_chart", "PAGES_CSP", "COOKIE", "LENDER_COOKIE", "PATH", "LENDER_PATH",
           "BAND_COLOURS", "INDICATOR_LABELS"]

PATH = "/risk"
LENDER_PATH = "/risk/lender"  # also what a lender's sign-in link signs: a read of GET /risk/lender
COOKIE = "fc_risk_session"
LENDER_COOKIE = "fc_risk_lender"
LIFETIME_MS = {"regulator": 8 * 3_600_000, "lender": 30 * 60_000}
KEY_LABEL = b"fivechains.risk-pages-session/v1"
PAGES_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
PAGE_HEADERS = {"Cache-Control": "no-store"}
WARNING_ID = re.compile(r"W-[0-9A-F]{12}")
PARTY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
NONCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
FIRST_ENTRIES = 8  # how many of the entries behind a figure a page lists

BAND_COLOURS = {"red": "#c62828", "orange": "#ef6c00", "yellow": "#f9a825", "blue": "#1e88e5", "green": "#2e7d32"}
LEVEL_COLOURS = {"red": "#c62828", "orange": "#ef6c00", "limit": "#6a1b9a"}
BAND_TEXT = {"yellow": "#222"}  # text on a band's colour: white, but dark on yellow
BAND_NAMES = {"red": "红 red", "orange": "橙 orange", "yellow": "黄 yellow", "blue": "蓝 blue", "green": "绿 green"}
LEVEL_NAMES = {"red": "红色预警 · red", "orange": "橙色预警 · orange", "limit": "超硬性限值 · hard limit"}
STATE_NAMES = {"opened": "已开启 · opened", "assigned": "已分派 · assigned", "answered": "已反馈 · answered",
               "reviewed": "已复核 · reviewed", "closed": "已关闭 · closed", "escalated": "已升级 · escalated"}
STEP_NAMES = {"open": "开启预警 · opened", "assign": "分派 · assigned", "answer": "机构反馈 · answered", "review": "复核 · reviewed",
              "close": "关闭 · closed", "escalate": "升级 · escalated", "deadline": "期限届满 · deadline missed",
              "reopen": "重新开启 · reopened"}
DEADLINE_NAMES = {"answer": "机构反馈 · the lender's answer", "decision": "监管决定 · the regulator's decision"}
BODY_NAMES = {"assignee": "承办人 · assignee", "note": "备注 · note", "text": "反馈 · answer", "attachments": "附件 · attachments",
              "finding": "复核结论 · finding", "action": "措施 · action", "missed": "未按期 · missed", "deadline_ms": "期限 · deadline",
              "in_band_days": "持续天数 · days in band"}
# each indicator's label and how its value is written: share (percent), change (percentage points), count, days or number
INDICATOR_LABELS = {
    "overdue_m1": ("M1+ 逾期率", "overdue M1+", "share"),
    "overdue_m3": ("M3+ 逾期率", "overdue M3+", "share"),
    "overdue_m1_change_30d": ("M1+ 30 日变化", "M1+ change, 30 d", "change"),
    "overdue_m3_change_30d": ("M3+ 30 日变化", "M3+ change, 30 d", "change"),
    "above_cap_share": ("超利率上限占比", "above the rate cap", "share"),
    "late_share": ("迟报占比", "reported late", "share"),
    "silence_days": ("未报送天数", "days silent", "days"),
    "lending_spike_z": ("放款激增", "lending spike (z)", "number"),
    "top10_share": ("前十借款人集中度", "top-10 borrowers' share", "share"),
    "collection_intensity": ("催收强度", "collections per overdue loan", "number"),
    "broken_lifecycles": ("生命周期断裂", "broken lifecycles", "count"),
    "court_failures": ("司法验证失败", "court failures", "count"),
    "complaints": ("投诉", "complaints", "count"),
    "multihead_share": ("多头借贷客户占比", "multi-head borrowers' share (credit chain)", "share"),
}


# --- sessions ------------------------------------------------------------------------------------

def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class PageKeys:
    """Stateless sessions of both kinds (``regulator``, ``lender``) and their CSRF tokens, keyed from the regulator token."""

    def __init__(self, token: str) -> None:
        self._key = hashlib.sha256(KEY_LABEL + token.encode()).digest()

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

    def issue(self, kind: str, subject: str, now_ms: int) -> str:
        expiry = str(now_ms + LIFETIME_MS[kind])
        return f"{expiry}.{_b64url(subject)}.{self._mac(kind, expiry, subject)}"

    def subject(self, kind: str, cookie: str | None, now_ms: int) -> str | None:
        """Whom a genuine, unexpired session cookie of ``kind`` names (a lender's id, "" for the regulator), else None."""
        parts = (cookie or "").split(".")
        if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit()) or len(parts[0]) > 16 or len(parts[1]) > 96:
            return None
        expiry, encoded, mac = parts
        try:
            subject = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(kind, expiry, subject).encode()) or int(expiry) <= now_ms:
            return None
        return subject

    def csrf(self, cookie: str) -> str:
        return self._mac("csrf", cookie)


def sign_in_link(base_url: str, chain_id: str, lender_id: str, key: PrivateKey, *, now_ms: int | None = None,
                 nonce: str | None = None) -> str:
    """A lender's one-use link to its pages: its key's signature over a read of GET /risk/lender (valid for the replay window)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    nonce = nonce or uuid.uuid4().hex
    signature = key.sign(read_text(chain_id, lender_id, nonce, now_ms, "GET", LENDER_PATH).encode())
    query = urlencode({"lender": lender_id, "time": now_ms, "nonce": nonce, "signature": b64encode(signature)})
    return f"{base_url.rstrip('/')}{LENDER_PATH}/sign-in?{query}"


# --- figures as text and charts ----------------------------------------------------------------------

def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:,.0f}"


def figure(indicator: str, value: float | None) -> str:
    """An indicator's value as a page writes it (— when it has none)."""
    if value is None or value != value:
        return "—"
    kind = INDICATOR_LABELS.get(indicator, ("", "", "number"))[2]
    if kind == "share":
        return f"{100 * value:.1f}%"
    if kind == "change":
        return f"{100 * value:+.1f} pp"
    if kind in ("count", "days"):
        return f"{value:,.0f}" + (" d" if kind == "days" else "")
    return _number(value)


def label(indicator: str) -> str:
    zh, en, _ = INDICATOR_LABELS.get(indicator, (indicator, indicator, "number"))
    return f"{zh} · {en}"


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def line_chart(labels: Sequence[str], values: Sequence[float | None], *, title: str, fmt: Callable[[float], str] = _number,
               limit: float | None = None, low: float | None = None, high: float | None = None,
               stripes: Sequence[tuple[float, float, str]] = (), width: int = 600, height: int = 150, color: str = "#1f4e79") -> str:
    """A line over ``labels`` (gaps where a value is None), an optional dashed hard-limit line and coloured y ranges
    (``stripes``: low, high, colour); every label and value is escaped, and each point tells its value on hover."""
    if len(labels) != len(values):
        raise ValueError("a line chart needs one label per value")
    left, right, top, bottom = 58, 10, 10, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [v for v in values if v is not None]
    extra = [limit] if limit is not None else []
    lo = min([0.0, *known, *extra]) if low is None else low
    hi = max([*known, *extra, lo]) if high is None else high
    hi = hi if hi > lo else lo + 1
    n = len(values)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - (min(max(v, lo), hi) - lo) / (hi - lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
           f"<title>{escape(title)}</title>"]
    for s_low, s_high, s_colour in stripes:
        out.append(f'<rect x="{left}" y="{_n(y(s_high))}" width="{plot_w}" height="{_n(y(s_low) - y(s_high))}" fill="{escape(s_colour)}" '
                   'fill-opacity="0.15"/>')
    out += [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
            f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" font-size="10">{escape(fmt(hi))}</text>',
            f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="10">{escape(fmt(lo))}</text>']
    if limit is not None:
        out.append(f'<line class="limit" x1="{left}" y1="{_n(y(limit))}" x2="{width - right}" y2="{_n(y(limit))}" stroke="#c62828" '
                   f'stroke-dasharray="5 3"><title>{escape(f"硬性限值 · hard limit {fmt(limit)}")}</title></line>')
    if not known:
        out.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" font-size="11">无数据 · no data</text>')
    path, pen = [], "M"
    for i, v in enumerate(values):
        if v is None:
            pen = "M"
            continue
        path.append(f"{pen}{_n(x(i))} {_n(y(v))}")
        pen = "L"
    if path:
        out.append(f'<path class="series" d="{" ".join(path)}" fill="none" stroke="{escape(color)}" stroke-width="1.5"/>')
    for i, (lab, v) in enumerate(zip(labels, values)):
        if v is not None:
            out.append(f'<circle cx="{_n(x(i))}" cy="{_n(y(v))}" r="1.6" fill="{escape(color)}"><title>{escape(f"{lab}: {fmt(v)}")}</title></circle>')
    if n:
        out.append(f'<text x="{left}" y="{height - 5}" font-size="10">{escape(labels[0])}</text>'
                   f'<text x="{width - right}" y="{height - 5}" text-anchor="end" font-size="10">{escape(labels[-1])}</text>')
    out.append("</svg>")
    return "".join(out)


def band_strip(labels: Sequence[str], bands: Sequence[str], *, width: int = 600, height: int = 14) -> str:
    """One coloured cell per day, in its band's colour."""
    left, right = 58, 10
    step = (width - left - right) / max(len(bands), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart strip" role="img" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}"><title>每日风险等级 · band per day</title>']
    for i, (lab, band) in enumerate(zip(labels, bands)):
        out.append(f'<rect x="{_n(left + i * step)}" y="0" width="{_n(step + 0.3)}" height="{height}" fill="{BAND_COLOURS.get(band, "#999")}">'
                   f"<title>{escape(f'{lab}: {BAND_NAMES.get(band, band)}')}</title></rect>")
    out.append("</svg>")
    return "".join(out)


INDEX_STRIPES = [(low, high, BAND_COLOURS[name]) for (name, low), high in zip(BANDS, (100, *(low for _, low in BANDS[:-1])))]


def _points_band(points: int, top: int) -> str:
    """The band a line's points would mean as a share of the most its indicator can score (0 → green, all → red)."""
    return band_of(100 * points / top) if top > 0 else "green"


def _span(ms_from: int, ms_to: int) -> str:
    days = (ms_to - ms_from) / 86_400_000
    return f"{days:.1f} d" if abs(days) >= 1 else f"{(ms_to - ms_from) / 3_600_000:.1f} h"


# --- the pages ------------------------------------------------------------------------------------

def _environment(offset_hours: int) -> Environment:
    zone = dt.timezone(dt.timedelta(hours=offset_hours))
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))

    def when(ms: int | None) -> str:
        return "—" if ms is None else dt.datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S")

    env.filters.update(when=when, band_name=lambda b: BAND_NAMES.get(b, b), level_name=lambda v: LEVEL_NAMES.get(v, v),
                       state_name=lambda s: STATE_NAMES.get(s, s), step_name=lambda s: STEP_NAMES.get(s, s),
                       deadline_name=lambda d: DEADLINE_NAMES.get(d, d or "—"), figure=lambda v, ind: figure(ind, v), label=label,
                       url_part=lambda s: quote(str(s), safe=""))
    env.globals.update(band_colours=BAND_COLOURS, level_colours=LEVEL_COLOURS, band_text=BAND_TEXT, first_entries=FIRST_ENTRIES, bands=[name for name, _ in BANDS], band_names=BAND_NAMES,
                       utc_offset=f"UTC{offset_hours:+d}")
    return env


def _deadline(w: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """How a warning's deadline reads: missed (flagged, or passed and not flagged yet) or how long is left."""
    due = w["deadline_ms"]
    missed = bool(w["deadline_missed"]) or (due is not None and due < now_ms)
    if due is None:
        left = None
    elif due < now_ms:
        left = "逾期 · overdue by " + _span(due, now_ms)
    else:
        left = None if missed else "剩余 · " + _span(now_ms, due) + " left"
    return {**w, "missed": missed, "left": left}


def _step_details(step: dict[str, Any], when: Callable[[int], str]) -> list[tuple[str, str]]:
    body = step["document"].get("body", {})
    out = []
    for key, value in body.items():
        if key == "explanation":
            out.append(("指数 · index", f"{value['risk_index']} ({BAND_NAMES.get(value['band'], value['band'])}), {value['day']}"))
            out += [("原因 · reason", reason) for reason in value.get("reasons", [])]
        elif key == "attachments":
            out += [(BODY_NAMES[key], f"{a['name']} (SHA-256 {a['digest']})") for a in value] or [(BODY_NAMES[key], "—")]
        elif key == "deadline_ms":
            out.append((BODY_NAMES[key], when(value)))
        else:
            out.append((BODY_NAMES.get(key, key), str(value)))
    return out


def _explanation_lines(explanation: dict[str, Any], rules: dict[str, Rule]) -> list[dict[str, Any]]:
    lines = []
    for line in explanation["lines"]:
        rule = rules.get(line["indicator"])
        top = max(rule.points) if rule else 0
        entries = line["entries"]
        lines.append({**line, "label": label(line["indicator"]), "value_text": figure(line["indicator"], line["value"]), "top": top,
                      "limit_text": figure(line["indicator"], line["hard_limit"]) if line["hard_limit"] is not None else "—",
                      "cell_band": _points_band(line["points"], top), "count": len(entries), "first": entries[:FIRST_ENTRIES],
                      "more": max(0, len(entries) - FIRST_ENTRIES)})
    return lines


def add_pages(app: FastAPI, chain: RiskChain) -> None:
    """Add the regulator's and the lenders' pages under /risk to the risk chain's app (and the pages' security headers —
    no script, nothing from elsewhere, no framing — to every answer)."""
    app.add_middleware(SecurityHeaders, policy=PAGES_CSP)
    keys = PageKeys(secret_token(chain.config.data_dir, TOKEN_FILE))
    env = _environment(chain.config.settings.utc_offset_hours)
    when = env.filters["when"]
    model_rules: dict[str, dict[str, Rule]] = {}

    def now_ms() -> int:
        return int(time.time() * 1000)

    def page(template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(chain_id=chain.config.chain_id, five_views=nav_html(app, "risk"), **context),
                            status_code=status, headers=PAGE_HEADERS)

    def message(status: int, title: str, detail: str, /, *, hint: str | None = None, command: str | None = None, home: str | None = None,
                **context: Any) -> HTMLResponse:
        return page("message.html", status, title=title, detail=detail, hint=hint, command=command, home=home, **context)

    def rules_of(sha256: str) -> dict[str, Rule]:
        """The rules of the model with this hash (the one in force, or an earlier one the chain kept)."""
        model = chain.models.model
        if sha256 == model.sha256:
            return model.rules
        if sha256 not in model_rules:
            try:
                model_rules[sha256] = parse_model(chain.model_text(sha256).encode()).rules
            except (NotFound, ValueError):
                model_rules[sha256] = {}
        return model_rules[sha256]

    def regulator(request: Request) -> str | None:
        cookie = request.cookies.get(COOKIE)
        return cookie if keys.subject("regulator", cookie, now_ms()) == "" else None

    def to_login() -> RedirectResponse:
        return RedirectResponse(PATH + "/login", status_code=303)

    def not_found(what: str, home: str, **context: Any) -> HTMLResponse:
        return message(404, "未找到 · Not found", what, home=home, **context)

    def document_of(view: dict[str, Any], seq: str) -> Response | None:
        if not (seq.isascii() and seq.isdigit() and len(seq) <= 5) or int(seq) >= len(view["steps"]):
            return None
        return Response(canonical_json(view["steps"][int(seq)]["document"]) + b"\n", media_type="application/json",
                        headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{view["id"]}-step-{int(seq)}.json"'})

    def warning_context(view: dict[str, Any]) -> dict[str, Any]:
        explanation = view["explanation"]
        steps = [{**s, "details": _step_details(s, when)} for s in view["steps"]]
        return {"w": _deadline(view, now_ms()), "e": explanation, "lines": _explanation_lines(explanation, rules_of(explanation["model"]["sha256"])),
                "steps": steps, "generated_ms": now_ms()}

    # --- the regulator -------------------------------------------------------------------------

    @app.get(PATH, include_in_schema=False)
    def risk_root() -> RedirectResponse:
        return RedirectResponse(PATH + "/", status_code=303)

    @app.get(PATH + "/login", include_in_schema=False)
    def login_page() -> HTMLResponse:
        return page("login.html")

    @app.post(PATH + "/login", include_in_schema=False)
    def login(token: Annotated[str, Form(max_length=512)] = "") -> Response:
        if not chain.regulator_matches(token.strip() or None):
            return page("login.html", 401, error="令牌错误 · The regulator token is wrong")
        response = RedirectResponse(PATH + "/", status_code=303)
        response.set_cookie(COOKIE, keys.issue("regulator", "", now_ms()), max_age=LIFETIME_MS["regulator"] // 1000, path=PATH,
                            httponly=True, samesite="strict", secure=False)  # loopback over HTTP; a TLS proxy in front elsewhere
        return response

    @app.post(PATH + "/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        cookie = regulator(request)
        if cookie is None:
            return to_login()
        if not hmac.compare_digest(csrf.encode(), keys.csrf(cookie).encode()):
            return page("login.html", 403, error="表单已过期，请从页面重新退出 · The form expired; sign out from a page again")
        response = to_login()
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
        return response

    @app.get(PATH + "/", include_in_schema=False)
    def overview(request: Request, state: Annotated[list[str] | None, Query()] = None) -> Response:
        cookie = regulator(request)
        if cookie is None:
            return to_login()
        chosen = tuple(state or ())
        if any(s not in STATES for s in chosen):
            return message(400, "无效的筛选 · Not a state", f"state must be one of {', '.join(STATES)}", home=PATH + "/", csrf=keys.csrf(cookie),
                           who="regulator")
        scores = sorted(dict(chain.scores).items(), key=lambda kv: (-kv[1][1].index, kv[0]))
        columns: list[str] = []
        rows = []
        for lender, (day, s) in scores:
            rules = rules_of(s.model_sha256)
            cells = {}
            for line in s.lines:
                if line.indicator not in columns:
                    columns.append(line.indicator)
                top = max(rules[line.indicator].points) if line.indicator in rules else 0
                cells[line.indicator] = {"text": figure(line.indicator, line.value), "points": line.points, "top": top,
                                         "band": _points_band(line.points, top), "crossed": line.limit_crossed,
                                         "limit": figure(line.indicator, line.hard_limit) if line.hard_limit is not None else None}
            rows.append({"id": lender, "name": chain.lender_name(lender), "day": day.isoformat(), "index": s.index, "band": s.band,
                         "model": s.model_version, "cells": cells})
        now = now_ms()
        queue = [_deadline(w, now) for w in chain.warnings(states=chosen or None)]
        return page("overview.html", who="regulator", csrf=keys.csrf(cookie), rows=rows, columns=columns, queue=queue, info=chain.status(),
                    chosen=chosen, states=STATES, active=ACTIVE, generated_ms=now)

    @app.get(PATH + "/lenders/{lender_id:path}", include_in_schema=False)
    def lender_figures(request: Request, lender_id: str, days: Annotated[int, Query(ge=1, le=3660)] = 180) -> Response:
        cookie = regulator(request)
        if cookie is None:
            return to_login()
        series = chain.series(lender_id)[-days:] if PARTY_ID.fullmatch(lender_id) else []
        warnings = chain.warnings(lender_id=lender_id) if PARTY_ID.fullmatch(lender_id) else []
        latest = chain.scores.get(lender_id)
        if not series and not warnings and latest is None:
            return not_found(f"没有机构 {lender_id} 的数据 · No figures or warnings for lender {lender_id}", PATH + "/", csrf=keys.csrf(cookie),
                             who="regulator")
        model = chain.models.model
        labels = [d["day"] for d in series]
        names = [*model.rules, *(n for n in INDICATORS if n not in model.rules and any(n in d["values"] for d in series))]
        charts = []
        for name in names:
            rule = model.rules.get(name)
            values = [d["values"].get(name) for d in series]
            chart = line_chart(labels, values, title=f"{lender_id}: {label(name)}", fmt=lambda v, n=name: figure(n, v),
                               limit=rule.hard_limit if rule else None)
            charts.append({"name": name, "label": label(name), "svg": Markup(chart), "rule": rule,
                           "last": figure(name, values[-1]) if values else "—",
                           "limit": figure(name, rule.hard_limit) if rule and rule.hard_limit is not None else None})
        index_chart = line_chart(labels, [d["risk_index"] for d in series], title=f"{lender_id}: 风险指数 · risk index", low=0, high=100,
                                 stripes=INDEX_STRIPES, fmt=lambda v: f"{v:.0f}", color="#222", width=1100, height=170)
        now = now_ms()
        return page("lender.html", who="regulator", csrf=keys.csrf(cookie), lender_id=lender_id, name=chain.lender_name(lender_id),
                    series=series, charts=charts, index_chart=Markup(index_chart), strip=Markup(band_strip(labels, [d["band"] for d in series], width=1100)),
                    latest=latest, model=model, queue=[_deadline(w, now) for w in warnings], generated_ms=now)

    @app.get(PATH + "/warnings/{warning_id}", include_in_schema=False)
    def warning_page(request: Request, warning_id: str) -> Response:
        cookie = regulator(request)
        if cookie is None:
            return to_login()
        try:
            view = chain.warning_view(warning_id) if WARNING_ID.fullmatch(warning_id) else None
        except NotFound:
            view = None
        if view is None:
            return not_found(f"没有预警 {warning_id} · No warning {warning_id}", PATH + "/", csrf=keys.csrf(cookie), who="regulator")
        return page("warning.html", who="regulator", csrf=keys.csrf(cookie), base=PATH, **warning_context(view))

    @app.get(PATH + "/warnings/{warning_id}/steps/{seq}/document", include_in_schema=False)
    def warning_document(request: Request, warning_id: str, seq: str) -> Response:
        cookie = regulator(request)
        if cookie is None:
            return to_login()
        try:
            view = chain.warning_view(warning_id) if WARNING_ID.fullmatch(warning_id) else None
        except NotFound:
            view = None
        found = document_of(view, seq) if view else None
        return found or not_found(f"没有该步骤文件 · No step {seq} of warning {warning_id}", PATH + "/", csrf=keys.csrf(cookie), who="regulator")

    # --- a lender ------------------------------------------------------------------------------

    def lender_session(request: Request) -> tuple[str, str] | None:
        """The signed-in lender's cookie and id, while its session is genuine, unexpired and the lender enabled."""
        cookie = request.cookies.get(LENDER_COOKIE)
        lender = keys.subject("lender", cookie, now_ms())
        if not lender:
            return None
        found = chain.lenders.key(lender)
        return (cookie, lender) if found is not None and found[1] else None  # type: ignore[return-value]

    def lender_refused(request: Request, status: int = 401, detail: str | None = None, *, forget: bool = True) -> HTMLResponse:
        """Why a lender is not let in and how to get a link; ``forget``: the browser's lender cookie goes (a bad link keeps a good session)."""
        response = message(status, "机构登录 · Lender sign-in",
                           detail or "请用机构私钥生成的一次性链接登录 · Sign in with a one-use link made with your lender key.",
                           hint="在本机运行下面的命令，并在 5 分钟内打开它打印的链接 · Run this where your key is, then open the link "
                                "it prints within 5 minutes (each link works once):",
                           command="fivechains risk page-link --lender YOUR-ID --key YOUR.key --server " + str(request.base_url).rstrip("/"))
        if forget:
            response.delete_cookie(LENDER_COOKIE, path=LENDER_PATH, httponly=True, samesite="strict")
        return response

    @app.get(LENDER_PATH + "/sign-in", include_in_schema=False)
    def lender_sign_in(request: Request, lender: str = "", nonce: str = "", signature: str = "",
                       time_ms: Annotated[str, Query(alias="time")] = "") -> Response:
        if not (PARTY_ID.fullmatch(lender) and NONCE.fullmatch(nonce) and time_ms.isascii() and time_ms.isdigit() and len(time_ms) <= 16
                and 0 < len(signature) <= 256):
            return lender_refused(request, 400, "链接不完整或格式错误 · The link is incomplete or malformed (it needs lender, time, nonce and "
                                       "signature as page-link prints them).", forget=False)
        try:
            raw = b64decode_strict(signature.replace(" ", "+"))
        except (ValueError, binascii.Error):
            return lender_refused(request, 400, "签名不是有效的 base64 · The link's signature is not valid base64.", forget=False)
        try:
            chain.lenders.check_read_signature(lender, nonce, int(time_ms), "GET", LENDER_PATH, raw)
        except ServiceError as exc:
            return lender_refused(request, exc.status if 400 <= exc.status < 500 else 401, f"链接被拒绝 · The link was refused: {exc.detail}",
                                   forget=False)
        response = RedirectResponse(LENDER_PATH, status_code=303)
        response.set_cookie(LENDER_COOKIE, keys.issue("lender", lender, now_ms()), max_age=LIFETIME_MS["lender"] // 1000, path=LENDER_PATH,
                            httponly=True, samesite="strict", secure=False)
        return response

    @app.get(LENDER_PATH, include_in_schema=False)
    def lender_home(request: Request) -> Response:
        signed = lender_session(request)
        if signed is None:
            return lender_refused(request)
        cookie, lender = signed
        now = now_ms()
        return page("lender_home.html", who="lender", csrf=keys.csrf(cookie), lender_id=lender, name=chain.lender_name(lender),
                    queue=[_deadline(w, now) for w in chain.warnings(lender_id=lender)], generated_ms=now)

    @app.get(LENDER_PATH + "/", include_in_schema=False)
    def lender_slash() -> RedirectResponse:
        return RedirectResponse(LENDER_PATH, status_code=303)

    def own_warning(lender: str, warning_id: str) -> dict[str, Any] | None:
        try:
            return chain.warning_view(warning_id, lender_id=lender) if WARNING_ID.fullmatch(warning_id) else None
        except NotFound:
            return None  # another lender's warning: as if it did not exist

    @app.get(LENDER_PATH + "/warnings/{warning_id}", include_in_schema=False)
    def lender_warning(request: Request, warning_id: str) -> Response:
        signed = lender_session(request)
        if signed is None:
            return lender_refused(request)
        cookie, lender = signed
        view = own_warning(lender, warning_id)
        if view is None:
            return not_found(f"您没有预警 {warning_id} · You have no warning {warning_id}", LENDER_PATH, csrf=keys.csrf(cookie), who="lender")
        answer = (f'fivechains risk answer {view["id"]} --lender {lender} --key YOUR.key --text "…"' if view["state"] == "assigned" else None)
        return page("warning.html", who="lender", csrf=keys.csrf(cookie), base=LENDER_PATH, answer=answer, lender_id=lender,
                    **warning_context(view))

    @app.get(LENDER_PATH + "/warnings/{warning_id}/steps/{seq}/document", include_in_schema=False)
    def lender_document(request: Request, warning_id: str, seq: str) -> Response:
        signed = lender_session(request)
        if signed is None:
            return lender_refused(request)
        cookie, lender = signed
        view = own_warning(lender, warning_id)
        found = document_of(view, seq) if view else None
        return found or not_found(f"没有该步骤文件 · No step {seq} of your warning {warning_id}", LENDER_PATH, csrf=keys.csrf(cookie),
                                  who="lender")

    @app.post(LENDER_PATH + "/logout", include_in_schema=False)
    def lender_logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        cookie = request.cookies.get(LENDER_COOKIE)
        if keys.subject("lender", cookie, now_ms()) is None:
            return lender_refused(request)
        if not hmac.compare_digest(csrf.encode(), keys.csrf(cookie or "").encode()):
            return message(403, "表单已过期 · The form expired", "请从页面重新退出 · Sign out from a page again.", home=LENDER_PATH)
        response = message(200, "已退出 · Signed out", "您已退出机构页面 · You are signed out of your lender pages.")
        response.delete_cookie(LENDER_COOKIE, path=LENDER_PATH, httponly=True, samesite="strict")
        return response
