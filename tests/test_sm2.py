"""SM2 with SM3 (GB/T 32918.2): the standard's example, key files, and OpenSSL as an independent implementation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.errors import KeyFileError, SignatureError
from chain.sm2 import DEFAULT_USER_ID, SM2PrivateKey, SM2PublicKey, signature_from_rs, signature_to_rs, sm3

# GM/T 0003.5-2012 / GB/T 32918.2 example on the recommended curve: user id 1234567812345678, message "message digest"
EXAMPLE_PUBLIC = bytes.fromhex("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
                               "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
EXAMPLE_SECRET = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
EXAMPLE_R = bytes.fromhex("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3")
EXAMPLE_S = bytes.fromhex("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")


def test_sm3_examples_of_the_standard():
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_the_standards_signature_example_verifies_and_a_changed_one_does_not():
    key = SM2PublicKey(EXAMPLE_PUBLIC)
    signature = signature_from_rs(EXAMPLE_R, EXAMPLE_S)
    key.verify(signature, b"message digest")
    assert signature_to_rs(signature) == (EXAMPLE_R, EXAMPLE_S)
    with pytest.raises(SignatureError):
        key.verify(signature, b"message digesT")
    with pytest.raises(SignatureError):
        SM2PublicKey(EXAMPLE_PUBLIC, user_id=b"ALICE123@YAHOO.COM").verify(signature, b"message digest")
    bad_s = (int.from_bytes(EXAMPLE_S, "big") ^ 1).to_bytes(32, "big")
    with pytest.raises(SignatureError):
        key.verify(signature_from_rs(EXAMPLE_R, bad_s), b"message digest")


def test_the_example_private_key_yields_the_example_public_key():
    key = SM2PrivateKey(EXAMPLE_SECRET, EXAMPLE_PUBLIC)
    SM2PrivateKey.from_pem(key.to_pem()).public_key().verify(key.sign(b"message digest"), b"message digest")


@settings(max_examples=25, deadline=None)
@given(message=st.binary(max_size=300))
def test_sign_then_verify_and_any_flipped_bit_fails(message):
    key = SM2PrivateKey.generate()
    signature = key.sign(message)
    key.public_key().verify(signature, message)
    flipped = bytearray(signature)
    flipped[-1] ^= 1
    with pytest.raises(SignatureError):
        key.public_key().verify(bytes(flipped), message)
    with pytest.raises(SignatureError):
        key.public_key().verify(signature, message + b"x")


def test_garbage_signatures_are_refused_not_crashing():
    key = SM2PrivateKey.generate().public_key()
    for junk in (b"", b"\x30", b"\x30\x02\x02\x00", b"\x00" * 70, b"\x30\x44" + b"\x02\x20" + b"\xff" * 32 + b"\x02\x20" + b"\xff" * 32):
        with pytest.raises(SignatureError):
            key.verify(junk, b"m")


def test_a_point_off_the_curve_is_not_a_key():
    with pytest.raises(KeyFileError):
        SM2PublicKey(b"\x01" * 64)


def _openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def test_openssl_and_we_verify_each_others_signatures_and_read_each_others_keys(tmp_path: Path):
    """OpenSSL 3's SM2 (an independent implementation) and GmSSL's, both ways, with the default user id."""
    message = tmp_path / "m.txt"
    message.write_bytes("借款合同 L00042".encode())
    theirs = tmp_path / "theirs.pem"
    _openssl("genpkey", "-algorithm", "SM2", "-out", str(theirs))
    their_key = SM2PrivateKey.from_pem(theirs.read_text())
    their_signature = _openssl("pkeyutl", "-sign", "-in", str(message), "-inkey", str(theirs), "-rawin", "-digest", "sm3",
                               "-pkeyopt", "distid:" + DEFAULT_USER_ID.decode())
    their_key.public_key().verify(their_signature, message.read_bytes())
    public_pem = _openssl("pkey", "-in", str(theirs), "-pubout").decode()
    assert SM2PublicKey.from_pem(public_pem) == their_key.public_key()

    ours = SM2PrivateKey.generate()
    (tmp_path / "ours.pub.pem").write_text(ours.public_key().to_pem())
    (tmp_path / "ours.pem").write_text(ours.to_pem())
    (tmp_path / "sig.der").write_bytes(ours.sign(message.read_bytes()))
    out = _openssl("pkeyutl", "-verify", "-in", str(message), "-pubin", "-inkey", str(tmp_path / "ours.pub.pem"), "-rawin",
                   "-digest", "sm3", "-pkeyopt", "distid:" + DEFAULT_USER_ID.decode(), "-sigfile", str(tmp_path / "sig.der"))
    assert b"Verified Successfully" in out
    # OpenSSL reads our private key file too, and signs with it what we verify
    again = _openssl("pkeyutl", "-sign", "-in", str(message), "-inkey", str(tmp_path / "ours.pem"), "-rawin", "-digest", "sm3",
                     "-pkeyopt", "distid:" + DEFAULT_USER_ID.decode())
    ours.public_key().verify(again, message.read_bytes())


# --- SM2 in C2SP signed notes (type 0xff + identifier) ----------------------------------------------------

from chain.errors import NoteError  # noqa: E402
from chain.keys import generate_private_key  # noqa: E402
from chain.note import (  # noqa: E402
    SM2_TYPE,
    Ed25519NoteSigner,
    SM2CosignatureSigner,
    SM2NoteSigner,
    format_vkey,
    key_id,
    parse_note,
    parse_vkey,
    sign_note,
    verify_note,
)

# a fixed vector: the standard's example key named example.com/sm2, and a signature made once with it
EXAMPLE_VKEY = ("example.com/sm2+3e1e7175+/2didDMyOTE4LjIvc20yLXNtMwQJ+d8xHlQhoVDdfRYeS8XGchefrRgz/AdrsI/zVvNQIMzqSQziZ3W"
                "lLcbqcYzBqmAK7QX7814ISmYy9gctqa0T")
EXAMPLE_NOTE = ("This is an example message.\n\n— example.com/sm2 Ph5xdTBEAiAv8VARYrzm7DLORAUK59Pow5JLrcWL/GE2ok6b24xGpQIga/"
                "eqsDBGyTbmWma+3UTORM6dr9+WtRC8cybU5M1lXKU=\n")


def test_sm2_vkey_and_note_vector():
    verifier = parse_vkey(EXAMPLE_VKEY)
    assert format_vkey(verifier) == EXAMPLE_VKEY
    assert verifier.key_id == key_id("example.com/sm2", SM2_TYPE, b"\x04" + EXAMPLE_PUBLIC) == 0x3E1E7175
    assert verify_note(parse_note(EXAMPLE_NOTE), [verifier]) == ["example.com/sm2"]
    with pytest.raises(NoteError):
        verify_note(parse_note(EXAMPLE_NOTE.replace("example message", "example massage")), [verifier])


def test_an_ed25519_only_verifier_skips_sm2_lines_and_the_reverse():
    ed = Ed25519NoteSigner("court.example/j", generate_private_key())
    sm = SM2NoteSigner("court.example/j", SM2PrivateKey.generate())  # same name: told apart by key id
    note = parse_note(sign_note("both suites\n", [ed, sm]).to_text())
    assert verify_note(note, [ed.verifier()]) == ["court.example/j"]
    assert verify_note(note, [sm.verifier()]) == ["court.example/j"]
    only_sm2 = parse_note(sign_note("sm2 only\n", [sm]).to_text())
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        verify_note(only_sm2, [ed.verifier()])


def test_sm2_cosignature_round_trip_and_timestamp_is_signed():
    witness = SM2CosignatureSigner("witness.example/notary", SM2PrivateKey.generate())
    sig = witness.sign("checkpoint text\n", 1_700_000_000)
    verifier = parse_vkey(format_vkey(witness.verifier()))
    verifier.verify("checkpoint text\n", sig)
    forged = type(sig)(sig.name, sig.key_id, (1_700_000_001).to_bytes(8, "big") + sig.data[8:])
    with pytest.raises(NoteError):
        verifier.verify("checkpoint text\n", forged)
    assert parse_vkey(format_vkey(witness.verifier())).key_id != SM2NoteSigner("witness.example/notary", SM2PrivateKey.generate()).key_id


def test_sm2_vkey_with_a_point_off_the_curve_is_refused():
    import base64

    bad = base64.b64encode(SM2_TYPE + b"\x04" + b"\x01" * 64).decode()
    with pytest.raises(NoteError):
        parse_vkey(f"example.com/sm2+00000000+{bad}")


def test_sm2_key_files_are_0600_and_load_back_as_sm2(tmp_path: Path):
    import stat

    from chain.keys import generate_keypair, load_or_create_signer, load_private_key, load_public_key, public_key_bytes

    private, public = generate_keypair(tmp_path / "lender.key", "sm2")
    assert stat.S_IMODE((tmp_path / "lender.key").stat().st_mode) == 0o600
    assert isinstance(load_private_key(tmp_path / "lender.key"), SM2PrivateKey)
    assert load_public_key(tmp_path / "lender.key.pub") == public
    assert load_public_key(public_key_bytes(public).hex()) == public
    signer = load_or_create_signer(tmp_path / "chain.key", "sm2.example/chain", "sm2")
    assert isinstance(signer, SM2NoteSigner)
    again = load_or_create_signer(tmp_path / "chain.key", "sm2.example/chain")  # the file decides the suite
    assert format_vkey(again.verifier()) == format_vkey(signer.verifier())
    (tmp_path / "lender.key").chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_private_key(tmp_path / "lender.key")
    assert "secret" not in repr(private) or "<secret>" in repr(private)


def test_a_ledger_on_sm2_and_sm3_seals_proves_offline_and_audits(tmp_path: Path):
    """Blocks, checkpoints and offline proofs of an SM2+SM3 chain verify with nothing but its vkey."""
    from chain.audit import audit_ledger
    from chain.hashing import SM3
    from chain.keys import load_or_create_signer
    from chain.ledger import Ledger
    from chain.merkle import leaf_hash
    from chain.tlog_proof import format_tlog_proof, parse_tlog_proof, verify_tlog_proof
    from chain_sql import open_store

    signer = load_or_create_signer(tmp_path / "signer.key", "sm2.example/chain", "sm2")
    store = open_store(tmp_path / "ledger.db")
    ledger = Ledger.create(store, "sm2.example/chain", signer, SM3)
    ledger.append([b"entry-%d" % i for i in range(300)])
    assert ledger.seal() is not None
    checkpoint = ledger.latest_checkpoint()
    proof = ledger.inclusion_proof(123)
    text = format_tlog_proof(123, proof.hashes, checkpoint.note.to_text())
    vkey = format_vkey(signer.verifier())
    assert "+/2di" in vkey  # base64 of 0xff + "gbt32918.2/…": the SM2 escape type
    verify_tlog_proof(parse_tlog_proof(text), leaf_hash(b"entry-123", SM3), parse_vkey(vkey), suite=SM3)
    from chain.errors import ProofError

    with pytest.raises(ProofError):
        verify_tlog_proof(parse_tlog_proof(text), leaf_hash(b"entry-124", SM3), parse_vkey(vkey), suite=SM3)
    report = audit_ledger(store, parse_vkey(vkey))
    assert report.ok, report.to_dict()
    store.close()


def test_user_hash_of_the_standards_example():
    """Z_A of the example key with the default id, as GM/T 0003.5 states it."""
    from chain.sm2 import user_hash

    assert user_hash(EXAMPLE_PUBLIC).hex().upper() == "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
    assert SM2PublicKey(EXAMPLE_PUBLIC).digest(b"message digest").hex().upper() == \
        "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
