"""Pool certificates: a C2SP signed note over the pool's Merkle root, and per-loan proofs anyone checks offline.

The certificate names the pool, its lender, purpose and counterparty, the number of loans and of eligible
ones, their outstanding principal, the root of an RFC 6962 tree over the loans' leaves, the hash suite and
the rule file's SHA-256; the service chain's key signs it. Each loan's leaf is canonical JSON (its verdict,
records with their digests, deposit codes and supervision positions, exceptions and a random salt, so
the neighbour hashes in a proof reveal nothing of other loans). ``verify_certificate`` needs only the
service chain's verifier key; a changed byte anywhere is refused.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import msgspec

from chain.encoding import b64decode_strict, b64encode
from chain.errors import ChainError
from chain.hashing import HashSuite, suite_by_name
from chain.merkle import check_inclusion, leaf_hash
from chain.note import open_note, parse_vkey
from evidence.canonical_json import canonical_json

from .pool_check import LoanVerdict

__all__ = ["CERTIFICATE_HEADER", "PROOF_FORMAT", "Certificate", "CertificateError", "certificate_text", "loan_leaf", "parse_certificate",
           "verify_certificate", "verify_proof", "loan_proof"]

CERTIFICATE_HEADER = "fivechains.service/pool-certificate/v1"
PROOF_FORMAT = "fivechains.service/loan-proof/v1"
_LINES = ("chain", "pool", "lender", "purpose", "offered-to", "loans", "eligible", "outstanding", "hash", "root", "rules", "time")
_COUNT = re.compile(r"0|[1-9][0-9]{0,15}")


class CertificateError(ValueError):
    """A certificate or loan proof that does not verify; the message says what is wrong."""


@dataclass(frozen=True)
class Certificate:
    chain: str
    pool: str
    lender: str
    purpose: str
    offered_to: str
    loans: int
    eligible: int
    outstanding: int
    hash: str
    root: bytes
    rules: str
    time_ms: int


_SORTED = msgspec.json.Encoder(order="sorted")
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:/-]*")
_SAFE = 2**53 - 1


def loan_leaf(lender_id: str, verdict: LoanVerdict) -> str:
    """The canonical JSON of one loan's leaf (msgspec's sorted encoder when that is byte for byte RFC 8785: ids that need
    no escaping, integers within ±2^53 — the check already limits the rest to hex, codes and fixed words)."""
    leaf = {
        "lender_id": lender_id, "loan_id": verdict.loan_id, "eligible": verdict.eligible, "claimed_fen": verdict.claimed_fen,
        "outstanding_fen": verdict.outstanding_fen, "exceptions": [e["code"] for e in verdict.exceptions],
        "records": [{"type": d.record_type, "digest": d.digest, "deposit_code": d.deposit_code, "supervision_index": d.index}
                    for d in verdict.records],
        "salt": secrets.token_hex(16)}
    if (_PLAIN_ID.fullmatch(lender_id) and _PLAIN_ID.fullmatch(verdict.loan_id) and verdict.claimed_fen <= _SAFE
            and (verdict.outstanding_fen or 0) <= _SAFE and all(_PLAIN_ID.fullmatch(d.record_type) for d in verdict.records)):
        return _SORTED.encode(leaf).decode()
    return canonical_json(leaf).decode()


def certificate_text(c: Certificate) -> str:
    """The note's text: a header line, then one ``key value`` line per field."""
    values = (c.chain, c.pool, c.lender, c.purpose, c.offered_to, c.loans, c.eligible, c.outstanding, c.hash, b64encode(c.root), c.rules,
              c.time_ms)
    return CERTIFICATE_HEADER + "\n" + "".join(f"{k} {v}\n" for k, v in zip(_LINES, values, strict=True))


def parse_certificate(text: str) -> Certificate:
    lines = text.split("\n")
    if lines[0] != CERTIFICATE_HEADER or lines[-1] != "" or len(lines) != len(_LINES) + 2:
        raise CertificateError("not a pool certificate (header or line count)")
    values: dict[str, str] = {}
    for key, line in zip(_LINES, lines[1:-1], strict=True):
        name, sep, value = line.partition(" ")
        if name != key or not sep or not value or " " in value and key not in ("chain",):
            raise CertificateError(f"line {key!r} is missing or malformed")
        values[key] = value
    for key in ("loans", "eligible", "outstanding", "time"):
        if not _COUNT.fullmatch(values[key]):
            raise CertificateError(f"{key} is not a number")
    try:
        root = b64decode_strict(values["root"])
        suite = suite_by_name(values["hash"])
    except (ValueError, KeyError):
        raise CertificateError("root or hash suite is malformed") from None
    if len(root) != suite.digest_size:
        raise CertificateError("the root's length does not fit the hash suite")
    return Certificate(values["chain"], values["pool"], values["lender"], values["purpose"], values["offered-to"], int(values["loans"]),
                       int(values["eligible"]), int(values["outstanding"]), values["hash"], root, values["rules"], int(values["time"]))


def loan_proof(pool_id: str, seq: int, size: int, leaf: str, hashes: list[bytes]) -> dict[str, Any]:
    """One loan's offline proof: its leaf and the inclusion proof to the certificate's root."""
    return {"format": PROOF_FORMAT, "pool": pool_id, "index": seq, "size": size, "leaf": leaf, "inclusion_proof": [b64encode(h) for h in hashes]}


def _suite(certificate: Certificate) -> HashSuite:
    return suite_by_name(certificate.hash)


def verify_certificate(note_text: str, vkey: str, proof: dict[str, Any] | None = None) -> tuple[Certificate, dict[str, Any] | None]:
    """The certificate (and the proof's loan leaf) if the service chain's key signed it and the proof reaches its root."""
    try:
        verifier = parse_vkey(vkey)
        note = open_note(note_text, [verifier])
    except Exception as exc:  # noqa: BLE001 — any failure to open the note is "not signed by this key"
        raise CertificateError(f"the certificate is not signed by the service chain's key ({exc.__class__.__name__})") from None
    certificate = parse_certificate(note.text)
    return certificate, None if proof is None else verify_proof(certificate, proof)


def verify_proof(certificate: Certificate, proof: dict[str, Any]) -> dict[str, Any]:
    """The loan's leaf if ``proof`` reaches the root of a certificate already verified (``verify_certificate``):
    many proofs of one pool cost one signature check."""
    if not isinstance(proof, dict) or proof.get("format") != PROOF_FORMAT:
        raise CertificateError("not a loan proof")
    if proof.get("pool") != certificate.pool or proof.get("size") != certificate.loans:
        raise CertificateError("the proof is for another pool or another pool size")
    leaf, index, hashes = proof.get("leaf"), proof.get("index"), proof.get("inclusion_proof")
    if not isinstance(leaf, str) or type(index) is not int or not isinstance(hashes, list):
        raise CertificateError("the proof's leaf, index or inclusion_proof is malformed")
    try:
        path = [b64decode_strict(h) for h in hashes]
        suite = _suite(certificate)
        check_inclusion(leaf_hash(leaf.encode(), suite), index, certificate.loans, path, certificate.root, suite)
    except (ValueError, TypeError, ChainError) as exc:
        raise CertificateError(f"the loan's proof does not reach the certificate's root: the leaf or the proof was changed ({exc})") from None
    try:
        body = json.loads(leaf)
    except json.JSONDecodeError:
        raise CertificateError("the leaf is not JSON") from None
    if not isinstance(body, dict) or canonical_json(body).decode() != leaf:
        raise CertificateError("the leaf is not canonical JSON of an object")
    if body.get("lender_id") != certificate.lender:
        raise CertificateError("the leaf names another lender than the certificate")
    return body
