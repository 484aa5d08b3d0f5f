"""The judicial anchor entry: the public judicial record of one supervision deposit.

``{"deposit_time_ms","digest","event_time_ms","lender_id","record_type","source","source_index"}``
as canonical JSON: who deposited which digest, when, and where it sits in the source chain.
The court's verification, offline bundles and the regulator's cross-link read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .canonical_json import MAX_SAFE_INT
from .entry_codec import HEX64, SAFE_INT, EntryError, generic_bytes, load_object, plain
from .supervision_entry import SupervisionEntry, parse_supervision_entry, supervision_entry_fields

__all__ = ["AnchorEntry", "encode_anchor_entry", "parse_anchor_entry", "anchor_of", "anchor_entries", "anchor_facts", "EntryError"]

_WHAT = "a judicial anchor entry"
_INTS = ("deposit_time_ms", "event_time_ms", "source_index")
_STRS = ("digest", "lender_id", "record_type", "source")
_FAST = re.compile(
    rb'\{"deposit_time_ms":' + SAFE_INT.encode() + rb',"digest":"([0-9a-f]{64})","event_time_ms":' + SAFE_INT.encode()
    + rb',"lender_id":"([A-Za-z0-9._:/-]{1,64})","record_type":"([a-z]{1,16})","source":"([A-Za-z0-9._:/-]{1,128})",'
    rb'"source_index":' + SAFE_INT.encode() + rb'\}')


@dataclass(frozen=True)
class AnchorEntry:
    deposit_time_ms: int
    digest: str
    event_time_ms: int
    lender_id: str
    record_type: str
    source: str  # the supervision chain's id
    source_index: int  # the deposit's index in the supervision ledger


def anchor_of(source: str, source_index: int, entry: SupervisionEntry) -> AnchorEntry:
    """The anchor entry the judicial chain writes for a supervision entry (the commitment stays behind)."""
    return AnchorEntry(entry.deposit_time_ms, entry.digest, entry.event_time_ms, entry.lender_id, entry.record_type, source, source_index)


def encode_anchor_entry(entry: AnchorEntry) -> bytes:
    """Canonical bytes of an anchor entry (a format string when no value needs escaping)."""
    if plain(entry.digest, entry.lender_id, entry.record_type, entry.source):
        return (b'{"deposit_time_ms":%d,"digest":"%s","event_time_ms":%d,"lender_id":"%s","record_type":"%s","source":"%s","source_index":%d}'
                % (entry.deposit_time_ms, entry.digest.encode(), entry.event_time_ms, entry.lender_id.encode(),
                   entry.record_type.encode(), entry.source.encode(), entry.source_index))
    return generic_bytes(entry.__dict__)


def parse_anchor_entry(data: bytes | str, *, fast: bool = True) -> AnchorEntry:
    """The anchor entry in ``data``; EntryError unless it is well-formed and canonical."""
    if isinstance(data, str):
        data = data.encode()
    match = _FAST.fullmatch(data) if fast else None
    if match:
        deposit, digest, event, lender, kind, source, index = match.groups()
        entry = AnchorEntry(int(deposit), digest.decode(), int(event), lender.decode(), kind.decode(), source.decode(), int(index))
    else:
        entry = AnchorEntry(**load_object(data, _INTS, _STRS, _WHAT))
        if not HEX64.fullmatch(entry.digest) or not (entry.lender_id and entry.record_type and entry.source):
            raise EntryError(f"not {_WHAT}: the digest must be 64 lowercase hex characters, the names non-empty")
    if max(entry.deposit_time_ms, entry.event_time_ms, entry.source_index) > MAX_SAFE_INT:
        raise EntryError(f"not {_WHAT}: a number beyond 2^53-1")
    if not match and encode_anchor_entry(entry) != data:
        raise EntryError(f"not {_WHAT}: not in canonical form (sorted keys, compact)")
    return entry


def anchor_entries(source: str, first_index: int, entries: list[bytes]) -> list[bytes]:
    """The anchor entries for a block of supervision entries, in one pass: byte for byte
    ``encode_anchor_entry(anchor_of(source, i, parse_supervision_entry(e)))``, but an entry in the form the
    supervision chain writes is rewritten straight from the parser's match (its values hold only characters
    JSON never escapes). EntryError names the first entry that is not a canonical supervision entry."""
    if not plain(source):
        return [_slow(source, i, e) for i, e in enumerate(entries, first_index)]
    tail = b'","source":"' + source.encode() + b'","source_index":%d}'
    out = []
    for index, data in enumerate(entries, first_index):
        fields = supervision_entry_fields(data)
        if fields is None:  # not the fast form: the strict parser decides (and names what is wrong)
            out.append(_slow(source, index, data))
            continue
        deposit, digest, event, lender, kind = fields
        out.append(b'{"deposit_time_ms":%s,"digest":"%s","event_time_ms":%s,"lender_id":"%s","record_type":"%s' % (
            deposit, digest, event, lender, kind) + tail % index)
    return out


def _slow(source: str, index: int, data: bytes) -> bytes:
    try:
        return encode_anchor_entry(anchor_of(source, index, parse_supervision_entry(data)))
    except EntryError as exc:
        raise EntryError(f"entry {index}: {exc}") from None


def anchor_facts(data: bytes) -> tuple[str, int, str, str, int]:
    """(source, source index, digest, lender id, deposit time) of an anchor entry: what a cross-link audit compares,
    read with one regular expression for the form the judicial chain writes (the strict parser for any other;
    EntryError unless it is a canonical anchor entry)."""
    match = _FAST.fullmatch(data)
    if match is not None:
        deposit, digest, _event, lender, _kind, source, index = match.groups()
        if int(deposit) <= MAX_SAFE_INT and int(index) <= MAX_SAFE_INT and int(_event) <= MAX_SAFE_INT:
            return source.decode(), int(index), digest.decode(), lender.decode(), int(deposit)
    entry = parse_anchor_entry(data, fast=False)
    return entry.source, entry.source_index, entry.digest, entry.lender_id, entry.deposit_time_ms
