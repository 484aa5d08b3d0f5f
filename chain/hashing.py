"""Hash suites: SHA-256 by default, SM3 (GB/T 32905) as the national-standard option.

A suite is a small value object so the Merkle code is written once for both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class HashSuite:
    """A named hash function with a fixed digest size."""

    name: str
    new: Callable[..., hashlib._Hash]
    digest_size: int

    def hash(self, data: bytes) -> bytes:
        return self.new(data).digest()

    def __repr__(self) -> str:  # short, for test ids and error messages
        return f"HashSuite({self.name})"


def _sm3(data: bytes = b"") -> hashlib._Hash:
    return hashlib.new("sm3", data)


SHA256 = HashSuite("sha256", hashlib.sha256, 32)
SM3 = HashSuite("sm3", _sm3, 32)

SUITES: dict[str, HashSuite] = {SHA256.name: SHA256, SM3.name: SM3}


def suite_by_name(name: str) -> HashSuite:
    """Return the suite called ``name`` ("sha256" or "sm3"), with a clear error otherwise."""
    try:
        suite = SUITES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown hash suite {name!r}; choose one of {sorted(SUITES)}") from None
    if suite is SM3 and "sm3" not in hashlib.algorithms_available:
        raise ValueError("this Python's OpenSSL has no SM3; install an OpenSSL 3 build with SM3")
    return suite
