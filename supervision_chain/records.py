"""The supervision chain's wire and ledger encodings, shared by the server and the lender SDK.

Everything signed or hashed here has exactly one byte form:

* an **item** (what a lender deposits about one loan record) is canonical JSON (RFC 8785);
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

from chain.encoding import b64decode_strict, b64encode
from chain.errors import NoteError
from chain.merkle import leaf_hash, root
from evidence.canonical_json import MAX_SAFE_INT, canonical_json  # noqa: F401 (re-exported)
from evidence.digests import digest_bytes, digest_json, new_salt  # noqa: F401 (re-exported)
from evidence.entry_codec import generic_bytes, plain
from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry

__all__ = [
    "RECORD_TYPES",
    "Item",
    "new_item_salt",
    "item_bytes",
    "commitment",
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
REQUEST_TAG = "fivechains.deposit-request/v2"
RECEIPT_TAG = "fivechains.deposit-receipt/v2"
READ_TAG = "fivechains.read/v2"
SALT_PATTERN = re.compile(r"^[0-9a-f]{64}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")


@dataclass(frozen=True)
class Item:
    """One deposit: the digest of a loan record, what it is about, and the salt that hides it."""

    digest: str  # lowercase hex of the record's digest
    record_type: str
    loan_id: str
    event_time_ms: int  # when the recorded event happened (ms since the epoch)
    commitment_salt: str  # 32 random bytes, lowercase hex: makes the public commitment hiding
    metadata: dict[str, Any] | None = None


def new_item_salt() -> str:
    """A fresh per-item salt: 32 random bytes as 64 lowercase hex characters."""
    return secrets.token_bytes(32).hex()


def item_bytes(item: Item) -> bytes:
    """Canonical (RFC 8785) bytes of an item: what the lender signs and the commitment hashes.

    Without metadata every value is a string or a safe integer, for which compact sorted
    ``json.dumps`` is byte-for-byte RFC 8785 and three times faster; metadata (which may
    hold any JSON) goes through the full canonicaliser.
    """
    if item.metadata is None and plain(item.loan_id, item.digest, item.record_type, item.commitment_salt):
        # only characters JSON never escapes: this is exactly what json.dumps/RFC 8785 would write
        return b'{"commitment_salt":"%s","digest":"%s","event_time_ms":%d,"loan_id":"%s","record_type":"%s"}' % (
            item.commitment_salt.encode(), item.digest.encode(), item.event_time_ms, item.loan_id.encode(), item.record_type.encode())
    fields: dict[str, Any] = {"digest": item.digest, "event_time_ms": item.event_time_ms, "loan_id": item.loan_id,
                              "record_type": item.record_type, "commitment_salt": item.commitment_salt}
    if item.metadata is not None:
        fields["metadata"] = item.metadata
        return canonical_json(fields)
    return generic_bytes(fields)


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
