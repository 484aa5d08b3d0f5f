"""Credit-chain entries: one private document per event, one public entry that reveals nothing of it.

Every event the bureau records (a loan opened, overdue or closed, a query, a dispute and its answer,
evaluations counted, a borrower's report issued, the bureau's OPRF key and rule file) is a document:
canonical JSON with a 32-byte random salt inside. The public entry is the supervision entry format
(so the judicial chain anchors it and gives it a deposit code) with the bureau as depositor and the
event kind as record type; its ``digest`` is the document's SHA-256 and its ``commitment`` a salted
hash of the digest: neither pseudonym, lender nor amount can be guessed back from it.

Documents about one borrower carry ``subject`` (the pseudonym) and ``subject_seq`` (1, 2, 3, … in
ledger order): a borrower's report shows seq 1..n, so an entry left out of it is provable by anyone
holding that entry's document (a lender's query receipt).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from evidence.canonical_json import canonical_json
from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry, parse_supervision_entry

__all__ = ["DOC_TAG", "KINDS", "SUBJECT_KINDS", "Document", "new_document", "entry_of", "check_opening", "OpeningError"]

DOC_TAG = "fivechains.credit/v1"
# the record type of each public entry (a-z, at most 16 letters, as supervision entries require)
KINDS = ("oprfkey", "rules", "loanopened", "overdue", "loanclosed", "query", "evaluations", "dispute", "answer", "deadline", "report")
SUBJECT_KINDS = ("loanopened", "overdue", "loanclosed", "query", "dispute", "answer", "deadline")  # in a borrower's own record


class OpeningError(ValueError):
    """A document that does not open the entry it is said to open."""


@dataclass(frozen=True)
class Document:
    kind: str
    time_ms: int
    body: dict[str, Any]  # the whole document, tag, kind, time and salt included
    text: str  # its canonical JSON
    digest: str  # SHA-256 of text, lowercase hex


def new_document(kind: str, time_ms: int, fields: dict[str, Any], salt: str | None = None) -> Document:
    """The document of one event (``fields`` must not use the reserved keys tag, kind, time_ms, salt)."""
    if kind not in KINDS:
        raise ValueError(f"unknown credit entry kind {kind!r}")
    body = {**fields, "tag": DOC_TAG, "kind": kind, "time_ms": time_ms, "salt": salt or secrets.token_hex(32)}
    text = canonical_json(body).decode()
    return Document(kind, time_ms, body, text, hashlib.sha256(text.encode()).hexdigest())


def _commitment(digest: str, salt: str) -> str:
    return hashlib.sha256(b"fivechains.credit-commitment/v1\x00" + bytes.fromhex(salt) + bytes.fromhex(digest)).hexdigest()


def entry_of(doc: Document, bureau_id: str) -> bytes:
    """The public entry of a document: the bureau deposits it; time, kind and two hashes are all anyone sees."""
    return encode_supervision_entry(SupervisionEntry(_commitment(doc.digest, doc.body["salt"]), doc.time_ms, doc.digest, doc.time_ms,
                                                     bureau_id, doc.kind))


def check_opening(entry: bytes, text: str) -> dict[str, Any]:
    """The document ``text`` if it opens ``entry`` (same digest, commitment, kind and time); else OpeningError."""
    import json

    parsed = parse_supervision_entry(entry)
    if hashlib.sha256(text.encode()).hexdigest() != parsed.digest:
        raise OpeningError("the document's SHA-256 is not the entry's digest")
    body = json.loads(text)
    if canonical_json(body).decode() != text:
        raise OpeningError("the document is not in canonical form")
    if body.get("tag") != DOC_TAG or body.get("kind") != parsed.record_type or body.get("time_ms") != parsed.event_time_ms:
        raise OpeningError("the document's tag, kind or time differs from the entry's")
    if _commitment(parsed.digest, body["salt"]) != parsed.commitment:
        raise OpeningError("the entry's commitment does not open with the document's salt")
    return body
