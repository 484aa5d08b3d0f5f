"""The deposit body's fast decoder: msgspec structs with the same rules as ``schemas.DepositRequestIn``.

A 1,000-item batch through FastAPI costs ``json.loads``, a Pydantic model per item, then an ``Item``
per item. Here one msgspec pass decodes the body straight into ``Item`` structs (a constrained
subclass), checking every rule of the Pydantic schema. The decoder is only a fast path: it accepts
a subset of what the Pydantic model accepts (it is strict where Pydantic is lax, e.g. ``"5"`` for an
integer), and any body it refuses goes through FastAPI and Pydantic as before, so the accepted
bodies, the 422 problems and the OpenAPI document stay exactly those of ``schemas.py``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from ..records import MAX_SAFE_INT, Item

__all__ = ["WireItem", "WireRequest", "decode_deposit"]

# msgspec checks types, lengths and ranges per value in C; the character rules (a regular expression
# per value in Pydantic, costly per call) are checked below with one call per rule for the whole body
_HEX64 = msgspec.Meta(min_length=64, max_length=64)
_ID = msgspec.Meta(min_length=1, max_length=64)
_SAFE = msgspec.Meta(ge=0, le=MAX_SAFE_INT)
_HEX = re.compile(r"[0-9a-f]*")
_IDS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*(?:\n[A-Za-z0-9][A-Za-z0-9._:/-]*)*")  # ids, one a line


class WireItem(Item, frozen=True, forbid_unknown_fields=True):
    """An ``Item`` as decoded from a request: the rules of ``schemas.DepositItemIn`` (characters: ``valid_chars``)."""

    digest: Annotated[str, _HEX64]
    record_type: Literal["contract", "disbursement", "repayment", "overdue", "collection", "consent", "other"]
    loan_id: Annotated[str, _ID]
    event_time_ms: Annotated[int, _SAFE]
    commitment_salt: Annotated[str, _HEX64]
    metadata: dict[str, Any] | None = None
    report: dict[str, Any] | None = None  # decoded as a plain object: its typed rules are checked by the chain (``parse_report``)


class WireRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The rules of ``schemas.DepositRequestIn`` (characters: ``valid_chars``)."""

    lender_id: Annotated[str, _ID]
    nonce: Annotated[str, _ID]
    timestamp_ms: Annotated[int, _SAFE]
    items: Annotated[list[WireItem], msgspec.Meta(min_length=1)]
    signature: str


_DECODER = msgspec.json.Decoder(WireRequest)


def valid_chars(request: WireRequest) -> bool:
    """The schema's character rules for every id and hex value, one regular-expression call per rule.

    With the lengths already checked (64 each), the concatenated hex values are all lowercase hex
    exactly when each is. The ids are joined one a line: the pattern matches exactly when each line
    is an id, and the count of line breaks shows that no id held one of its own.
    """
    items = request.items
    ids = "\n".join([request.lender_id, request.nonce, *[i.loan_id for i in items]])
    return bool(_HEX.fullmatch("".join([i.digest + i.commitment_salt for i in items]))) and \
        ids.count("\n") == len(items) + 1 and bool(_IDS.fullmatch(ids))


def decode_deposit(body: bytes) -> WireRequest | None:
    """The request in ``body``, or None when the fast decoder does not accept it (then Pydantic decides)."""
    try:
        request = _DECODER.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return request if valid_chars(request) else None
