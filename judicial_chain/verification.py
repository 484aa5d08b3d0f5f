"""Verifying evidence by deposit code: the judge's question, answered from the judicial chain.

For each item — a code and either the record (file bytes or a JSON record, with its salt) or
its digest — the verdict is one of:

* ``verified``: the code names a sealed judicial entry whose digest is the evidence's;
* ``tampered``: the code exists but the evidence's digest differs (nothing else is said);
* ``unknown_code``: no entry has that code (said the same way as tampered: "no match");
* ``not_anchored``: the code's entry is not in a signed checkpoint yet;
* ``malformed``: the code or the digest is not well-formed.

Only a verified item carries who deposited it, when, where it sits in both chains, and an
offline proof bundle: a code alone reveals nothing.
"""

from __future__ import annotations

import bisect
import hmac
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from chain.merkle import leaf_hash
from chain.tlog_proof import format_tlog_proof
from evidence.anchor_entry import parse_anchor_entry
from evidence.canonical_json import canonical_json
from evidence.deposit_codes import CodeError, format_code, normalize
from evidence.digests import digest_bytes

from .models import AnchoredBlock, CodeRow
from .service import JudicialChain

CODES = CodeRow.__table__  # type: ignore[attr-defined]
ANCHORED_BLOCKS = AnchoredBlock.__table__  # type: ignore[attr-defined]

VERDICTS = ("verified", "tampered", "unknown_code", "not_anchored", "malformed")


@dataclass
class Evidence:
    code: str
    digest: str | None = None  # lowercase hex, when the court has only the digest
    content: bytes | None = None  # a file's bytes
    record: Any = None  # a JSON record (hashed in its RFC 8785 form)
    salt: str | None = None
    path: str | None = None
    line: int | None = None

    def computed_digest(self) -> str:
        if self.content is not None:
            return digest_bytes(self.content, self.salt)
        if self.record is not None:
            return digest_bytes(canonical_json(self.record), self.salt)
        if self.digest is None:
            raise ValueError("an item needs its record, file or digest")
        digest = self.digest.strip().lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("the digest is not 64 hex characters")
        return digest


@dataclass
class Verdict:
    code: str
    verdict: str
    detail: str
    path: str | None = None
    line: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # only for verified items
    bundle: str | None = None  # offline proof (C2SP tlog-proof), only for verified items
    depositor: tuple[str, str] | None = None  # (source chain, lender) of a tampered item's entry: counted, never shown

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "verdict": self.verdict, "detail": self.detail}
        if self.path is not None:
            out["path"] = self.path
        if self.line is not None:
            out["line"] = self.line
        out.update(self.facts)
        return out


class Verifier:
    """Answers batches of evidence against one judicial chain (read-only)."""

    def __init__(self, chain: JudicialChain) -> None:
        self.chain = chain

    def verify(self, items: list[Evidence], with_bundles: bool = True) -> list[Verdict]:
        checkpoint = self.chain.published_checkpoint()
        size = checkpoint.checkpoint.size if checkpoint else 0
        checkpoint_text = checkpoint.to_text() if checkpoint else ""
        normalized: list[str | None] = []
        out: list[Verdict] = []
        for item in items:
            try:
                normalized.append(normalize(item.code))
            except CodeError:
                normalized.append(None)
        found = self._lookup([c for c in normalized if c])
        entries = self._entries(sorted({i for i in found.values() if i < size}))
        judicial_ends = [b.tree_size for b in self.chain.store.blocks()]  # block heights by bisecting their tree sizes
        anchors = self._anchors()
        records = {i: parse_anchor_entry(e) for i, e in entries.items()}
        by_source: dict[str, set[str]] = {}
        for r in records.values():
            by_source.setdefault(r.source, set()).add(r.lender_id)
        names = {(s, k): v for s, ids in by_source.items() for k, v in self.chain.lender_names(s, ids).items()}
        proofs = {}
        if with_bundles and checkpoint is not None:
            wanted = sorted(entries)
            proofs = dict(zip(wanted, self.chain.ledger.inclusion_proofs(wanted, size)))
        for item, code in zip(items, normalized):
            shown = format_code(code) if code else item.code
            if code is None:
                out.append(Verdict(shown, "malformed", "not a well-formed deposit code (length, characters or check character)", item.path, item.line))
                continue
            try:
                digest = item.computed_digest()
            except ValueError as exc:
                out.append(Verdict(shown, "malformed", str(exc), item.path, item.line))
                continue
            index = found.get(code)
            if index is None:
                out.append(Verdict(shown, "unknown_code", "no match", item.path, item.line))
                continue
            if index >= size:
                out.append(Verdict(shown, "not_anchored", "the code's entry is not in a signed checkpoint yet", item.path, item.line))
                continue
            entry, record = entries[index], records[index]
            if not hmac.compare_digest(record.digest, digest):
                out.append(Verdict(shown, "tampered", "no match: the evidence's digest differs from the deposited one", item.path, item.line,
                                   depositor=(record.source, record.lender_id)))
                continue
            facts = {
                "lender_id": record.lender_id, "lender_name": names.get((record.source, record.lender_id)),
                "record_type": record.record_type, "deposit_time_ms": record.deposit_time_ms, "event_time_ms": record.event_time_ms,
                "supervision_chain": record.source, "supervision_index": record.source_index,
                "supervision_block": _height_of(anchors.get(record.source, []), record.source_index),
                "judicial_index": index, "judicial_block": bisect.bisect_right(judicial_ends, index),
                "judicial_chain": self.chain.config.chain_id, "digest": digest,
            }
            bundle = None
            if with_bundles:
                bundle = format_tlog_proof(index, proofs[index].hashes, checkpoint_text, extra=entry)
            out.append(Verdict(shown, "verified", "the evidence matches the deposit", item.path, item.line, facts, bundle))
        return out

    def _lookup(self, codes: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with self.chain.store.read_engine.connect() as conn:
            for start in range(0, len(codes), 500):
                chunk = codes[start : start + 500]
                found.update({c: int(j) for c, j in conn.execute(select(CODES.c.code, CODES.c.judicial_index).where(CODES.c.code.in_(chunk)))})
        return found

    def bundles(self, indexes: list[int]) -> dict[int, str]:
        """Offline proof bundles for judicial entries, against the latest published checkpoint (with its cosignatures)."""
        checkpoint = self.chain.published_checkpoint()
        if checkpoint is None or not indexes:
            return {}
        wanted = sorted(set(indexes))
        entries = self._entries(wanted)
        proofs = self.chain.ledger.inclusion_proofs(wanted, checkpoint.checkpoint.size)
        text = checkpoint.to_text()
        return {p.index: format_tlog_proof(p.index, p.hashes, text, extra=entries[p.index]) for p in proofs}

    def _entries(self, indexes: list[int]) -> dict[int, bytes]:
        """The judicial entries at ``indexes``, read in a few range scans rather than one query each."""
        out: dict[int, bytes] = {}
        start = 0
        while start < len(indexes):
            end = start
            while end + 1 < len(indexes) and indexes[end + 1] - indexes[start] < 4096:
                end += 1
            wanted = set(indexes[start : end + 1])
            for e in self.chain.store.entries(indexes[start], indexes[end] + 1):
                if e.index in wanted:
                    out[e.index] = e.data
            start = end + 1
        return out

    def _anchors(self) -> dict[str, list[tuple[int, int]]]:
        """Per source chain, (first source index, height) of every anchored block, in order."""
        out: dict[str, list[tuple[int, int]]] = {}
        with self.chain.store.read_engine.connect() as conn:
            blocks = ANCHORED_BLOCKS.c
            for chain_id, first, height in conn.execute(select(blocks.chain_id, blocks.first_source_index, blocks.height)
                                                        .order_by(blocks.chain_id, blocks.height)):
                out.setdefault(chain_id, []).append((int(first), int(height)))
        return out


def _height_of(anchors: list[tuple[int, int]], source_index: int) -> int | None:
    pos = bisect.bisect_right(anchors, (source_index, float("inf"))) - 1
    return anchors[pos][1] if pos >= 0 else None


def bundle_entry(bundle_text: str) -> dict[str, Any]:
    """The judicial entry a bundle carries (authenticated only once the bundle verifies)."""
    from chain.tlog_proof import parse_tlog_proof

    proof = parse_tlog_proof(bundle_text)
    if proof.extra is None:
        raise ValueError("the bundle carries no judicial entry")
    return asdict(parse_anchor_entry(proof.extra))


def verify_bundle(bundle_text: str | bytes, judicial_vkey: str, evidence_digest: str | None = None,
                  witness_vkeys: list[str] = (), min_witnesses: int = 0) -> dict[str, Any]:  # type: ignore[assignment]
    """Check an offline proof bundle with nothing but the judicial chain's public key.

    The bundle's extra data is the judicial entry itself: its hash is the leaf, so the inclusion
    proof authenticates it and a change to any byte fails. Raises ChainError (ProofError/NoteError)
    or ValueError; returns the entry's facts.
    """
    from chain.keys import paired_hash_suite
    from chain.note import parse_vkey
    from chain.tlog_proof import parse_tlog_proof, verify_tlog_proof

    proof = parse_tlog_proof(bundle_text)
    if proof.extra is None:
        raise ValueError("the bundle carries no judicial entry")
    verifier = parse_vkey(judicial_vkey)
    witnesses = [parse_vkey(v) for v in witness_vkeys]
    suite = paired_hash_suite(verifier)  # an SM2 chain's tree is SM3's, an Ed25519 chain's SHA-256's
    signed = verify_tlog_proof(proof, leaf_hash(proof.extra, suite), verifier, origin=verifier.name, witnesses=witnesses,
                               min_witnesses=min_witnesses, suite=suite)
    entry = asdict(parse_anchor_entry(proof.extra))
    if evidence_digest is not None and not hmac.compare_digest(entry["digest"], evidence_digest.lower()):
        raise ValueError("the bundle is genuine but the evidence's digest differs from the deposited one")
    return {"index": proof.index, "tree_size": signed.checkpoint.size, "judicial_chain": signed.checkpoint.origin, **entry}
