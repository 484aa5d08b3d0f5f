"""C2SP signed notes (c2sp.org/signed-note) and cosignatures (c2sp.org/tlog-cosignature).

Two signature suites: Ed25519 (type 0x01, cosignatures 0x04) and SM2 with SM3 (GB/T 32918.2).
SM2 has no assigned type byte, so it uses the spec's escape: type 0xff followed by a longer
identifier (``SM2_TYPE``, ``SM2_COSIGNATURE_TYPE``); its key id is computed by the spec's
rule over those bytes, and a verifier that knows only Ed25519 ignores SM2 lines as it must.

A note is text plus signature lines "— <name> base64(key id || signature)". Verification
follows the spec: signatures from unknown (name, key id) pairs are ignored, a known key
whose signature fails rejects the note, and at least one known key must verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .encoding import b64decode_strict
from .errors import ChainError, NoteError, SignatureError
from .sm2 import SM2PrivateKey, SM2PublicKey

__all__ = [
    "Signature",
    "Note",
    "parse_note",
    "Ed25519NoteSigner",
    "Ed25519NoteVerifier",
    "CosignatureSigner",
    "CosignatureVerifier",
    "SM2NoteSigner",
    "SM2NoteVerifier",
    "SM2CosignatureSigner",
    "SM2CosignatureVerifier",
    "note_signer",
    "cosignature_signer",
    "NoteSigner",
    "NoteVerifier",
    "sign_note",
    "add_signatures",
    "verify_note",
    "open_note",
    "format_vkey",
    "parse_vkey",
    "key_id",
]

SIG_ED25519 = 0x01
SIG_COSIGNATURE = 0x04
SM2_TYPE = b"\xffgbt32918.2/sm2-sm3"  # 0xff + identifier: SM2 signature of the note text, SM3, default user id
SM2_COSIGNATURE_TYPE = b"\xffgbt32918.2/sm2-sm3-cosignature/v1"  # timestamped, as c2sp.org/tlog-cosignature
MAX_NOTE_BYTES = 1 << 20
EM_DASH = "\u2014"
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")  # every ASCII control character but newline


def key_id(name: str, sig_type: int | bytes, public_key: bytes) -> int:
    """SHA-256(name || 0x0A || type || public key)[:4], as a big-endian uint32 (type: a byte, or 0xff + identifier)."""
    kind = bytes([sig_type]) if isinstance(sig_type, int) else sig_type
    digest = hashlib.sha256(name.encode() + b"\n" + kind + public_key).digest()
    return struct.unpack(">I", digest[:4])[0]


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: int
    data: bytes  # the signature bytes after the 4-byte key id

    def to_line(self) -> str:
        blob = struct.pack(">I", self.key_id) + self.data
        return f"{EM_DASH} {self.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    text: str  # ends in a newline
    signatures: tuple[Signature, ...]

    def to_text(self) -> str:
        return self.text + "\n" + "".join(s.to_line() for s in self.signatures)


def parse_note(data: str | bytes, max_signatures: int = 64) -> Note:
    """Parse a signed note strictly; raises NoteError saying what is malformed."""
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE_BYTES:
            raise NoteError("the note is larger than 1 MiB")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("the note is not valid UTF-8") from None
    if len(data.encode()) > MAX_NOTE_BYTES:
        raise NoteError("the note is larger than 1 MiB")
    if _CONTROL.search(data):
        raise NoteError("the note contains control characters")
    split = data.rfind("\n\n")
    if split < 0:
        raise NoteError("the note has no blank line before its signatures")
    text, sig_block = data[: split + 1], data[split + 2 :]
    if not text.strip("\n"):
        raise NoteError("the note text is empty")
    if not sig_block.endswith("\n"):
        raise NoteError("the note's signature lines must end with a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > max_signatures:
        raise NoteError(f"the note has more than {max_signatures} signatures")
    signatures = []
    for line in lines:
        prefix, _, rest = line.partition(" ")
        name, sep, b64 = rest.partition(" ")
        if prefix != EM_DASH or not sep:
            raise NoteError(f"malformed signature line {line!r}")
        _check_name(name)
        try:
            blob = b64decode_strict(b64)
        except ValueError:
            raise NoteError(f"the signature of {name} is not valid base64") from None
        if len(blob) < 5:
            raise NoteError(f"the signature of {name} is too short")
        signatures.append(Signature(name, struct.unpack(">I", blob[:4])[0], blob[4:]))
    return Note(text, tuple(signatures))


class _NamedVerifier:
    """What every note verifier shares: a named public key, its key id by the spec's rule, strict matching of a
    signature line to the key, and the vkey's key material. Each suite says how its key's bytes are written
    and how a signature is checked."""

    sig_type: int | bytes
    public_key: Any

    def __init__(self, name: str, public_key: Any) -> None:
        self.name = _check_name(name)
        self.public_key = public_key
        self.key_id = key_id(name, self.sig_type, self._public_bytes())

    def _public_bytes(self) -> bytes:
        raise NotImplementedError

    def _verifies(self, signature: bytes, message: bytes) -> bool:
        raise NotImplementedError

    def _message(self, text: str, sig: Signature) -> bytes:
        return text.encode()

    def _signature(self, sig: Signature) -> bytes:
        return sig.data

    def verify(self, text: str, sig: Signature) -> None:
        if sig.name != self.name or sig.key_id != self.key_id:
            raise NoteError(f"the signature is not from key {self.name}")
        if not self._verifies(self._signature(sig), self._message(text, sig)):
            raise NoteError(f"the signature of {self.name} does not verify")

    def key_material(self) -> bytes:
        """Type byte(s) and public key: what a vkey carries after the key id."""
        kind = bytes([self.sig_type]) if isinstance(self.sig_type, int) else self.sig_type
        return kind + self._public_bytes()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and format_vkey(self) == format_vkey(other)  # type: ignore[arg-type]

    def __hash__(self) -> int:
        return hash(format_vkey(self))  # type: ignore[arg-type]


class Ed25519NoteVerifier(_NamedVerifier):
    """Verifies Ed25519 note signatures (type 0x01) of one named key."""

    sig_type = SIG_ED25519
    public_key: Ed25519PublicKey

    def _public_bytes(self) -> bytes:
        return _raw(self.public_key)

    def _verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class _NamedKey:
    """A named Ed25519 private key whose key id depends on the signature type it makes."""

    sig_type = SIG_ED25519

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = _check_name(name)
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(name, self.sig_type, _raw(self.public_key))

    def __repr__(self) -> str:  # never the key material
        return f"{type(self).__name__}({self.name!r}, key id {self.key_id:08x})"


class Ed25519NoteSigner(_NamedKey):
    """Signs notes with a named Ed25519 key."""

    def sign(self, text: str) -> Signature:
        return Signature(self.name, self.key_id, self._key.sign(text.encode()))

    def verifier(self) -> Ed25519NoteVerifier:
        return Ed25519NoteVerifier(self.name, self.public_key)


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


class CosignatureVerifier(Ed25519NoteVerifier):
    """Verifies timestamped Ed25519 checkpoint cosignatures (type 0x04)."""

    sig_type = SIG_COSIGNATURE

    def _message(self, text: str, sig: Signature) -> bytes:
        return _cosigned_message(text, self.timestamp_of(sig))

    def _signature(self, sig: Signature) -> bytes:
        return sig.data[8:]

    @staticmethod
    def timestamp_of(sig: Signature) -> int:
        if len(sig.data) != 8 + 64:
            raise NoteError(f"the cosignature of {sig.name} is not 72 bytes")
        timestamp = struct.unpack(">Q", sig.data[:8])[0]
        if timestamp >= 1 << 63:
            raise NoteError(f"the cosignature of {sig.name} has an impossible timestamp")
        return timestamp


class CosignatureSigner(_NamedKey):
    """A witness's key: signs checkpoints with a timestamp (c2sp.org/tlog-cosignature)."""

    sig_type = SIG_COSIGNATURE

    def sign(self, text: str, timestamp: int) -> Signature:
        if not 0 <= timestamp < 1 << 63:
            raise NoteError("a cosignature timestamp must be between 0 and 2^63 − 1")
        signature = self._key.sign(_cosigned_message(text, timestamp))
        return Signature(self.name, self.key_id, struct.pack(">Q", timestamp) + signature)

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)


def _sm2_public_bytes(public_key: SM2PublicKey) -> bytes:
    """0x04 ‖ x ‖ y, then the user id when it is not the standard's default."""
    extra = b"" if public_key.user_id == b"1234567812345678" else public_key.user_id
    return b"\x04" + public_key.point + extra


class SM2NoteVerifier(_NamedVerifier):
    """Verifies SM2 note signatures (type 0xff + ``SM2_TYPE`` identifier) of one named key."""

    sig_type = SM2_TYPE
    public_key: SM2PublicKey

    def _public_bytes(self) -> bytes:
        return _sm2_public_bytes(self.public_key)

    def _verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except SignatureError:
            return False
        return True


class SM2CosignatureVerifier(SM2NoteVerifier):
    """Verifies timestamped SM2 checkpoint cosignatures: 8-byte timestamp ‖ DER signature."""

    sig_type = SM2_COSIGNATURE_TYPE

    def _message(self, text: str, sig: Signature) -> bytes:
        return _cosigned_message(text, self.timestamp_of(sig))

    def _signature(self, sig: Signature) -> bytes:
        return sig.data[8:]

    @staticmethod
    def timestamp_of(sig: Signature) -> int:
        if len(sig.data) < 8 + 8:
            raise NoteError(f"the cosignature of {sig.name} is too short")
        timestamp = struct.unpack(">Q", sig.data[:8])[0]
        if timestamp >= 1 << 63:
            raise NoteError(f"the cosignature of {sig.name} has an impossible timestamp")
        return timestamp


class _NamedSM2Key:
    sig_type = SM2_TYPE
    verifier_class: type[SM2NoteVerifier] = SM2NoteVerifier

    def __init__(self, name: str, private_key: SM2PrivateKey) -> None:
        self.name = _check_name(name)
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(name, self.sig_type, _sm2_public_bytes(self.public_key))

    def verifier(self) -> SM2NoteVerifier:
        return self.verifier_class(self.name, self.public_key)

    def __repr__(self) -> str:  # never the key material
        return f"{type(self).__name__}({self.name!r}, key id {self.key_id:08x})"


class SM2NoteSigner(_NamedSM2Key):
    """Signs notes with a named SM2 key."""

    def sign(self, text: str) -> Signature:
        return Signature(self.name, self.key_id, self._key.sign(text.encode()))


class SM2CosignatureSigner(_NamedSM2Key):
    """A witness's SM2 key: signs checkpoints with a timestamp."""

    sig_type = SM2_COSIGNATURE_TYPE
    verifier_class = SM2CosignatureVerifier

    def sign(self, text: str, timestamp: int) -> Signature:
        if not 0 <= timestamp < 1 << 63:
            raise NoteError("a cosignature timestamp must be between 0 and 2^63 − 1")
        return Signature(self.name, self.key_id, struct.pack(">Q", timestamp) + self._key.sign(_cosigned_message(text, timestamp)))


def note_signer(name: str, private_key: Ed25519PrivateKey | SM2PrivateKey) -> Ed25519NoteSigner | SM2NoteSigner:
    """The note signer for a key of either suite."""
    if isinstance(private_key, SM2PrivateKey):
        return SM2NoteSigner(name, private_key)
    return Ed25519NoteSigner(name, private_key)


def cosignature_signer(name: str, private_key: Ed25519PrivateKey | SM2PrivateKey) -> CosignatureSigner | SM2CosignatureSigner:
    """A witness's cosigning key of either suite (Ed25519: type 0x04; SM2: the cosignature identifier)."""
    if isinstance(private_key, SM2PrivateKey):
        return SM2CosignatureSigner(name, private_key)
    return CosignatureSigner(name, private_key)


AnyVerifier = Union[Ed25519NoteVerifier, CosignatureVerifier, SM2NoteVerifier, SM2CosignatureVerifier]
NoteSigner = Union[Ed25519NoteSigner, SM2NoteSigner]  # a chain's key, of either suite
NoteVerifier = Union[Ed25519NoteVerifier, SM2NoteVerifier]


def sign_note(text: str, signers: Sequence[NoteSigner]) -> Note:
    """Sign ``text`` (which must end in a newline) with each signer."""
    if not text.endswith("\n"):
        raise NoteError("a note text must end in a newline")
    if _CONTROL.search(text):
        raise NoteError("a note text must not contain control characters")
    return Note(text, tuple(s.sign(text) for s in signers))


def add_signatures(note: Note, signatures: Sequence[Signature]) -> Note:
    """The same note with more signature lines (e.g. witness cosignatures)."""
    return Note(note.text, note.signatures + tuple(signatures))


def verify_note(note: Note, verifiers: Sequence[AnyVerifier]) -> list[str]:
    """Names of the known keys whose signatures verify; raises NoteError per the spec's rules."""
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[str] = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue  # unknown keys are ignored, even if they share a name or an id
        verifier.verify(note.text, sig)
        if verifier.name not in verified:
            verified.append(verifier.name)
    if not verified:
        raise NoteError("the note carries no signature from a trusted key")
    return verified


def open_note(data: str | bytes, verifiers: Sequence[AnyVerifier]) -> Note:
    """Parse and verify in one step."""
    note = parse_note(data)
    verify_note(note, verifiers)
    return note


def format_vkey(verifier: AnyVerifier) -> str:
    """<name>+<hex key id>+base64(type || public key)."""
    return f"{verifier.name}+{verifier.key_id:08x}+{base64.b64encode(verifier.key_material()).decode()}"


def parse_vkey(vkey: str) -> AnyVerifier:
    """A verifier from its vkey text; the key id must match the name and key."""
    parts = vkey.strip().split("+", 2)  # base64 may itself hold "+"
    if len(parts) != 3 or len(parts[1]) != 8:
        raise NoteError("a verifier key looks like name+1234abcd+base64key")
    name, hex_id, b64 = parts
    try:
        claimed = int(hex_id, 16)
        blob = b64decode_strict(b64)
    except (ValueError, binascii.Error):
        raise NoteError("the verifier key's id or key is not valid hex/base64") from None
    verifier: AnyVerifier
    sm2 = next((c for c in (SM2CosignatureVerifier, SM2NoteVerifier) if blob.startswith(c.sig_type)), None)
    if sm2 is not None:
        point = blob[len(sm2.sig_type):]
        if len(point) < 65 or point[0] != 4:
            raise NoteError("the verifier key's SM2 public key is not 0x04 ‖ x ‖ y")
        try:
            verifier = sm2(name, SM2PublicKey(point[1:65], point[65:] or b"1234567812345678"))
        except ChainError:
            raise NoteError("the verifier key's SM2 point is not on the curve") from None
    else:
        if len(blob) != 33:
            raise NoteError("the verifier key is not an Ed25519 or SM2 key")
        cls = {SIG_ED25519: Ed25519NoteVerifier, SIG_COSIGNATURE: CosignatureVerifier}.get(blob[0])
        if cls is None:
            raise NoteError(f"unsupported signature type 0x{blob[0]:02x} in verifier key")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(blob[1:]))
    if verifier.key_id != claimed:
        raise NoteError("the verifier key's id does not match its name and key")
    return verifier
