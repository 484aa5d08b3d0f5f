"""Private documents behind public entries: how the credit and service chains record what must stay hidden.

Each event a chain records is a document: canonical JSON with a 32-byte random salt inside, kept in the
chain's private store and handed to whoever is entitled to it. The public entry is the supervision entry
format (so the judicial chain anchors it and issues a deposit code) with the chain's operator as depositor
and the event kind as record type; its ``digest`` is the document's SHA-256 and its ``commitment`` a salted
hash of the digest, so neither party, loan nor amount can be guessed back from it. Whoever holds the document
checks it opens the entry (``check_opening``) and then the entry by an inclusion proof.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from .canonical_json import canonical_json
from .supervision_entry import SupervisionEntry, encode_supervision_entry, parse_supervision_entry

__all__ = ["Document", "DocumentFamily", "OpeningError"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


class OpeningError(ValueError):
    """A document that does not open the entry it is said to open."""


@dataclass(frozen=True)
class Document:
    kind: str
    time_ms: int
    body: dict[str, Any]  # the whole document, tag, kind, time and salt included
    text: str  # its canonical JSON
    digest: str  # SHA-256 of text, lowercase hex


@dataclass(frozen=True)
class DocumentFamily:
    """One chain's documents: its tag, the commitment's domain and the kinds (record types: a-z, ≤ 16 letters)."""

    tag: str
    commitment_tag: bytes
    kinds: tuple[str, ...]

    def new(self, kind: str, time_ms: int, fields: dict[str, Any], salt: str | None = None) -> Document:
        """The document of one event (``fields`` must not use the reserved keys tag, kind, time_ms, salt)."""
        if kind not in self.kinds:
            raise ValueError(f"unknown {self.tag} entry kind {kind!r}")
        body = {**fields, "tag": self.tag, "kind": kind, "time_ms": time_ms, "salt": salt or secrets.token_hex(32)}
        text = canonical_json(body).decode()
        return Document(kind, time_ms, body, text, hashlib.sha256(text.encode()).hexdigest())

    def commitment(self, digest: str, salt: str) -> str:
        return hashlib.sha256(self.commitment_tag + bytes.fromhex(salt) + bytes.fromhex(digest)).hexdigest()

    def entry_of(self, doc: Document, depositor: str) -> bytes:
        """The public entry of a document: the operator deposits it; time, kind and two hashes are all anyone sees."""
        return encode_supervision_entry(SupervisionEntry(self.commitment(doc.digest, doc.body["salt"]), doc.time_ms, doc.digest,
                                                         doc.time_ms, depositor, doc.kind))

    def check_opening(self, entry: bytes, text: str) -> dict[str, Any]:
        """The document ``text`` if it opens ``entry`` (same digest, commitment, kind and time); else OpeningError."""
        parsed = parse_supervision_entry(entry)
        if hashlib.sha256(text.encode()).hexdigest() != parsed.digest:
            raise OpeningError("the document's SHA-256 is not the entry's digest")
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            raise OpeningError("the document is not JSON") from None
        if not isinstance(body, dict) or canonical_json(body).decode() != text:
            raise OpeningError("the document is not in canonical form")
        if body.get("tag") != self.tag or body.get("kind") != parsed.record_type or body.get("time_ms") != parsed.event_time_ms:
            raise OpeningError("the document's tag, kind or time differs from the entry's")
        salt = body.get("salt")
        if not isinstance(salt, str) or not _HEX64.fullmatch(salt) or self.commitment(parsed.digest, salt) != parsed.commitment:
            raise OpeningError("the entry's commitment does not open with the document's salt")
        return body
