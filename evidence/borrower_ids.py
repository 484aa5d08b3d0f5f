"""Chinese borrower identifiers, checked, and the one byte string of each that goes into the OPRF.

Why: a borrower's pseudonym is the bureau's OPRF of the identifier, so two lenders get the same
pseudonym only if they feed the same bytes: an identifier is validated (a mistyped one would become a
different, unlinkable borrower), normalised (``x`` → ``X``, full-width → ASCII), and prefixed with its
kind so a person and an enterprise can never share a pseudonym.

- resident identity number (公民身份号码, GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2 check
  character; region code first digit 1–8; a real birth date from 1900 to today (China time).
- unified social credit code (统一社会信用代码, GB 32100-2015): 17 characters of the 31-character set
  without I, O, S, V, Z, and a MOD 31 check character.

Error messages say what is wrong but never repeat the identifier, since they end up in logs.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from .loan_reports import BORROWER_KINDS

__all__ = [
    "OPRF_INPUT_PREFIX",
    "USCC_CHARSET",
    "BorrowerId",
    "BorrowerIdError",
    "check_character_enterprise",
    "check_character_person",
    "oprf_input",
    "parse_borrower_id",
    "parse_enterprise_code",
    "parse_person_id",
    "pseudonym",
]

PERSON, ENTERPRISE = BORROWER_KINDS
OPRF_INPUT_PREFIX = b"fivechains.borrower/v1\x00"
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_DIGITS = frozenset("0123456789")
_USCC_SET = frozenset(USCC_CHARSET)
_PERSON_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_PERSON_CHECK = "10X98765432"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CHINA_TIME = dt.timezone(dt.timedelta(hours=8))


class BorrowerIdError(ValueError):
    """An identifier that is not a valid resident identity number or unified social credit code."""


@dataclass(frozen=True)
class BorrowerId:
    """A validated identifier: ``kind`` is "person" or "enterprise" (as in reports), ``value`` the normalised 18 characters."""

    kind: str
    value: str


def check_character_person(first17: str) -> str:
    """The GB 11643 check character (0–9 or X) of the first 17 digits of a resident identity number."""
    if len(first17) != 17 or not set(first17) <= _DIGITS:
        raise BorrowerIdError("a resident identity number's check character is computed from 17 digits")
    return _PERSON_CHECK[sum(int(c) * w for c, w in zip(first17, _PERSON_WEIGHTS)) % 11]


def check_character_enterprise(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters of a unified social credit code."""
    if len(first17) != 17 or not set(first17) <= _USCC_SET:
        raise BorrowerIdError(f"a unified social credit code's check character is computed from 17 characters of {USCC_CHARSET}")
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return USCC_CHARSET[(31 - total % 31) % 31]


def _normalise(text: str) -> str:
    """Full-width forms to ASCII (NFKC), surrounding spaces dropped, letters upper-cased."""
    if not isinstance(text, str):
        raise BorrowerIdError(f"a borrower identifier must be text, not {type(text).__name__}")
    return unicodedata.normalize("NFKC", text).strip().upper()


def _length(value: str, what: str) -> None:
    if len(value) != 18:
        raise BorrowerIdError(f"{what} must be 18 characters, not {len(value)}")


def parse_person_id(text: str, *, today: dt.date | None = None) -> BorrowerId:
    """A resident identity number (lowercase x accepted), checked; ``today`` defaults to today in China."""
    what = "a resident identity number"
    value = _normalise(text)
    _length(value, what)
    if not set(value[:17]) <= _DIGITS or not (value[17] in _DIGITS or value[17] == "X"):
        raise BorrowerIdError(f"{what} is 17 digits and a final digit or X")
    if value[0] not in "12345678":
        raise BorrowerIdError(f"{what} starts with a region code whose first digit is 1–8, not {value[0]}")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise BorrowerIdError(f"{what} holds a birth date (characters 7–14, YYYYMMDD) that does not exist") from None
    if born.year < 1900:
        raise BorrowerIdError(f"{what} holds a birth date before 1900")
    if born > (today or dt.datetime.now(_CHINA_TIME).date()):
        raise BorrowerIdError(f"{what} holds a birth date in the future")
    expected = check_character_person(value[:17])
    if value[17] != expected:
        raise BorrowerIdError(f"{what}: check character should be {expected}, not {value[17]}")
    return BorrowerId(PERSON, value)


def parse_enterprise_code(text: str) -> BorrowerId:
    """A unified social credit code (any case), checked."""
    what = "a unified social credit code"
    value = _normalise(text)
    _length(value, what)
    bad = sorted(set(value) - _USCC_SET)
    if bad:
        raise BorrowerIdError(f"{what} uses only {USCC_CHARSET} (no I, O, S, V, Z), not {', '.join(repr(c) for c in bad)}")
    expected = check_character_enterprise(value[:17])
    if value[17] != expected:
        raise BorrowerIdError(f"{what}: check character should be {expected}, not {value[17]}")
    return BorrowerId(ENTERPRISE, value)


def parse_borrower_id(text: str, kind: str | None = None) -> BorrowerId:
    """The identifier of a person or an enterprise, checked and normalised.

    Without ``kind`` the shape decides: 17 digits and a final digit or X is a resident identity number,
    unless it starts with 9 (no region code does; the market regulator's codes do); anything else is a
    unified social credit code. Codes of other registrars can be all digits too, so a caller that knows
    the kind (a report's ``borrower_kind``) should pass it.
    """
    if kind == PERSON:
        return parse_person_id(text)
    if kind == ENTERPRISE:
        return parse_enterprise_code(text)
    if kind is not None:
        raise BorrowerIdError(f"borrower kind must be one of {', '.join(BORROWER_KINDS)}, not {kind!r}")
    value = _normalise(text)
    if len(value) == 18 and value[0] != "9" and set(value[:17]) <= _DIGITS and (value[17] in _DIGITS or value[17] == "X"):
        return parse_person_id(value)
    return parse_enterprise_code(value)


def oprf_input(bid: BorrowerId) -> bytes:
    """The OPRF input of an identifier: b"fivechains.borrower/v1\\x00" || kind || b"\\x00" || value."""
    if bid.kind not in BORROWER_KINDS:
        raise BorrowerIdError(f"borrower kind must be one of {', '.join(BORROWER_KINDS)}, not {bid.kind!r}")
    return OPRF_INPUT_PREFIX + bid.kind.encode() + b"\x00" + bid.value.encode("ascii")


def pseudonym(output: bytes) -> str:
    """The ``borrower`` field of a report: the first 32 bytes of the 64-byte OPRF output, as lowercase hex."""
    if not isinstance(output, bytes) or len(output) != 64:
        raise BorrowerIdError("a pseudonym is made from a 64-byte OPRF output")
    return output[:32].hex()
