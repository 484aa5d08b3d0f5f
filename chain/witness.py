"""A C2SP tlog-witness (add-checkpoint): cosign only append-only growth of the logs it knows.

The witness keeps, per log origin, the latest checkpoint it cosigned. A new checkpoint is
cosigned only if it is signed by the log's key and a consistency proof from that checkpoint
verifies; a second, different checkpoint for the same size is a fork and is refused.
Statuses and bodies follow the specification exactly, so any log or client can use it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from .checkpoint import parse_checkpoint
from .encoding import b64decode_strict
from .errors import ChainError
from .keys import paired_hash_suite
from .merkle import empty_root, verify_consistency
from .note import CosignatureSigner, Ed25519NoteVerifier, parse_note, verify_note

__all__ = ["Witness", "WitnessAnswer", "WitnessState", "Cosigned"]


@dataclass(frozen=True)
class Cosigned:
    """The latest checkpoint the witness cosigned for one log."""

    origin: str
    size: int
    root: bytes
    note: str  # the checkpoint with the witness's cosignature


class WitnessState(Protocol):
    """Where a witness keeps its latest cosigned checkpoint per log (``chain_sql.witness_state`` on SQL)."""

    def latest(self, origin: str) -> Cosigned | None: ...

    def advance(self, previous_size: int, cosigned: Cosigned) -> bool:
        """Store ``cosigned`` if the log's stored size is still ``previous_size`` (0: none stored); False if not."""
        ...

    def all(self) -> Iterator[Cosigned]: ...


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class Witness:
    def __init__(self, state: WitnessState, signer: CosignatureSigner, logs: Sequence[Ed25519NoteVerifier]) -> None:
        self.state = state
        self.signer = signer
        self.logs = {v.name: v for v in logs}

    def add_checkpoint(self, body: bytes) -> WitnessAnswer:
        try:
            text = body.decode("utf-8")
            head, sep, note_text = text.partition("\n\n")
            if not sep:
                return WitnessAnswer(400, "the body needs an old size line, proof lines, an empty line and a checkpoint\n")
            lines = head.split("\n")
            if not lines[0].startswith("old ") or not lines[0][4:].isdigit() or (len(lines[0]) > 5 and lines[0][4] == "0"):
                return WitnessAnswer(400, "the first line must be 'old <size>'\n")
            old_size = int(lines[0][4:])
            if len(lines) - 1 > 63:
                return WitnessAnswer(400, "at most 63 consistency proof lines\n")
            proof = [b64decode_strict(line) for line in lines[1:]]
            note = parse_note(note_text)
            checkpoint = parse_checkpoint(note.text)
        except (UnicodeDecodeError, ValueError, ChainError) as exc:
            return WitnessAnswer(400, f"malformed request: {exc}\n")
        verifier = self.logs.get(checkpoint.origin)
        if verifier is None:
            return WitnessAnswer(404, f"unknown log {checkpoint.origin}\n")
        try:
            verify_note(note, [verifier])
        except ChainError as exc:
            return WitnessAnswer(403, f"{exc}\n")
        if old_size > checkpoint.size:
            return WitnessAnswer(400, "the old size is larger than the checkpoint's\n")
        row = self.state.latest(checkpoint.origin)
        latest = row.size if row else 0
        if old_size != latest:
            return WitnessAnswer(409, f"{latest}\n", "text/x.tlog.size")
        suite = paired_hash_suite(verifier)  # an SM2 log's tree is SM3's
        if checkpoint.size == 0 and checkpoint.root != empty_root(suite):
            return WitnessAnswer(422, "a checkpoint of size 0 must carry the empty tree's root\n")
        if old_size == 0:
            if proof:
                return WitnessAnswer(422, "no proof is needed (or allowed) from size 0\n")
        elif row is None or not verify_consistency(old_size, checkpoint.size, row.root, checkpoint.root, proof, suite):
            return WitnessAnswer(422, "the consistency proof does not verify (or the log forked)\n")
        signature = self.signer.sign(note.text, int(time.time()))
        cosigned = note.text + "\n" + "".join(s.to_line() for s in (*note.signatures, signature))
        if not self.state.advance(latest, Cosigned(checkpoint.origin, checkpoint.size, checkpoint.root, cosigned)):
            now = self.state.latest(checkpoint.origin)  # another request advanced it first
            return WitnessAnswer(409, f"{now.size if now else 0}\n", "text/x.tlog.size")
        return WitnessAnswer(200, signature.to_line())

    def latest(self, origin_hash: str) -> WitnessAnswer:
        """The monitoring endpoint: the latest cosigned checkpoint of the log whose origin hashes to this."""
        for row in self.state.all():
            if hashlib.sha256(row.origin.encode()).hexdigest() == origin_hash:
                return WitnessAnswer(200, row.note)
        return WitnessAnswer(404, "never cosigned a checkpoint of that log\n")
