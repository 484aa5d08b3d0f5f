"""A C2SP tlog-witness (add-checkpoint): cosign only append-only growth of the logs it knows.

The witness keeps, per log origin, the latest checkpoint it cosigned. A new checkpoint is
cosigned only if it is signed by the log's key and a consistency proof from that checkpoint
verifies; a second, different checkpoint for the same size is a fork and is refused.
Statuses and bodies follow the specification exactly, so any log or client can use it.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, String, Text, select
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from .checkpoint import parse_checkpoint
from .encoding import b64decode_strict
from .errors import ChainError
from .merkle import empty_root, verify_consistency
from .note import CosignatureSigner, Ed25519NoteVerifier, parse_note, verify_note

__all__ = ["Witness", "WitnessAnswer", "WitnessedCheckpoint"]


class WitnessedCheckpoint(SQLModel, table=True):
    __tablename__ = "witness_checkpoint"
    origin: str = Field(sa_column=Column(String(256), primary_key=True))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: str = Field(sa_column=Column(String(64), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))  # the checkpoint with the witness's cosignature


W = WitnessedCheckpoint.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class Witness:
    def __init__(self, engine: Engine, signer: CosignatureSigner, logs: Sequence[Ed25519NoteVerifier]) -> None:
        self.engine = engine
        self.signer = signer
        self.logs = {v.name: v for v in logs}
        W.create(engine, checkfirst=True)

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
        with self.engine.begin() as conn:
            row = conn.execute(select(W).where(W.c.origin == checkpoint.origin)).first()
            latest = row.size if row else 0
            if old_size != latest:
                return WitnessAnswer(409, f"{latest}\n", "text/x.tlog.size")
            if checkpoint.size == 0 and checkpoint.root != empty_root():
                return WitnessAnswer(422, "a checkpoint of size 0 must carry the empty tree's root\n")
            if old_size == 0:
                if proof:
                    return WitnessAnswer(422, "no proof is needed (or allowed) from size 0\n")
            elif not verify_consistency(old_size, checkpoint.size, base64.b64decode(row.root), checkpoint.root, proof):
                return WitnessAnswer(422, "the consistency proof does not verify (or the log forked)\n")
            signature = self.signer.sign(note.text, int(time.time()))
            cosigned = note.text + "\n" + "".join(s.to_line() for s in (*note.signatures, signature))
            values = {"size": checkpoint.size, "root": base64.b64encode(checkpoint.root).decode(), "note": cosigned}
            if row is None:
                conn.execute(W.insert().values(origin=checkpoint.origin, **values))
            else:
                conn.execute(W.update().where(W.c.origin == checkpoint.origin).values(**values))
        return WitnessAnswer(200, signature.to_line())

    def latest(self, origin_hash: str) -> WitnessAnswer:
        """The monitoring endpoint: the latest cosigned checkpoint of the log whose origin hashes to this."""
        with self.engine.connect() as conn:
            for origin, note in conn.execute(select(W.c.origin, W.c.note)):
                if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                    return WitnessAnswer(200, note)
        return WitnessAnswer(404, "never cosigned a checkpoint of that log\n")
