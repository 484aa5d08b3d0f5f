"""Ed25519 key files: private keys as PKCS#8 PEM with mode 0600, public keys beside them.

Key material never appears in an exception message or a repr.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from .errors import KeyFileError, NoteError

__all__ = [
    "generate_private_key",
    "generate_keypair",
    "write_private_key",
    "write_public_key",
    "load_private_key",
    "load_public_key",
    "public_key_bytes",
]


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def write_private_key(path: str | Path, key: Ed25519PrivateKey, *, overwrite: bool = False) -> None:
    """Write a PEM private key readable by its owner only (0600), never replacing one silently."""
    path = Path(path)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
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


def write_public_key(path: str | Path, public_key: Ed25519PublicKey) -> None:
    path = Path(path)
    path.write_bytes(public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    os.chmod(path, 0o644)


def generate_keypair(out: str | Path) -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    """Write a new key to ``out`` (0600) and its public key to ``out.pub``."""
    key = generate_private_key()
    write_private_key(out, key)
    write_public_key(Path(str(out) + ".pub"), key.public_key())
    return key, key.public_key()


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Load a PEM Ed25519 private key, refusing one that others can read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
        key = load_pem_private_key(path.read_bytes(), password=None)
    except KeyFileError:
        raise
    except FileNotFoundError:
        raise KeyFileError(f"no key file at {path}") from None
    except (ValueError, TypeError, OSError) as exc:
        raise KeyFileError(f"{path} is not a readable PEM private key ({exc.__class__.__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a key that is not Ed25519")
    return key


def load_public_key(source: str | Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file, a file or string of 32 bytes in base64 or hex, or a vkey."""
    path = Path(source)
    try:
        raw = path.read_bytes() if path.is_file() else str(source).encode()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path} ({exc.__class__.__name__})") from None
    text = raw.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = load_pem_public_key(text)
        except ValueError:
            raise KeyFileError(f"{path} is not a valid PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{path} is not an Ed25519 public key")
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
        if len(blob) == 32:
            return Ed25519PublicKey.from_public_bytes(blob)
    raise KeyFileError("not an Ed25519 public key (PEM, 32 bytes in hex or base64, or a verifier key)")


def load_or_create_signer(path: str | Path, name: str):  # -> chain.note.Ed25519NoteSigner
    """A chain's note signer from its key file, making the key (0600) on first use."""
    from .note import Ed25519NoteSigner

    if not Path(path).exists():
        generate_keypair(path)
    return Ed25519NoteSigner(name, load_private_key(path))
