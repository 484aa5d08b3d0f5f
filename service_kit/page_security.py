"""Protections every service's web pages share: security headers on every answer (a Content-Security-Policy
the service chooses, framing refused), CSRF tokens compared in constant time, and whether a cookie must be
``Secure`` (served over HTTPS, directly or behind a proxy the operator says to trust)."""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "DOCS_CSP", "PAGES_CSP", "new_token", "same_token", "is_https"]

# pages without scripts, whose server-drawn charts carry inline styles
PAGES_CSP = ("default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
             "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# the interactive API docs (Swagger UI, ReDoc) load their scripts from a CDN and start them inline
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
DOCS = ("/docs", "/redoc")


class SecurityHeaders:
    """Adds Content-Security-Policy, X-Frame-Options DENY, nosniff and no-referrer to every HTTP answer."""

    def __init__(self, app: ASGIApp, policy: str = PAGES_CSP) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_CSP if scope["path"].startswith(DOCS) else self.policy

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the one on record."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given).encode(), str(expected).encode())


def is_https(request: Request, trust_forwarded_proto: bool) -> bool:
    """Served over HTTPS: directly, or (only when configured to trust it) per the proxy's X-Forwarded-Proto."""
    if request.url.scheme == "https":
        return True
    return trust_forwarded_proto and request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower() == "https"
