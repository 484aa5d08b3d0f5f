"""Deposit codes (存证编码): short, typeable, checked, unguessable names of judicial entries.

A code is 13 random characters of Crockford's base 32 (no I, L, O or U, so nothing is read as
1 or 0; 65 bits from the OS's CSPRNG: not guessable, not enumerable) and one check character
by the Damm algorithm over the quasigroup x∘y = 2·x + y in GF(2⁵). That quasigroup is totally
anti-symmetric, so the check catches every single wrong character and every swap of
neighbours (a test tries them all). Shown as ``XXXX-XXXX-XXXX-XX``; read back
case-insensitively, with or without hyphens and spaces; I and L are read as 1, O as 0.
"""

from __future__ import annotations

import base64
import secrets

__all__ = ["ALPHABET", "new_code", "new_codes", "check_char", "normalize", "is_valid", "format_code", "CodeError"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_READ_AS = {"I": "1", "L": "1", "O": "0"}
RANDOM_CHARS = 13
_SHIFTS = [5 * i for i in range(RANDOM_CHARS - 1, -1, -1)]
_POLY = 0b100101  # x⁵ + x² + 1, primitive: GF(2⁵)


def _double(x: int) -> int:
    x <<= 1
    return x ^ _POLY if x & 0b100000 else x


def _step(interim: int, value: int) -> int:
    """x∘y = 2·x + y in GF(2⁵): a totally anti-symmetric quasigroup (addition is XOR)."""
    return _double(interim) ^ value


class CodeError(ValueError):
    """Not a well-formed deposit code (wrong length, character or check character)."""


_TABLE = [[_step(i, v) for v in range(32)] for i in range(32)]  # the quasigroup, precomputed


def _interim(text: str) -> int:
    interim = 0
    for ch in text:
        interim = _TABLE[interim][_VALUE[ch]]
    return interim


def check_char(body: str) -> str:
    """The Damm check character: the one that brings the interim value back to 0."""
    return ALPHABET[_double(_interim(body))]


def new_code() -> str:
    """A fresh random code, normalized (14 characters, no hyphens)."""
    return new_codes(1)[0]


_FROM_RFC4648 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode())


def new_codes(count: int) -> list[str]:
    """``count`` fresh random codes (the judicial chain names a whole block's entries at once).

    Each code's 13 characters are the top 65 bits of its own 10 random bytes: 10 bytes are 16 base-32
    characters exactly, so one ``b32encode`` of them all, mapped to Crockford's alphabet in one call,
    holds every code's characters at a multiple of 16."""
    text = base64.b32encode(secrets.token_bytes(10 * count)).translate(_FROM_RFC4648).decode()
    table, value = _TABLE, _VALUE
    codes = []
    for start in range(0, 16 * count, 16):
        body = text[start:start + RANDOM_CHARS]
        interim = 0
        for ch in body:
            interim = table[interim][value[ch]]
        codes.append(body + ALPHABET[_double(interim)])
    return codes


def normalize(text: str) -> str:
    """Upper-case, drop hyphens and spaces; raise CodeError unless it is a well-formed code."""
    code = "".join(_READ_AS.get(ch, ch) for ch in "".join(text.split()).replace("-", "").upper())
    if len(code) != RANDOM_CHARS + 1:
        raise CodeError(f"a deposit code has {RANDOM_CHARS + 1} letters and digits (got {len(code)})")
    if any(ch not in _VALUE for ch in code):
        raise CodeError("a deposit code has only the digits 0–9 and the letters A–Z except U")
    if _interim(code) != 0:
        raise CodeError("the deposit code's check character does not match: a character was misread or two were swapped")
    return code


def is_valid(text: str) -> bool:
    try:
        normalize(text)
    except CodeError:
        return False
    return True


def format_code(code: str) -> str:
    """XXXX-XXXX-XXXX-XX for people."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
