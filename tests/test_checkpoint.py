"""C2SP tlog-checkpoint and tlog-proof: parse, sign, open, cosign, quorum."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.checkpoint import Checkpoint, cosign, open_checkpoint, parse_checkpoint, sign_checkpoint
from chain.errors import NoteError, ProofError
from chain.merkle import inclusion_proof, leaf_hash, root
from chain.note import CosignatureSigner, Ed25519NoteSigner, parse_note
from chain.tlog_proof import format_tlog_proof, parse_tlog_proof, verify_tlog_proof

SPEC = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
ORIGIN = "judicial.test/court"


def test_spec_example_parses_and_round_trips() -> None:
    note = parse_note(SPEC)
    cp = parse_checkpoint(note.text)
    assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)
    assert cp.to_text() == note.text and note.to_text() == SPEC


@pytest.mark.parametrize(
    "text",
    ["a\n1\n", "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "a\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
     "a\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "a\n1\nAAAA\n", "a\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
     "a\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="],
)
def test_malformed_checkpoints(text: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint(text)


@pytest.fixture
def log() -> Ed25519NoteSigner:
    return Ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


def test_sign_open_and_tamper(log) -> None:
    signed = sign_checkpoint(Checkpoint(ORIGIN, 5, bytes(range(32))), log)
    assert open_checkpoint(signed.to_text(), log.verifier(), origin=ORIGIN).checkpoint.size == 5
    data = bytearray(signed.to_text().encode())
    for i in range(len(data)):
        changed = bytearray(data)
        changed[i] ^= 0x20
        with pytest.raises(NoteError):
            open_checkpoint(bytes(changed), log.verifier(), origin=ORIGIN)
    with pytest.raises(NoteError, match="not 'other"):
        open_checkpoint(signed.to_text(), log.verifier(), origin="other.example/x")


def test_witness_quorum(log) -> None:
    witnesses = [CosignatureSigner(f"w{i}.example", Ed25519PrivateKey.generate()) for i in range(3)]
    signed = sign_checkpoint(Checkpoint(ORIGIN, 9, bytes(32)), log)
    for w in witnesses[:2]:
        signed = cosign(signed, w, 1_700_000_000)
    verifiers = [w.verifier() for w in witnesses]
    opened = open_checkpoint(signed.to_text(), log.verifier(), witnesses=verifiers, min_witnesses=2)
    assert opened.witnesses_verified(verifiers) == ["w0.example", "w1.example"]
    with pytest.raises(NoteError, match="2 valid witness cosignature"):
        open_checkpoint(signed.to_text(), log.verifier(), witnesses=verifiers, min_witnesses=3)
    # a witness cosignature alone is not the log's signature
    only_witness = sign_checkpoint(Checkpoint(ORIGIN, 9, bytes(32)), Ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.generate()))
    with pytest.raises(NoteError, match="not signed by the log"):
        open_checkpoint(only_witness.to_text(), log.verifier())


def test_tlog_proof_round_trip_and_any_byte_changed_fails(log) -> None:
    entries = [b"record %d" % i for i in range(21)]
    leaves = [leaf_hash(e) for e in entries]
    signed = sign_checkpoint(Checkpoint(ORIGIN, 21, root(leaves)), log)
    text = format_tlog_proof(13, inclusion_proof(leaves, 13), signed.to_text(), extra=b"case 2026-01")
    proof = parse_tlog_proof(text)
    assert proof.to_text() == text and proof.extra == b"case 2026-01"
    verify_tlog_proof(proof, leaves[13], log.verifier(), origin=ORIGIN)
    with pytest.raises(ProofError):
        verify_tlog_proof(proof, leaves[12], log.verifier())
    data = text.encode()
    extra_line = range(text.index("extra "), text.index("index "))  # the extra data is not authenticated (spec)
    for i in range(len(data)):
        if i in extra_line:
            continue
        changed = bytearray(data)
        changed[i] ^= 0x01
        with pytest.raises((ProofError, NoteError)):
            verify_tlog_proof(parse_tlog_proof(bytes(changed)), leaves[13], log.verifier(), origin=ORIGIN)


def test_a_log_key_does_not_count_as_a_witness(log) -> None:
    signed = sign_checkpoint(Checkpoint(ORIGIN, 3, bytes(32)), log)
    with pytest.raises(NoteError, match="0 valid witness cosignature"):
        open_checkpoint(signed.to_text(), log.verifier(), witnesses=[log.verifier()], min_witnesses=1)
