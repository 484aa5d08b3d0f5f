"""Credentials every service checks the same way: bearer tokens compared in constant time.

The regulator's token and judges' API tokens arrive as ``Authorization: Bearer …``; a token is
kept only as its SHA-256 and compared with ``hmac.compare_digest``, so neither the token nor a
timing difference leaks. Lenders and parties sign their requests instead (see each chain's
request texts); the header names they use are parsed here too.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from .problems import Unauthorized

__all__ = ["bearer_token", "TokenDigest", "SignedHeaders", "signed_headers", "body_target"]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


class TokenDigest:
    """A secret token kept only as its digest; ``check`` raises Unauthorized unless the given token matches."""

    def __init__(self, token: str, what: str = "the token") -> None:
        self._digest = hashlib.sha256(token.encode()).digest()
        self.what = what

    def matches(self, token: str | None) -> bool:
        given = hashlib.sha256((token or "").encode()).digest()
        return bool(token) and hmac.compare_digest(given, self._digest)

    def check(self, token: str | None) -> None:
        if not self.matches(token):
            raise Unauthorized(f"{self.what} is missing or wrong")


@dataclass(frozen=True)
class SignedHeaders:
    """A signed read: who signs, when (ms), a fresh nonce, and the base64 signature."""

    party_id: str
    timestamp_ms: int
    nonce: str
    signature_b64: str


def signed_headers(party_id: str | None, timestamp: str | None, nonce: str | None, signature: str | None,
                   id_header: str = "X-Lender-Id") -> SignedHeaders:
    """Parse the headers of a signed read, or raise Unauthorized naming what is missing."""
    if not (party_id and timestamp and nonce and signature) or not timestamp.isdigit() or len(timestamp) > 16:
        raise Unauthorized(f"sign the request: {id_header}, X-Timestamp (ms), X-Nonce and X-Signature headers")
    return SignedHeaders(party_id, int(timestamp), nonce, signature)


def body_target(path: str, body: bytes) -> str:
    """What a party signs for a request with a body: the path and the body's SHA-256 (the signature covers the body)."""
    return f"{path}?body-sha256={hashlib.sha256(body).hexdigest()}"
