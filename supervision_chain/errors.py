"""The supervision chain's errors; each knows the HTTP status and RFC 9457 problem type it maps to."""

from __future__ import annotations

from service_kit.problems import Conflict, InvalidInput, NotFound, ServiceError, Unauthorized

__all__ = ["SupervisionError", "InvalidInput", "BadSignature", "UnknownLender", "StaleRequest", "Replay",
           "IdempotencyConflict", "TooManyItems", "NotFound", "Unauthorized", "Conflict"]


class SupervisionError(ServiceError):
    """Base: a request the supervision chain refuses."""


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
