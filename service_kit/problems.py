"""RFC 9457 problem+json: one error family for every service and the handlers that map it.

A service raises a ``ServiceError`` subclass (it knows its status, problem type and title);
validation errors, HTTP errors, ledger errors and a lost or full database are mapped here the
same way for every chain, so a client sees one shape of error everywhere and never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chain.errors import ChainError, LedgerStateError

__all__ = ["PROBLEM", "PROBLEM_BASE", "ServiceError", "InvalidInput", "NotFound", "Unauthorized", "Forbidden", "Conflict",
           "TooLarge", "RateLimited", "problem", "install_problem_handlers", "disk_full"]

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
PROBLEM_BASE = "https://fivechains.example/problems/"
_SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
          409: "conflict", 413: "too-many-items", 415: "unsupported-media-type", 422: "invalid-input", 429: "rate-limited"}


class ServiceError(Exception):
    """Base: a request a service refuses, with a message the caller can act on."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(ServiceError):
    status, slug, title = 422, "invalid-input", "The request is not valid"


class NotFound(ServiceError):
    status, slug, title = 404, "not-found", "Not found"


class Unauthorized(ServiceError):
    status, slug, title = 401, "unauthorized", "Credentials are missing or wrong"


class Forbidden(ServiceError):
    status, slug, title = 403, "forbidden", "Not allowed"


class Conflict(ServiceError):
    status, slug, title = 409, "conflict", "Conflict"


class TooLarge(ServiceError):
    status, slug, title = 413, "too-large", "Too large"


class RateLimited(ServiceError):
    status, slug, title = 429, "rate-limited", "Too many requests"


def problem(status: int, slug: str, title: str, detail: str, instance: str, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """An RFC 9457 problem+json response."""
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail, "instance": instance, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def disk_full(exc: BaseException | None) -> bool:
    """Whether a storage failure comes down to a full disk (SQLite's SQLITE_FULL, ENOSPC, PostgreSQL's disk_full)."""
    seen = 0
    while exc is not None and seen < 10:
        text = str(exc).lower()
        if "disk is full" in text or "no space left" in text or "could not extend file" in text:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _insufficient_storage(request: Request) -> JSONResponse:
    return problem(507, "insufficient-storage", "The ledger's disk is full",
                   "nothing was stored; retry with the same Idempotency-Key once space is freed", request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error a service can meet to problem+json: its own errors, validation, HTTP, ledger and database."""

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        return problem(exc.status, exc.slug, exc.title, exc.detail, request.url.path, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()[:50]]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
        return problem(422, "invalid-input", "The request is not valid", detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        slug = _SLUGS.get(exc.status_code, f"http-{exc.status_code}")
        return problem(exc.status_code, slug, str(exc.detail), str(exc.detail), request.url.path, headers=exc.headers)

    @app.exception_handler(LedgerStateError)
    async def ledger_state(request: Request, exc: LedgerStateError):
        return problem(404, "not-in-ledger", "Not in the ledger", str(exc), request.url.path)

    @app.exception_handler(ChainError)
    async def chain_error(request: Request, exc: ChainError):
        log.error("chain error on %s: %s", request.url.path, exc)
        if disk_full(exc):
            return _insufficient_storage(request)
        return problem(503, "chain-unavailable", "The ledger could not answer", "try again shortly", request.url.path)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_unavailable(request: Request, exc: Exception):
        # the database went away (restart, lost connection) or its disk is full: a retry under the same Idempotency-Key is safe
        log.error("database unavailable on %s: %s", request.url.path, str(exc).splitlines()[0])
        if disk_full(exc):
            return _insufficient_storage(request)
        return problem(503, "chain-unavailable", "The ledger could not answer", "the database is unavailable; try again shortly",
                       request.url.path)
