"""Key files of either suite, Ed25519 or SM2: private keys as PKCS#8 PEM with mode 0600, public keys
(SPKI PEM) beside them. A file's suite is read from the file itself.

Key material never appears in an exception message or a repr.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from .errors import KeyFileError, NoteError, SignatureError
from .sm2 import SM2PrivateKey, SM2PublicKey

__all__ = [
    "generate_private_key",
    "generate_keypair",
    "write_private_key",
    "write_public_key",
    "load_private_key",
    "load_public_key",
    "public_key_bytes",
    "public_key_from_bytes",
    "signature_verifies",
    "chain_suite",
    "paired_hash_suite",
    "CHAIN_SUITES",
    "KEY_TYPES",
    "PrivateKey",
    "PublicKey",
]

KEY_TYPES = ("ed25519", "sm2")
PrivateKey = Ed25519PrivateKey | SM2PrivateKey
PublicKey = Ed25519PublicKey | SM2PublicKey
# a chain's suite names its signing key type and its tree hash together, as the issue pairs them
CHAIN_SUITES = {"ed25519": ("ed25519", "sha256"), "sm2": ("sm2", "sm3")}


def chain_suite(name: str) -> tuple[str, str]:
    """(key type, hash suite) of a chain suite: "ed25519" (Ed25519 + SHA-256) or "sm2" (SM2 + SM3)."""
    try:
        return CHAIN_SUITES[name.lower()]
    except KeyError:
        raise KeyFileError(f"unknown suite {name!r}: use one of {', '.join(CHAIN_SUITES)}") from None


def generate_private_key(key_type: str = "ed25519") -> PrivateKey:
    if key_type == "sm2":
        return SM2PrivateKey.generate()
    if key_type != "ed25519":
        raise KeyFileError(f"unknown key type {key_type!r}: use one of {', '.join(KEY_TYPES)}")
    return Ed25519PrivateKey.generate()


def key_type(key: PrivateKey | PublicKey) -> str:
    return "sm2" if isinstance(key, SM2PrivateKey | SM2PublicKey) else "ed25519"


def public_key_bytes(public_key: PublicKey) -> bytes:
    """Raw public key: Ed25519's 32 bytes, or SM2's 0x04 ‖ x ‖ y."""
    if isinstance(public_key, SM2PublicKey):
        return b"\x04" + public_key.point
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def paired_hash_suite(verifier: object):  # -> chain.hashing.HashSuite
    """The tree hash a chain signed by ``verifier``'s key uses (SM2 → SM3, Ed25519 → SHA-256), for an offline
    verifier that holds nothing but the key."""
    from .hashing import suite_by_name
    from .note import SM2CosignatureVerifier, SM2NoteVerifier

    return suite_by_name(CHAIN_SUITES["sm2" if isinstance(verifier, SM2NoteVerifier | SM2CosignatureVerifier) else "ed25519"][1])


def public_key_from_bytes(raw: bytes) -> PublicKey:
    """A public key from its raw form, whose length names its type: Ed25519's 32 bytes or SM2's 65 bytes 0x04 ‖ x ‖ y
    (the point checked to be on the curve). KeyFileError otherwise."""
    if len(raw) == 32:
        return Ed25519PublicKey.from_public_bytes(raw)
    if len(raw) == 65 and raw[0] == 4:
        return SM2PublicKey(raw[1:])
    raise KeyFileError("a public key is Ed25519's 32 bytes or SM2's 65 bytes 0x04 ‖ x ‖ y")


def signature_verifies(public_key: PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s over ``message`` (Ed25519, or SM2 DER with SM3 and the key's user id)."""
    try:
        public_key.verify(signature, message)
    except (InvalidSignature, SignatureError):
        return False
    return True


def _private_pem(key: PrivateKey) -> bytes:
    if isinstance(key, SM2PrivateKey):
        return key.to_pem().encode()
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def public_key_pem(public_key: PublicKey) -> bytes:
    if isinstance(public_key, SM2PublicKey):
        return public_key.to_pem().encode()
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def write_private_key(path: str | Path, key: PrivateKey, *, overwrite: bool = False) -> None:
    """Write a PEM private key readable by its owner only (0600), never replacing one silently."""
    path = Path(path)
    pem = _private_pem(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from None
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(path, 0o600)  # in case the umask narrowed nothing but the mode was preset
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_public_key(path: str | Path, public_key: PublicKey) -> None:
    path = Path(path)
    path.write_bytes(public_key_pem(public_key))
    os.chmod(path, 0o644)


def generate_keypair(out: str | Path, key_type: str = "ed25519") -> tuple[PrivateKey, PublicKey]:
    """Write a new key to ``out`` (0600) and its public key to ``out.pub``."""
    key = generate_private_key(key_type)
    write_private_key(out, key)
    write_public_key(Path(str(out) + ".pub"), key.public_key())
    return key, key.public_key()


def load_private_key(path: str | Path) -> PrivateKey:
    """Load a PEM Ed25519 or SM2 private key, refusing one that others can read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
        pem = path.read_bytes()
    except KeyFileError:
        raise
    except FileNotFoundError:
        raise KeyFileError(f"no key file at {path}") from None
    except OSError as exc:
        raise KeyFileError(f"{path} is not readable ({exc.__class__.__name__})") from None
    try:
        return SM2PrivateKey.from_pem(pem.decode("ascii", "replace"))
    except KeyFileError:
        pass  # not SM2: try the other suite
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a readable PEM private key ({exc.__class__.__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a key that is neither Ed25519 nor SM2")
    return key


def load_public_key(source: str | Path) -> PublicKey:
    """A public key from a PEM file (Ed25519 or SM2), a vkey, or raw bytes in hex or base64 (32 bytes: Ed25519;
    65 bytes 0x04 ‖ x ‖ y: SM2)."""
    path = Path(source)
    try:
        raw = path.read_bytes() if path.is_file() else str(source).encode()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path} ({exc.__class__.__name__})") from None
    text = raw.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            return SM2PublicKey.from_pem(text.decode("ascii", "replace"))
        except KeyFileError:
            pass  # not SM2: try the other suite
        try:
            key = load_pem_public_key(text)
        except ValueError:
            raise KeyFileError(f"{path} is not a valid PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{path} is neither an Ed25519 nor an SM2 public key")
        return key
    decoded = text.decode("ascii", "replace")
    if decoded.count("+") >= 2:
        from .note import parse_vkey

        try:
            return parse_vkey(decoded).public_key
        except NoteError:
            pass  # maybe plain base64 that happens to hold "+"
    for decode in (bytes.fromhex, lambda s: base64.b64decode(s, validate=True)):
        try:
            blob = decode(decoded)
        except (ValueError, binascii.Error):
            continue
        if len(blob) == 32 or (len(blob) == 65 and blob[0] == 4):
            return public_key_from_bytes(blob)
    raise KeyFileError("not a public key (PEM, Ed25519's 32 bytes or SM2's 0x04‖x‖y in hex or base64, or a verifier key)")


def load_or_create_signer(path: str | Path, name: str, key_type: str = "ed25519"):  # -> chain.note.Ed25519NoteSigner | SM2NoteSigner
    """A chain's note signer from its key file, making the key (0600, of ``key_type``) on first use.

    An existing key file decides the suite: a chain keeps the suite it was created with.
    """
    from .note import note_signer

    if not Path(path).exists():
        generate_keypair(path, key_type)
    return note_signer(name, load_private_key(path))
