"""RFC 8785 (JCS) canonical JSON: the one byte form of every JSON object that is signed or hashed.

The standard library's compact, sorted encoder is used whenever it is byte-for-byte JCS (no
floats, safe integers, ASCII keys, no lone surrogates), since it is several times faster; any
other value goes through the full canonicaliser.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

__all__ = ["MAX_SAFE_INT", "canonical_json", "is_plain_json"]

MAX_SAFE_INT = 2**53 - 1


def is_plain_json(value: Any) -> bool:
    """True when compact, sorted ``json.dumps`` is byte-for-byte RFC 8785 for ``value``:
    no floats (JCS formats numbers its own way), integers within ±2^53, ASCII keys
    (JCS sorts keys by UTF-16 code units), and no lone surrogates."""
    kind = type(value)
    if kind is str:
        return value.isascii() or not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if kind is int:
        return -MAX_SAFE_INT <= value <= MAX_SAFE_INT
    if value is None or kind is bool:
        return True
    if kind is list:
        return all(is_plain_json(v) for v in value)
    if kind is dict:
        return all(type(k) is str and k.isascii() and is_plain_json(v) for k, v in value.items())
    return False


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value (the standard library's encoder when that is identical)."""
    if is_plain_json(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return rfc8785.dumps(value)
