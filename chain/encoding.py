"""Strict base64: one text per value, so a changed character can never decode to the same bytes.

Python's decoder ignores the unused low bits of the last character ("…I8=" and "…I9="
decode alike); signed and hashed formats must refuse the non-canonical spelling.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["b64decode_strict", "b64encode"]


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """Decode standard, padded base64; raise ValueError unless ``text`` is its canonical form."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw
