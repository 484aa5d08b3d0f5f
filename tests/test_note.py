"""C2SP signed notes and cosignatures: the spec's examples are the test vectors."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.errors import NoteError
from chain.note import (
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519NoteSigner,
    add_signatures,
    format_vkey,
    open_note,
    parse_note,
    parse_vkey,
    sign_note,
    verify_note,
)

# From c2sp.org/signed-note, "Verifier keys" → Example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_spec_example_verifies() -> None:
    verifier = parse_vkey(SPEC_VKEY)
    assert verifier.name == "example.com/foo" and verifier.key_id == 0x530D903A
    note = open_note(SPEC_NOTE, [verifier])
    assert note.text == "This is an example message.\n"
    assert note.to_text() == SPEC_NOTE
    assert format_vkey(verifier) == SPEC_VKEY


@pytest.mark.parametrize("position", range(len(SPEC_NOTE.encode())))
def test_spec_example_with_any_byte_changed_is_rejected(position: int) -> None:
    data = bytearray(SPEC_NOTE.encode())
    data[position] ^= 0x01
    with pytest.raises(NoteError):
        open_note(bytes(data), [parse_vkey(SPEC_VKEY)])


def _signer(name: str = "log.example/a") -> Ed25519NoteSigner:
    return Ed25519NoteSigner(name, Ed25519PrivateKey.generate())


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80).map(lambda t: t + "\n")


@given(text=texts, extra=st.lists(texts, max_size=2))
@settings(max_examples=50, deadline=None)
def test_round_trip(text: str, extra: list[str]) -> None:
    body = text + "".join(extra)
    signer = _signer()
    note = sign_note(body, [signer])
    parsed = parse_note(note.to_text())
    assert parsed == note
    assert verify_note(parsed, [signer.verifier()]) == [signer.name]


def test_unknown_keys_are_ignored_but_one_known_must_verify() -> None:
    a, b = _signer("a.example"), _signer("b.example")
    note = sign_note("hello\n", [a, b])
    assert verify_note(note, [b.verifier()]) == ["b.example"]
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        verify_note(note, [_signer("c.example").verifier()])
    # same name, other key: the key id differs, so it is an unknown key
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        verify_note(note, [_signer("a.example").verifier()])


def test_a_known_key_with_a_bad_signature_rejects_the_note() -> None:
    a = _signer()
    note = sign_note("hello\n", [a])
    forged = add_signatures(parse_note(sign_note("other\n", [a]).to_text()), [])
    bad = type(note)(note.text, forged.signatures)
    with pytest.raises(NoteError, match="does not verify"):
        verify_note(bad, [a.verifier()])


@pytest.mark.parametrize(
    "data",
    [
        "no blank line\n— a.example AAAAAAA=\n",
        "text\n\n— a.example AAAA\n",  # too short
        "text\n\n— a.example not*base64\n",
        "text\n\n— a b AAAAAAAA\n",  # space in name
        "text\n\n— a+b AAAAAAAA\n",  # plus in name
        "text\n\n- a.example AAAAAAAA\n",  # hyphen, not em dash
        "text\n\n— a.example AAAAAAAA",  # no final newline
        "\n\n— a.example AAAAAAAA\n",  # empty text
        "te\x01xt\n\n— a.example AAAAAAAA\n",  # control character
        b"\xff\xfe\n\n\xe2\x80\x94 a.example AAAAAAAA\n",  # not UTF-8
    ],
)
def test_malformed_notes_are_rejected(data) -> None:
    with pytest.raises(NoteError):
        parse_note(data)


def test_too_many_signatures_are_refused() -> None:
    signers = [_signer(f"s{i}.example") for i in range(3)]
    note = sign_note("x\n", signers)
    with pytest.raises(NoteError, match="more than 2"):
        parse_note(note.to_text(), max_signatures=2)
    assert len(parse_note(note.to_text(), max_signatures=16).signatures) == 3


def test_cosignature_message_layout_is_the_specs() -> None:
    key = Ed25519PrivateKey.generate()
    cosigner = CosignatureSigner("witness.example/w1", key)
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    sig = cosigner.sign(body, 1679315147)
    assert struct.unpack(">Q", sig.data[:8])[0] == 1679315147
    expected = b"cosignature/v1\ntime 1679315147\n" + body.encode()
    key.public_key().verify(sig.data[8:], expected)  # raises if the layout differs
    verifier = cosigner.verifier()
    verifier.verify(body, sig)
    assert CosignatureVerifier.timestamp_of(sig) == 1679315147
    # the timestamp is signed: change it and the cosignature fails
    moved = type(sig)(sig.name, sig.key_id, struct.pack(">Q", 1679315148) + sig.data[8:])
    with pytest.raises(NoteError):
        verifier.verify(body, moved)
    # type 0x04 key ids differ from type 0x01 for the same key and name
    assert verifier.key_id != Ed25519NoteSigner("witness.example/w1", key).key_id
    assert parse_vkey(format_vkey(verifier)).key_id == verifier.key_id


def test_vkey_errors() -> None:
    for bad in ["nope", "a+zzzzzzzz+AA==", "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                "a+00000000+" + base64.b64encode(b"\x09" + bytes(32)).decode()]:
        with pytest.raises(NoteError):
            parse_vkey(bad)
