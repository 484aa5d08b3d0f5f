"""Key files: private 0600 and never overwritten, errors without key material."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chain.errors import KeyFileError
from chain.keys import generate_keypair, load_private_key, load_public_key, public_key_bytes, write_private_key
from chain.note import Ed25519NoteSigner, format_vkey


def test_generate_writes_0600_and_public_key(tmp_path) -> None:
    private, public = generate_keypair(tmp_path / "k")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    assert load_private_key(tmp_path / "k").public_key() == public
    assert load_public_key(tmp_path / "k.pub") == public
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        generate_keypair(tmp_path / "k")
    raw = public_key_bytes(public)
    assert load_public_key(raw.hex()) == public
    assert load_public_key(base64.b64encode(raw).decode()) == public
    assert load_public_key(format_vkey(Ed25519NoteSigner("x.example", private).verifier())) == public


def test_overwrite_keeps_0600(tmp_path) -> None:
    private, _ = generate_keypair(tmp_path / "k")
    write_private_key(tmp_path / "k", private, overwrite=True)
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600


def test_readable_by_others_is_refused(tmp_path) -> None:
    generate_keypair(tmp_path / "k")
    os.chmod(tmp_path / "k", 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_private_key(tmp_path / "k")


def test_errors_never_show_key_material(tmp_path) -> None:
    private, public = generate_keypair(tmp_path / "k")
    pem = (tmp_path / "k").read_text()
    broken = tmp_path / "broken"
    broken.write_text(pem[:-40])
    os.chmod(broken, 0o600)
    with pytest.raises(KeyFileError) as caught:
        load_private_key(broken)
    secret_lines = [line for line in pem.splitlines() if not line.startswith("-----")]
    assert all(line not in str(caught.value) for line in secret_lines)
    assert "Ed25519NoteSigner('a.example'" in repr(Ed25519NoteSigner("a.example", private))
    assert pem.splitlines()[1] not in repr(Ed25519NoteSigner("a.example", private))
    with pytest.raises(KeyFileError, match="no key file"):
        load_private_key(tmp_path / "absent")
    with pytest.raises(KeyFileError):
        load_public_key("definitely not a key")
    assert public.public_bytes(Encoding.Raw, PublicFormat.Raw) == public_key_bytes(public)
