"""The supervision chain's wire and ledger encodings, shared by the server and the lender SDK.

Everything signed or hashed here has exactly one byte form:

* an **item** (what a lender deposits about one loan record) is canonical JSON (RFC 8785);
* a **request** is signed by the lender over the RFC 9162 root of its items' leaf hashes,
  so one signature covers a batch and any single item can later be tied to it;
* a **ledger entry** is the public record: digest, record type, lender, event and accepted
  times, and the hash of the full item (loan id and metadata stay private to the lender);
* a **receipt** is a signed note from the chain: these indexes, accepted at this time,
  sealed by that deadline.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from chain.encoding import b64decode_strict, b64encode
from chain.errors import NoteError
from chain.merkle import leaf_hash, root
from evidence.canonical_json import MAX_SAFE_INT, canonical_json  # noqa: F401 (re-exported)
from evidence.digests import digest_bytes, digest_json, new_salt  # noqa: F401 (re-exported)

__all__ = [
    "RECORD_TYPES",
    "Item",
    "item_bytes",
    "entry_bytes",
    "request_text",
    "receipt_text",
    "parse_receipt_text",
    "digest_bytes",
    "digest_json",
    "new_salt",
    "items_root",
]

RECORD_TYPES = ("contract", "disbursement", "repayment", "overdue", "collection", "other")
REQUEST_TAG = "fivechains.deposit-request/v1"
RECEIPT_TAG = "fivechains.deposit-receipt/v1"
READ_TAG = "fivechains.read/v1"
_PLAIN = re.compile(r"^[A-Za-z0-9._:/-]*$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")


@dataclass(frozen=True)
class Item:
    """One deposit: the digest of a loan record and what it is about."""

    digest: str  # lowercase hex of the record's digest
    record_type: str
    loan_id: str
    event_ms: int  # when the recorded event happened (ms since the epoch)
    meta: dict[str, Any] | None = None


def item_bytes(item: Item) -> bytes:
    """Canonical (RFC 8785) bytes of an item.

    Without metadata every value is a string or a safe integer, for which compact sorted
    ``json.dumps`` is byte-for-byte RFC 8785 and three times faster; metadata (which may
    hold any JSON) goes through the full canonicaliser.
    """
    if item.meta is None and _PLAIN.fullmatch(item.loan_id) and _PLAIN.fullmatch(item.digest) and _PLAIN.fullmatch(item.record_type):
        # only characters JSON never escapes: this is exactly what json.dumps/RFC 8785 would write
        return b'{"digest":"%s","event":%d,"loan":"%s","type":"%s"}' % (
            item.digest.encode(), item.event_ms, item.loan_id.encode(), item.record_type.encode())
    fields: dict[str, Any] = {"digest": item.digest, "event": item.event_ms, "loan": item.loan_id, "type": item.record_type}
    if item.meta is not None:
        fields["meta"] = item.meta
        return canonical_json(fields)
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def items_root(items: list[Item]) -> bytes:
    """RFC 9162 root of the items' leaf hashes: what the lender signs."""
    return root([leaf_hash(item_bytes(i)) for i in items])


def entry_bytes(lender_id: str, item: Item, item_hash: bytes, accepted_ms: int) -> bytes:
    """The public ledger entry for one deposit (loan id and metadata only as ``item`` hash)."""
    lender = f'"{lender_id}"' if _PLAIN.fullmatch(lender_id) else json.dumps(lender_id, ensure_ascii=False)
    return (
        '{"accepted":%d,"digest":"%s","event":%d,"item":"%s","lender":%s,"type":"%s"}'
        % (accepted_ms, item.digest, item.event_ms, item_hash.hex(), lender, item.record_type)
    ).encode()


def request_text(lender_id: str, nonce: str, timestamp_ms: int, count: int, items_root_hash: bytes) -> str:
    """What a lender's key signs for a deposit request."""
    return (
        f"{REQUEST_TAG}\nlender {lender_id}\nnonce {nonce}\ntime {timestamp_ms}\n"
        f"items {count}\nroot {b64encode(items_root_hash)}\n"
    )


def read_text(lender_id: str, timestamp_ms: int, method: str, path_and_query: str) -> str:
    """What a lender's key signs to read its own deposits."""
    return f"{READ_TAG}\nlender {lender_id}\ntime {timestamp_ms}\n{method.upper()} {path_and_query}\n"


@dataclass(frozen=True)
class ReceiptFields:
    chain_id: str
    lender_id: str
    request_root: bytes
    first_index: int
    count: int
    accepted_ms: int
    seal_by_ms: int


def receipt_text(r: ReceiptFields) -> str:
    """The note text the chain signs for a receipt."""
    return (
        f"{RECEIPT_TAG}\nchain {r.chain_id}\nlender {r.lender_id}\nrequest {b64encode(r.request_root)}\n"
        f"first {r.first_index}\ncount {r.count}\naccepted {r.accepted_ms}\nseal-by {r.seal_by_ms}\n"
    )


def parse_receipt_text(text: str) -> ReceiptFields:
    lines = text.split("\n")
    keys = ["chain", "lender", "request", "first", "count", "accepted", "seal-by"]
    if len(lines) != len(keys) + 2 or lines[0] != RECEIPT_TAG or lines[-1] != "":
        raise NoteError("not a deposit receipt")
    values = {}
    for key, line in zip(keys, lines[1:-1]):
        k, _, v = line.partition(" ")
        if k != key or not v:
            raise NoteError(f"receipt line {line!r} should be '{key} <value>'")
        values[key] = v
    try:
        fields = ReceiptFields(
            values["chain"], values["lender"], b64decode_strict(values["request"]), int(values["first"]),
            int(values["count"]), int(values["accepted"]), int(values["seal-by"]),
        )
    except ValueError as exc:
        raise NoteError(f"malformed receipt: {exc}") from None
    if receipt_text(fields) != text:
        raise NoteError("the receipt is not in canonical form")
    return fields


def valid_id(value: str) -> bool:
    """Lender ids, loan ids and nonces: short, printable, no spaces (they appear in signed text)."""
    return bool(ID_PATTERN.fullmatch(value))  # (match would let a trailing newline through "$")
