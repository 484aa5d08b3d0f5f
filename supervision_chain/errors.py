"""The supervision chain's errors; each knows the HTTP status and RFC 9457 problem type it maps to."""

from __future__ import annotations


class SupervisionError(Exception):
    """Base: a request the chain refuses, with a message the caller can act on."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(SupervisionError):
    status, slug, title = 422, "invalid-input", "The request is not valid"


class BadSignature(SupervisionError):
    status, slug, title = 401, "bad-signature", "The request's signature does not verify"


class UnknownLender(SupervisionError):
    status, slug, title = 403, "unknown-lender", "Unknown or disabled lender"


class StaleRequest(SupervisionError):
    status, slug, title = 401, "stale-request", "The request's time is outside the accepted window"


class Replay(SupervisionError):
    status, slug, title = 409, "replay", "This request was already received"


class IdempotencyConflict(SupervisionError):
    status, slug, title = 422, "idempotency-conflict", "The idempotency key was used for a different request"


class TooManyItems(SupervisionError):
    status, slug, title = 413, "too-many-items", "Too many items in one request"


class NotFound(SupervisionError):
    status, slug, title = 404, "not-found", "Not found"


class Unauthorized(SupervisionError):
    status, slug, title = 401, "unauthorized", "Credentials are missing or wrong"


class Conflict(SupervisionError):
    status, slug, title = 409, "conflict", "Conflict"
