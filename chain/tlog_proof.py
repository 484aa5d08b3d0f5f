"""C2SP tlog-proof: a self-contained, offline-verifiable proof that an entry is in the log.

Index, inclusion proof hashes and the signed checkpoint (with any witness cosignatures)
travel together, so a court or an auditor needs nothing but the log's public key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from .checkpoint import SignedCheckpoint, open_checkpoint
from .encoding import b64decode_strict
from .errors import NoteError, ProofError
from .hashing import SHA256, HashSuite
from .merkle import check_inclusion

__all__ = ["TLOG_PROOF_HEADER", "TlogProof", "format_tlog_proof", "parse_tlog_proof", "verify_tlog_proof"]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_BYTES = 1 << 20


@dataclass(frozen=True)
class TlogProof:
    index: int
    hashes: list[bytes]
    checkpoint_text: str
    extra: bytes | None = None

    def to_text(self) -> str:
        return format_tlog_proof(self.index, self.hashes, self.checkpoint_text, self.extra)


def format_tlog_proof(index: int, hashes: Sequence[bytes], checkpoint_text: str, extra: bytes | None = None) -> str:
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append("extra " + base64.b64encode(extra).decode())
    lines.append(f"index {index}")
    lines += [base64.b64encode(h).decode() for h in hashes]
    return "\n".join(lines) + "\n\n" + checkpoint_text


def _b64(value: str, what: str) -> bytes:
    try:
        return b64decode_strict(value)
    except ValueError:
        raise ProofError(f"{what} is not valid base64") from None


def parse_tlog_proof(text: str | bytes) -> TlogProof:
    """Parse the text form strictly; raises ProofError naming the first thing that is wrong."""
    if isinstance(text, bytes):
        if len(text) > MAX_PROOF_BYTES:
            raise ProofError("the proof is larger than 1 MiB")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProofError("the proof is not UTF-8 text") from None
    head, sep, checkpoint_text = text.partition("\n\n")
    if not sep:
        raise ProofError("the proof has no blank line before its checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise ProofError(f"the proof does not start with {TLOG_PROOF_HEADER}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = _b64(lines[pos][6:], "the extra data")
        pos += 1
    if pos >= len(lines) or not lines[pos].startswith("index "):
        raise ProofError("the proof has no index line")
    digits = lines[pos][6:]
    if not digits.isdigit() or (len(digits) > 1 and digits[0] == "0"):
        raise ProofError(f"the index {digits!r} is not a decimal number")
    hashes = [_b64(line, f"proof line {i + 1}") for i, line in enumerate(lines[pos + 1 :])]
    return TlogProof(int(digits), hashes, checkpoint_text, extra)


def verify_tlog_proof(
    proof: TlogProof,
    leaf_hash: bytes,
    log_verifier: object,
    *,
    origin: str | None = None,
    witnesses: Sequence[object] = (),
    min_witnesses: int = 0,
    suite: HashSuite = SHA256,
) -> SignedCheckpoint:
    """Verify signature(s), then inclusion; return the checkpoint. Raises ProofError or NoteError."""
    try:
        signed = open_checkpoint(proof.checkpoint_text, log_verifier, origin=origin, witnesses=witnesses, min_witnesses=min_witnesses)
    except NoteError as exc:
        raise ProofError(f"the checkpoint in the proof does not verify: {exc}") from exc
    cp = signed.checkpoint
    check_inclusion(leaf_hash, proof.index, cp.size, proof.hashes, cp.root, suite)
    return signed
