"""Digests of loan records ("数字指纹"), as lenders compute them and courts recompute them.

A record is a file (the digest of its bytes) or a JSON object (the digest of its RFC 8785 form);
a random salt may precede the bytes so that a guessable record cannot be found from its digest.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from .canonical_json import canonical_json

__all__ = ["new_salt", "digest_bytes", "digest_json"]


def new_salt() -> str:
    """16 random bytes, hex: mixed into a record's digest so a guessable record stays hidden."""
    return os.urandom(16).hex()


def digest_bytes(content: bytes, salt: str | None = None) -> str:
    """SHA-256 of a file's bytes, preceded by the salt's bytes when there is one."""
    h = hashlib.sha256()
    if salt:
        h.update(bytes.fromhex(salt))
    h.update(content)
    return h.hexdigest()


def digest_json(record: Any, salt: str | None = None) -> str:
    """SHA-256 of a JSON record's RFC 8785 canonical form (salted as for files)."""
    return digest_bytes(canonical_json(record), salt)
