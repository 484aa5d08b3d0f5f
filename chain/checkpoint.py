"""C2SP tlog-checkpoint: origin, tree size and root hash, as a signed note.

Standard transparency-log tooling and witnesses read these as they are.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from .encoding import b64decode_strict
from .errors import NoteError
from .note import (
    CosignatureSigner,
    CosignatureVerifier,
    Note,
    NoteSigner,
    NoteVerifier,
    SM2CosignatureVerifier,
    add_signatures,
    parse_note,
    sign_note,
)

__all__ = ["Checkpoint", "SignedCheckpoint", "parse_checkpoint", "sign_checkpoint", "open_checkpoint", "cosign"]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def to_text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"


def parse_checkpoint(text: str, hash_size: int = 32) -> Checkpoint:
    """Parse a checkpoint body strictly (three lines, then optional non-empty extension lines)."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has at least three lines: origin, size, root")
    origin, size, root_b64, *extensions = lines
    if not origin:
        raise NoteError("the checkpoint origin is empty")
    if not size.isascii() or not size.isdigit() or (len(size) > 1 and size[0] == "0"):
        raise NoteError(f"the checkpoint size {size!r} is not a decimal number")
    try:
        root = b64decode_strict(root_b64)
    except ValueError:
        raise NoteError("the checkpoint root is not valid base64") from None
    if len(root) != hash_size:
        raise NoteError(f"the checkpoint root is {len(root)} bytes, expected {hash_size}")
    if any(not line for line in extensions):
        raise NoteError("checkpoint extension lines must not be empty")
    return Checkpoint(origin, int(size), root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: Note

    def to_text(self) -> str:
        return self.note.to_text()

    def witnesses_verified(self, witnesses: Sequence[CosignatureVerifier]) -> list[str]:
        """Names of the known witnesses whose cosignatures on this checkpoint verify."""
        known = {(w.name, w.key_id): w for w in witnesses if isinstance(w, CosignatureVerifier | SM2CosignatureVerifier)}  # a log's own key is no witness
        names = []
        for sig in self.note.signatures:
            witness = known.get((sig.name, sig.key_id))
            if witness is None:
                continue
            witness.verify(self.note.text, sig)  # a known witness with a bad cosignature: reject
            if witness.name not in names:
                names.append(witness.name)
        return names


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> SignedCheckpoint:
    return SignedCheckpoint(checkpoint, sign_note(checkpoint.to_text(), [signer]))


def cosign(signed: SignedCheckpoint, cosigner: CosignatureSigner, timestamp: int) -> SignedCheckpoint:
    """Add a witness cosignature line."""
    signature = cosigner.sign(signed.note.text, timestamp)
    return SignedCheckpoint(signed.checkpoint, add_signatures(signed.note, [signature]))


def open_checkpoint(
    data: str | bytes,
    log_verifier: NoteVerifier,
    *,
    origin: str | None = None,
    witnesses: Sequence[CosignatureVerifier] = (),
    min_witnesses: int = 0,
    hash_size: int = 32,
) -> SignedCheckpoint:
    """Parse a signed checkpoint and require the log's signature (and a witness quorum)."""
    note = parse_note(data)
    checkpoint = parse_checkpoint(note.text, hash_size)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is from {checkpoint.origin!r}, not {origin!r}")
    if log_verifier.name != checkpoint.origin:
        raise NoteError(f"the log key {log_verifier.name!r} does not match the origin {checkpoint.origin!r}")
    signed_by_log = False
    for sig in note.signatures:
        if (sig.name, sig.key_id) == (log_verifier.name, log_verifier.key_id):
            log_verifier.verify(note.text, sig)
            signed_by_log = True
    if not signed_by_log:
        raise NoteError(f"the checkpoint is not signed by the log key {log_verifier.name}")
    signed = SignedCheckpoint(checkpoint, note)
    if min_witnesses:
        seen = signed.witnesses_verified(witnesses)
        if len(seen) < min_witnesses:
            raise NoteError(f"the checkpoint has {len(seen)} valid witness cosignature(s), {min_witnesses} required")
    return signed
