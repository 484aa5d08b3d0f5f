"""The supervision chain's wire and ledger encodings, shared by the server and the lender SDK.

Everything signed or hashed here has exactly one byte form:

* an **item** (what a lender deposits about one loan record, with its typed regulatory report when it
  carries one: ``evidence.loan_reports``) is canonical JSON (RFC 8785);
* a **request** is signed by the lender over the RFC 9162 root of its items' leaf hashes,
  so one signature covers a batch and any single item can later be tied to it;
* a **ledger entry** is the public record (``evidence.supervision_entry``): digest, record type,
  lender, event and deposit times, and the commitment to the full item: its SHA-256, which covers
  a 32-byte random salt, so the loan id and metadata stay private even when they are guessable;
* a **receipt** is a signed note from the chain: these indexes, accepted at this time,
  sealed by that deadline.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

import msgspec

from chain.encoding import b64decode_strict, b64encode
from chain.errors import NoteError
from chain.merkle import leaf_hash, root
from evidence.canonical_json import MAX_SAFE_INT, canonical_json  # noqa: F401 (re-exported)
from evidence.digests import digest_bytes, digest_json, new_salt  # noqa: F401 (re-exported)
from evidence.entry_codec import generic_bytes, plain
from evidence.loan_reports import REPORT_TYPES, ReportError, parse_report, report_json
from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry

__all__ = [
    "RECORD_TYPES",
    "Item",
    "new_item_salt",
    "item_bytes",
    "encoded_item",
    "encoded_items",
    "item_report",
    "REPORT_KEY_BYTES",
    "commitment",
    "entry_bytes",
    "entries_bytes",
    "request_text",
    "receipt_text",
    "parse_receipt_text",
    "digest_bytes",
    "digest_json",
    "new_salt",
    "items_root",
]

RECORD_TYPES = ("contract", "disbursement", "repayment", "overdue", "collection", "consent", "other")
REQUEST_TAG = "fivechains.deposit-request/v2"
RECEIPT_TAG = "fivechains.deposit-receipt/v2"
READ_TAG = "fivechains.read/v2"
SALT_PATTERN = re.compile(r"^[0-9a-f]{64}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")


class Item(msgspec.Struct, frozen=True):
    """One deposit: the digest of a loan record, what it is about, and the salt that hides it.

    A frozen msgspec struct rather than a dataclass: building one costs a tenth as much, and the
    API decodes request bodies straight into a constrained subclass (``api/fast_body.py``)."""

    digest: str  # lowercase hex of the record's digest
    record_type: str
    loan_id: str
    event_time_ms: int  # when the recorded event happened (ms since the epoch)
    commitment_salt: str  # 32 random bytes, lowercase hex: makes the public commitment hiding
    metadata: dict[str, Any] | None = None
    report: dict[str, Any] | None = None  # the typed report of its record type (``evidence.loan_reports``), as JSON


def new_item_salt() -> str:
    """A fresh per-item salt: 32 random bytes as 64 lowercase hex characters."""
    return secrets.token_bytes(32).hex()


def item_bytes(item: Item) -> bytes:
    """Canonical (RFC 8785) bytes of an item: what the lender signs and the commitment hashes."""
    return encoded_item(item)[0]


def encoded_items(items: list[Item], reports: list[bytes | None] | None = None) -> list[tuple[bytes, str | None]]:
    """``encoded_item`` of each item; one regular-expression call decides for a whole request that
    no string needs escaping (the pattern is a class of characters: it matches the concatenation
    exactly when it matches each value), then each item without metadata or report is one format.

    ``reports``, when given, holds each item's report already in its canonical bytes (the server
    has them from ``report_json``): they are spliced in rather than canonicalised again."""
    if reports is None:
        reports = [None if i.report is None else canonical_json(i.report) for i in items]
    if not plain("".join([i.loan_id + i.digest + i.record_type + i.commitment_salt for i in items])):
        return [_with_report(encoded_item(i, without_report=True), r) for i, r in zip(items, reports)]
    fmt = '{"commitment_salt":"%s","digest":"%s","event_time_ms":%d,"loan_id":"%s","record_type":"%s"}'
    return [((fmt % (i.commitment_salt, i.digest, i.event_time_ms, i.loan_id, i.record_type)).encode(), None)
            if i.metadata is None and r is None else _with_report(encoded_item(i, without_report=True), r)
            for i, r in zip(items, reports)]


def _with_report(encoded: tuple[bytes, str | None], report: bytes | None) -> tuple[bytes, str | None]:
    """An item's canonical bytes with its report's canonical bytes spliced in last (``report`` sorts after every other key)."""
    if report is None:
        return encoded
    return b'%s,"report":%s}' % (encoded[0][:-1], report), encoded[1]


def encoded_item(item: Item, *, without_report: bool = False) -> tuple[bytes, str | None]:
    """An item's canonical bytes and its metadata's canonical text (None without metadata), each made once.

    When the strings hold only characters JSON never escapes, every value is a string or a safe
    integer, and the keys are written in sorted order, a format string is byte-for-byte RFC 8785;
    the metadata and the report (which may hold any JSON) go through the canonicaliser once and are
    spliced in under their keys (``metadata`` sorts between ``loan_id`` and ``record_type``,
    ``report`` after ``record_type``, last).
    """
    if not without_report and item.report is not None:
        return _with_report(encoded_item(item, without_report=True), canonical_json(item.report))
    if not plain(item.loan_id + item.digest + item.record_type + item.commitment_salt):  # one regex call, same answer
        fields: dict[str, Any] = {"digest": item.digest, "event_time_ms": item.event_time_ms, "loan_id": item.loan_id,
                                  "record_type": item.record_type, "commitment_salt": item.commitment_salt}
        if item.metadata is None:
            return generic_bytes(fields), None
        metadata = canonical_json(item.metadata)
        fields["metadata"] = item.metadata
        return canonical_json(fields), metadata.decode()
    head = b'{"commitment_salt":"%s","digest":"%s","event_time_ms":%d,"loan_id":"%s"' % (
        item.commitment_salt.encode(), item.digest.encode(), item.event_time_ms, item.loan_id.encode())
    if item.metadata is None:
        return b'%s,"record_type":"%s"}' % (head, item.record_type.encode()), None
    metadata = canonical_json(item.metadata)
    return b'%s,"metadata":%s,"record_type":"%s"}' % (head, metadata, item.record_type.encode()), metadata.decode()


REPORT_KEY_BYTES = len(b',"report":')  # what splicing a report into an item adds besides the report itself


def item_report(record_type: str, report: Any, path: str = "report") -> bytes | None:
    """The canonical bytes (``report_json``) of an item's report, checked by the rules of its record type, or
    ``ReportError`` naming the field: a ``consent`` item needs its report, an ``other`` item has none, the rest may."""
    if report is None:
        if record_type == "consent":
            raise ReportError(path, "missing field (a consent item carries its report)")
        return None
    if record_type not in REPORT_TYPES:
        raise ReportError(path, f"no report for record type {record_type!r} (one of {', '.join(REPORT_TYPES)})")
    return report_json(parse_report(record_type, report, path))


def commitment(item: Item) -> bytes:
    """The public commitment to an item: SHA-256 of its canonical bytes (hiding, thanks to the salt)."""
    return hashlib.sha256(item_bytes(item)).digest()


def items_root(items: list[Item]) -> bytes:
    """RFC 9162 root of the items' leaf hashes: what the lender signs."""
    return root([leaf_hash(item_bytes(i)) for i in items])


def entry_bytes(lender_id: str, item: Item, item_commitment: bytes, deposit_time_ms: int) -> bytes:
    """The public ledger entry for one deposit (loan id, metadata and salt only inside the commitment)."""
    return encode_supervision_entry(SupervisionEntry(item_commitment.hex(), deposit_time_ms, item.digest, item.event_time_ms,
                                                     lender_id, item.record_type))


def entries_bytes(lender_id: str, items: list[Item], commitments: list[bytes], deposit_time_ms: int) -> list[bytes]:
    """``entry_bytes`` of a request's items, all deposited at one time: the group commit's hot loop.

    One regular-expression call decides for the whole request that no value needs escaping (the
    pattern is a class of characters, so it matches the concatenation exactly when it matches
    each value); the lender and the time are then written into the format once, not per item.
    """
    if not plain(lender_id + "".join([i.digest + i.record_type for i in items])):
        return [entry_bytes(lender_id, i, c, deposit_time_ms) for i, c in zip(items, commitments)]
    fmt = '{"commitment":"%s","deposit_time_ms":' + str(deposit_time_ms) + ',"digest":"%s","event_time_ms":%d,"lender_id":"' + lender_id + '","record_type":"%s"}'
    return [(fmt % (c.hex(), i.digest, i.event_time_ms, i.record_type)).encode() for i, c in zip(items, commitments)]


def request_text(chain_id: str, lender_id: str, nonce: str, timestamp_ms: int, count: int, items_root_hash: bytes) -> str:
    """What a lender's key signs for a deposit request (bound to one chain: no replay on another)."""
    return (
        f"{REQUEST_TAG}\nchain {chain_id}\nlender {lender_id}\nnonce {nonce}\ntime {timestamp_ms}\n"
        f"items {count}\nroot {b64encode(items_root_hash)}\n"
    )


def read_text(chain_id: str, lender_id: str, nonce: str, timestamp_ms: int, method: str, path_and_query: str) -> str:
    """What a lender's key signs to read its own deposits (one chain, one use: the nonce)."""
    return f"{READ_TAG}\nchain {chain_id}\nlender {lender_id}\nnonce {nonce}\ntime {timestamp_ms}\n{method.upper()} {path_and_query}\n"


@dataclass(frozen=True)
class ReceiptFields:
    chain_id: str
    lender_id: str
    request_root: bytes
    first_index: int
    count: int
    deposit_time_ms: int
    seal_by_ms: int


def receipt_text(r: ReceiptFields) -> str:
    """The note text the chain signs for a receipt."""
    return (
        f"{RECEIPT_TAG}\nchain {r.chain_id}\nlender {r.lender_id}\nrequest {b64encode(r.request_root)}\n"
        f"first {r.first_index}\ncount {r.count}\ndeposit-time {r.deposit_time_ms}\nseal-by {r.seal_by_ms}\n"
    )


def parse_receipt_text(text: str) -> ReceiptFields:
    lines = text.split("\n")
    keys = ["chain", "lender", "request", "first", "count", "deposit-time", "seal-by"]
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
            int(values["count"]), int(values["deposit-time"]), int(values["seal-by"]),
        )
    except ValueError as exc:
        raise NoteError(f"malformed receipt: {exc}") from None
    if receipt_text(fields) != text:
        raise NoteError("the receipt is not in canonical form")
    return fields


def valid_id(value: str) -> bool:
    """Lender ids, loan ids and nonces: short, printable, no spaces (they appear in signed text)."""
    return bool(ID_PATTERN.fullmatch(value))  # (match would let a trailing newline through "$")
