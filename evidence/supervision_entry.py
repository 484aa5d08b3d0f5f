"""The public supervision ledger entry: what anyone may read about one deposit.

``{"commitment","deposit_time_ms","digest","event_time_ms","lender_id","record_type"}`` as
canonical JSON. The loan id, metadata and the item's salt stay private: ``commitment`` is the
SHA-256 of the deposited item's canonical form, which includes a 32-byte random salt, so the
loan id cannot be found by trying likely ones against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .canonical_json import MAX_SAFE_INT
from .entry_codec import HEX64, SAFE_INT, EntryError, generic_bytes, load_object, plain

__all__ = ["SupervisionEntry", "encode_supervision_entry", "parse_supervision_entry", "supervision_entry_fields", "EntryError"]

_WHAT = "a supervision entry"
_INTS = ("deposit_time_ms", "event_time_ms")
_STRS = ("commitment", "digest", "lender_id", "record_type")
_FAST = re.compile(
    rb'\{"commitment":"([0-9a-f]{64})","deposit_time_ms":' + SAFE_INT.encode() + rb',"digest":"([0-9a-f]{64})",'
    rb'"event_time_ms":' + SAFE_INT.encode() + rb',"lender_id":"([A-Za-z0-9._:/-]{1,64})","record_type":"([a-z]{1,16})"\}')
_RECORD_TYPE = re.compile(r"[a-z]{1,16}")


@dataclass(frozen=True)
class SupervisionEntry:
    commitment: str  # lowercase hex SHA-256 of the private item (salted)
    deposit_time_ms: int  # when the chain accepted the deposit
    digest: str  # lowercase hex digest of the loan record
    event_time_ms: int  # when the recorded event happened, as the lender says
    lender_id: str
    record_type: str


def encode_supervision_entry(entry: SupervisionEntry) -> bytes:
    """Canonical bytes of an entry (a format string when no value needs escaping)."""
    if plain(entry.lender_id, entry.record_type, entry.digest, entry.commitment):
        return b'{"commitment":"%s","deposit_time_ms":%d,"digest":"%s","event_time_ms":%d,"lender_id":"%s","record_type":"%s"}' % (
            entry.commitment.encode(), entry.deposit_time_ms, entry.digest.encode(), entry.event_time_ms,
            entry.lender_id.encode(), entry.record_type.encode())
    return generic_bytes(entry.__dict__)


def parse_supervision_entry(data: bytes, *, fast: bool = True) -> SupervisionEntry:
    """The entry in ``data``; EntryError unless it is a well-formed entry in canonical form.

    ``fast``: try the no-JSON-parser path first (the form the supervision chain writes).
    """
    match = _FAST.fullmatch(data) if fast else None
    if match:
        commitment, deposit, digest, event, lender, kind = match.groups()
        entry = SupervisionEntry(commitment.decode(), int(deposit), digest.decode(), int(event), lender.decode(), kind.decode())
    else:
        fields = load_object(data, _INTS, _STRS, _WHAT)
        entry = SupervisionEntry(**fields)
        if not (HEX64.fullmatch(entry.digest) and HEX64.fullmatch(entry.commitment)):
            raise EntryError(f"not {_WHAT}: digest and commitment must be 64 lowercase hex characters")
        if not _RECORD_TYPE.fullmatch(entry.record_type) or not entry.lender_id:
            raise EntryError(f"not {_WHAT}: record_type must be a-z (1–16) and lender_id non-empty")
    if max(entry.deposit_time_ms, entry.event_time_ms) > MAX_SAFE_INT:
        raise EntryError(f"not {_WHAT}: a time beyond 2^53-1")
    if not match and encode_supervision_entry(entry) != data:
        raise EntryError(f"not {_WHAT}: not in canonical form (sorted keys, compact)")
    return entry


def supervision_entry_fields(data: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes] | None:
    """(deposit time, digest, event time, lender id, record type) as the bytes written in an entry of the form
    the supervision chain writes, or None for any other bytes (then ``parse_supervision_entry`` decides)."""
    match = _FAST.fullmatch(data)
    if match is None:
        return None
    _, deposit, digest, event, lender, kind = match.groups()
    if int(deposit) > MAX_SAFE_INT or int(event) > MAX_SAFE_INT:
        return None
    return deposit, digest, event, lender, kind
