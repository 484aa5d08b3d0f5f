"""What the public entry encodings share: canonical JSON objects of a fixed key set, parsed strictly.

An entry is canonical JSON (RFC 8785: sorted keys, compact). Most entries hold only
characters JSON never escapes; those are written with a format string and read with one
regular expression (no JSON parser), byte for byte what the generic path gives. A parser
accepts only the canonical bytes of a well-typed entry, so one entry has one byte form.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .canonical_json import MAX_SAFE_INT

__all__ = ["EntryError", "PLAIN", "HEX64", "SAFE_INT", "plain", "generic_bytes", "load_object"]

PLAIN = re.compile(r"[A-Za-z0-9._:/-]*")  # characters JSON never escapes (fast paths use only these)
HEX64 = re.compile(r"[0-9a-f]{64}")
SAFE_INT = r"(0|[1-9][0-9]{0,15})"  # ≤ 16 digits; the range is checked after


class EntryError(ValueError):
    """The bytes are not an entry of this kind in its canonical form."""


def plain(*values: str) -> bool:
    return all(PLAIN.fullmatch(v) for v in values)


def generic_bytes(fields: dict[str, Any]) -> bytes:
    """The canonical bytes of an entry whose values are strings and safe integers."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_object(data: bytes, ints: tuple[str, ...], strs: tuple[str, ...], what: str) -> dict[str, Any]:
    """A JSON object with exactly these integer and string fields (ints in 0..2^53-1), else EntryError."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise EntryError(f"not {what}: not JSON") from None
    if type(value) is not dict or set(value) != set(ints) | set(strs):
        raise EntryError(f"not {what}: the fields are not {sorted(set(ints) | set(strs))}")
    for key in ints:
        if type(value[key]) is not int or not 0 <= value[key] <= MAX_SAFE_INT:
            raise EntryError(f"not {what}: {key} must be an integer in 0..2^53-1")
    for key in strs:
        if type(value[key]) is not str:
            raise EntryError(f"not {what}: {key} must be a string")
    return value
