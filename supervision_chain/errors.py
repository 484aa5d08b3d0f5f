"""The supervision chain's errors; each knows the HTTP status and RFC 9457 problem type it maps to."""

from __future__ import annotations

from service_kit.party_auth import BadSignature as _KitBadSignature
from service_kit.party_auth import DisabledParty, ReplayedRead, StaleRequest, TooManyReads
from service_kit.problems import Conflict, InvalidInput, NotFound, ServiceError, Unauthorized

__all__ = ["SupervisionError", "InvalidInput", "BadSignature", "DisabledLender", "StaleRequest", "Replay", "ReplayedRead",
           "IdempotencyConflict", "TooManyItems", "TooManyReads", "NotFound", "Unauthorized", "Conflict", "NOT_SIGNED_BY_A_LENDER"]

# One detail for an unknown lender and a bad signature alike: the answer must not tell which ids are registered.
NOT_SIGNED_BY_A_LENDER = "the signature does not verify with the key of a registered lender of this chain"


class SupervisionError(ServiceError):
    """Base: a request the supervision chain refuses."""


class BadSignature(_KitBadSignature, SupervisionError):
    """An unknown lender, a bad signature, or a request signed for another chain: one answer for all."""

    def __init__(self, detail: str = NOT_SIGNED_BY_A_LENDER) -> None:
        super().__init__(detail)


class DisabledLender(DisabledParty, SupervisionError):
    """Said only to a request whose signature verifies: the key holder learns it, nobody else."""


class Replay(SupervisionError):
    status, slug, title = 409, "replay", "This request was already received"


class IdempotencyConflict(SupervisionError):
    status, slug, title = 422, "idempotency-conflict", "The idempotency key was used for a different request"


class TooManyItems(SupervisionError):
    status, slug, title = 413, "too-many-items", "Too many items in one request"


