"""Pool certificates: signed, parsed back field by field, each loan's proof checked offline; one changed byte anywhere
(the note, a leaf, a proof hash, the index, the size, the pool id) is refused with CertificateError and nothing else."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chain.hashing import SHA256, HashSuite, suite_by_name
from chain.keys import generate_private_key
from chain.merkle import leaf_hash
from chain.note import format_vkey, note_signer, sign_note
from evidence.canonical_json import canonical_json
from service_chain.certificate import (
    CERTIFICATE_HEADER,
    PROOF_FORMAT,
    Certificate,
    CertificateError,
    certificate_text,
    loan_leaf,
    loan_proof,
    parse_certificate,
    verify_certificate,
)
from service_chain.pool_check import Deposit, LoanVerdict
from service_chain.pool_tree import PoolTree
from service_chain.rules import load_rules

LENDER, POOL, FUNDER = "L0001", "POOL-7f3a", "F001"
T = 1_772_330_400_000
TEXT_CHARS = st.characters(codec="utf-8")


def _deposit(index: int, record_type: str, amount: int | None, code: str | None = "anchored") -> Deposit:
    digest = hashlib.sha256(f"{index}/{record_type}".encode()).hexdigest()
    return Deposit(index, record_type, T + index, T + index + 1000, digest, None if code is None else f"DC{index:06d}", amount, 1800, None)


def verdicts(n: int) -> list[LoanVerdict]:
    """Loans of all kinds: eligible ones, one with exceptions, one whose record has no code yet."""
    out = []
    for i in range(n):
        base = 10 * i
        records = [_deposit(base, "contract", 500_000 + i), _deposit(base + 1, "disbursement", 500_000 + i),
                   _deposit(base + 2, "repayment", 1000, code=None if i % 5 == 4 else "anchored")]
        v = LoanVerdict(f"LOAN-{i:04d}", 499_000 + i, 499_000 + i, records=records)
        if i % 3 == 2:
            v.add("claim-mismatch", "claimed this; the reports give that")
            v.add("overdue", "45 days past due (at most 30 for financing)")
        if i % 5 == 4:
            v.add("not-anchored", "record 3 (repayment) is deposited but not anchored yet")
        out.append(v)
    return out


@dataclass(frozen=True)
class Pool:
    certificate: Certificate
    note: str
    vkey: str
    leaves: list[str]
    proofs: list[dict[str, Any]]


def make_pool(n: int, key_type: str = "ed25519", suite: HashSuite = SHA256, pool_id: str = POOL, leaves: list[str] | None = None) -> Pool:
    vs = verdicts(n)
    leaves = [loan_leaf(LENDER, v) for v in vs] if leaves is None else leaves
    tree = PoolTree([leaf_hash(leaf.encode(), suite) for leaf in leaves], suite)
    eligible = [v for v in vs if v.eligible]
    cert = Certificate("gz-service-chain", pool_id, LENDER, "financing", FUNDER, len(leaves), len(eligible),
                       sum(v.outstanding_fen or 0 for v in eligible), suite.name, tree.root(), load_rules().sha256, T)
    signer = note_signer("gz-service", generate_private_key(key_type))
    note = sign_note(certificate_text(cert), [signer]).to_text()
    proofs = [loan_proof(pool_id, i, tree.size, leaf, tree.proof(i)) for i, leaf in enumerate(leaves)]
    return Pool(cert, note, format_vkey(signer.verifier()), leaves, proofs)


@functools.cache
def pool() -> Pool:
    return make_pool(11)  # not a power of two: proofs of different lengths


def refused(note: str, vkey: str, proof: dict[str, Any] | None = None) -> str:
    with pytest.raises(CertificateError) as info:
        verify_certificate(note, vkey, proof)
    return str(info.value)


# --- round trips ------------------------------------------------------------------------------------------------------


def test_the_certificate_parses_back_every_field() -> None:
    p = pool()
    cert, body = verify_certificate(p.note, p.vkey)
    assert body is None
    assert cert == p.certificate
    assert (cert.chain, cert.pool, cert.lender, cert.purpose, cert.offered_to) == ("gz-service-chain", POOL, LENDER, "financing", FUNDER)
    assert (cert.loans, cert.eligible, cert.hash, cert.time_ms) == (11, 6, "sha256", T)
    assert cert.outstanding == sum(v.outstanding_fen for v in verdicts(11) if v.eligible)
    assert cert.rules == hashlib.sha256(load_rules().text.encode()).hexdigest()
    assert p.note.startswith(CERTIFICATE_HEADER + "\n")
    assert parse_certificate(certificate_text(cert)) == cert


def test_every_loan_proof_returns_its_leaf() -> None:
    p = pool()
    for i, (proof, v) in enumerate(zip(p.proofs, verdicts(11), strict=True)):
        assert proof["format"] == PROOF_FORMAT and proof["index"] == i and proof["size"] == 11
        cert, body = verify_certificate(p.note, p.vkey, proof)
        assert cert == p.certificate
        assert body == json.loads(p.leaves[i])
        assert body["loan_id"] == v.loan_id and body["lender_id"] == LENDER
        assert body["eligible"] is v.eligible and body["outstanding_fen"] == v.outstanding_fen and body["claimed_fen"] == v.claimed_fen
        assert body["exceptions"] == [e["code"] for e in v.exceptions]
        assert body["records"] == [{"type": d.record_type, "digest": d.digest, "deposit_code": d.deposit_code, "supervision_index": d.index}
                                   for d in v.records]


def test_the_proof_survives_a_json_round_trip() -> None:
    p = pool()
    proof = json.loads(json.dumps(p.proofs[3]))
    assert verify_certificate(p.note, p.vkey, proof)[1]["loan_id"] == "LOAN-0003"


def test_a_pool_of_one_loan() -> None:
    p = make_pool(1)
    assert p.proofs[0]["inclusion_proof"] == []
    assert verify_certificate(p.note, p.vkey, p.proofs[0])[1]["loan_id"] == "LOAN-0000"


@pytest.mark.parametrize("suite_name", ["sm3"])
def test_an_sm2_signed_certificate_over_an_sm3_tree(suite_name: str) -> None:
    try:
        suite = suite_by_name(suite_name)
    except ValueError as exc:
        pytest.skip(str(exc))
    p = make_pool(6, key_type="sm2", suite=suite)
    cert, _ = verify_certificate(p.note, p.vkey)
    assert cert == p.certificate and cert.hash == "sm3"
    for i, proof in enumerate(p.proofs):
        assert verify_certificate(p.note, p.vkey, proof)[1] == json.loads(p.leaves[i])
    # the same leaves under SHA-256 give another root: the proof is checked with the certificate's suite
    assert cert.root != make_pool(6, leaves=p.leaves).certificate.root
    changed = copy.deepcopy(p.proofs[2])
    changed["leaf"] = changed["leaf"].replace("LOAN-0002", "LOAN-0003")
    refused(p.note, p.vkey, changed)
    refused(p.note, pool().vkey)  # an Ed25519 key does not verify it


# --- one changed byte -------------------------------------------------------------------------------------------------


@given(data=st.data())
@settings(max_examples=400, deadline=None)
def test_any_changed_character_of_the_note_is_refused(data: st.DataObject) -> None:
    p = pool()
    i = data.draw(st.integers(0, len(p.note) - 1), label="position")
    new = data.draw(TEXT_CHARS.filter(lambda c: c != p.note[i]), label="character")
    refused(p.note[:i] + new + p.note[i + 1:], p.vkey)


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_any_changed_byte_of_the_note_is_refused(data: st.DataObject) -> None:
    p = pool()
    raw = bytearray(p.note.encode())
    i = data.draw(st.integers(0, len(raw) - 1), label="position")
    raw[i] ^= data.draw(st.integers(1, 255), label="xor")
    try:
        changed = raw.decode()
    except UnicodeDecodeError:
        changed = raw.decode("latin-1")  # still one text the verifier must refuse
    refused(changed, p.vkey)
    refused(changed, p.vkey, p.proofs[0])


def test_removing_or_adding_a_line_is_refused() -> None:
    p = pool()
    lines = p.note.split("\n")
    for n in range(len(lines)):
        refused("\n".join(lines[:n] + lines[n + 1:]), p.vkey)
    refused(p.note.replace("\n\n", "\nextra line\n\n"), p.vkey)


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_any_changed_character_of_a_leaf_is_refused(data: st.DataObject) -> None:
    p = pool()
    n = data.draw(st.integers(0, len(p.proofs) - 1), label="loan")
    proof = copy.deepcopy(p.proofs[n])
    leaf = proof["leaf"]
    i = data.draw(st.integers(0, len(leaf) - 1), label="position")
    proof["leaf"] = leaf[:i] + data.draw(TEXT_CHARS.filter(lambda c: c != leaf[i]), label="character") + leaf[i + 1:]
    refused(p.note, p.vkey, proof)


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_any_changed_byte_of_a_proof_hash_is_refused(data: st.DataObject) -> None:
    p = pool()
    n = data.draw(st.integers(0, len(p.proofs) - 1), label="loan")
    proof = copy.deepcopy(p.proofs[n])
    j = data.draw(st.integers(0, len(proof["inclusion_proof"]) - 1), label="hash")
    raw = bytearray(base64.b64decode(proof["inclusion_proof"][j]))
    k = data.draw(st.integers(0, len(raw) - 1), label="byte")
    raw[k] ^= data.draw(st.integers(1, 255), label="xor")
    proof["inclusion_proof"][j] = base64.b64encode(bytes(raw)).decode()
    refused(p.note, p.vkey, proof)


@given(data=st.data())
@settings(max_examples=200, deadline=None)
def test_any_changed_character_of_a_proof_hash_text_is_refused(data: st.DataObject) -> None:
    p = pool()
    n = data.draw(st.integers(0, len(p.proofs) - 1), label="loan")
    proof = copy.deepcopy(p.proofs[n])
    j = data.draw(st.integers(0, len(proof["inclusion_proof"]) - 1), label="hash")
    text = proof["inclusion_proof"][j]
    i = data.draw(st.integers(0, len(text) - 1), label="position")
    proof["inclusion_proof"][j] = text[:i] + data.draw(TEXT_CHARS.filter(lambda c: c != text[i]), label="character") + text[i + 1:]
    refused(p.note, p.vkey, proof)


@pytest.mark.parametrize("n", range(11))
def test_an_index_off_by_one_is_refused(n: int) -> None:
    p = pool()
    for delta in (-1, 1):
        proof = dict(p.proofs[n], index=n + delta)
        refused(p.note, p.vkey, proof)


@given(n=st.integers(0, 10), size=st.integers(-5, 10**6))
@settings(max_examples=100, deadline=None)
def test_a_changed_size_is_refused(n: int, size: int) -> None:
    p = pool()
    assume(size != 11)
    assert "another pool size" in refused(p.note, p.vkey, dict(p.proofs[n], size=size))


@given(n=st.integers(0, 10), data=st.data())
@settings(max_examples=100, deadline=None)
def test_a_changed_pool_id_is_refused(n: int, data: st.DataObject) -> None:
    p = pool()
    i = data.draw(st.integers(0, len(POOL) - 1), label="position")
    other = POOL[:i] + data.draw(TEXT_CHARS.filter(lambda c: c != POOL[i]), label="character") + POOL[i + 1:]
    assert "another pool" in refused(p.note, p.vkey, dict(p.proofs[n], pool=other))


def test_a_proof_of_another_pool_with_the_same_id_and_size_is_refused() -> None:
    p, other = pool(), make_pool(11)  # new salts, so other leaves and another root
    for n in range(11):
        refused(p.note, p.vkey, other.proofs[n])
        refused(other.note, other.vkey, p.proofs[n])


def test_a_proof_with_a_hash_added_removed_or_swapped_is_refused() -> None:
    p = pool()
    for proof in p.proofs:
        path = proof["inclusion_proof"]
        refused(p.note, p.vkey, dict(proof, inclusion_proof=[*path, path[0]]))
        refused(p.note, p.vkey, dict(proof, inclusion_proof=path[:-1]))
        if len(path) > 1 and path[0] != path[1]:
            refused(p.note, p.vkey, dict(proof, inclusion_proof=[path[1], path[0], *path[2:]]))
    # the leaf of one loan with the proof of another
    refused(p.note, p.vkey, dict(p.proofs[0], leaf=p.proofs[1]["leaf"]))


@pytest.mark.parametrize("change", [
    {"format": "fivechains.service/loan-proof/v2"}, {"format": None}, {"index": "0"}, {"index": True}, {"index": 0.0}, {"index": None},
    {"leaf": None}, {"leaf": b"{}"}, {"inclusion_proof": None}, {"inclusion_proof": "AAAA"}, {"inclusion_proof": [1, 2, 3, 4]},
    {"inclusion_proof": [None, None, None, None]}, {"inclusion_proof": ["not base64!"] * 4}, {"inclusion_proof": ["AAAA"] * 4},
    {"size": "11"}, {"pool": None},
])
def test_a_malformed_proof_is_refused(change: dict[str, Any]) -> None:
    p = pool()
    refused(p.note, p.vkey, {**p.proofs[1], **change})


@pytest.mark.parametrize("proof", [[], "proof", 7, {}])
def test_something_that_is_not_a_proof_is_refused(proof: Any) -> None:
    p = pool()
    assert refused(p.note, p.vkey, proof) == "not a loan proof"


# --- keys ------------------------------------------------------------------------------------------------------------


def test_another_key_is_refused() -> None:
    p = pool()
    stranger = note_signer("gz-service", generate_private_key("ed25519"))  # same name, another key
    assert "not signed by the service chain's key" in refused(p.note, format_vkey(stranger.verifier()))
    refused(p.note, format_vkey(stranger.verifier()), p.proofs[0])
    renamed = note_signer("gz-other", generate_private_key("ed25519"))
    refused(p.note, format_vkey(renamed.verifier()))
    refused(p.note, make_pool(2, key_type="sm2").vkey)


@pytest.mark.parametrize("vkey", ["", "garbage", "gz-service+00000000+AAAA", "gz-service+zzzzzzzz+AQ=="])
def test_a_malformed_vkey_is_refused(vkey: str) -> None:
    refused(pool().note, vkey)


def test_a_note_signed_by_the_key_and_a_stranger_still_verifies() -> None:
    p = pool()
    stranger = note_signer("witness", generate_private_key("ed25519"))
    extra = sign_note(certificate_text(p.certificate), [stranger]).signatures[0].to_line()
    assert verify_certificate(p.note + extra, p.vkey)[0] == p.certificate
    assert "not signed" in refused(p.note + extra, format_vkey(stranger.verifier()).replace("witness", "gz-service", 1))


# --- signed, but not a certificate -------------------------------------------------------------------------------------


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_a_signed_text_is_a_certificate_only_if_it_round_trips(data: st.DataObject) -> None:
    """Re-signed after one changed character, a text is refused with CertificateError or is exactly a certificate's text."""
    p = pool()
    text = certificate_text(p.certificate)
    i = data.draw(st.integers(0, len(text) - 2), label="position")  # the last newline must stay for a note
    new = data.draw(TEXT_CHARS.filter(lambda c: c != text[i] and (c == "\n" or c >= " ")), label="character")
    changed = text[:i] + new + text[i + 1:]
    signer = note_signer("gz-service", generate_private_key("ed25519"))
    note = sign_note(changed, [signer]).to_text()
    try:
        cert, _ = verify_certificate(note, format_vkey(signer.verifier()))
    except CertificateError:
        return
    assert certificate_text(cert) == changed


@pytest.mark.parametrize("field,value", [("loans", "-1"), ("loans", "01"), ("loans", "1e3"), ("loans", "١٢"), ("time", "x"),
                                          ("root", "AAAA"), ("root", "not base64"), ("hash", "md5"), ("pool", "two words")])
def test_a_signed_certificate_with_a_bad_field_is_refused(field: str, value: str) -> None:
    lines = certificate_text(pool().certificate).split("\n")
    key = "time" if field == "time" else field
    lines = [f"{key} {value}" if line.split(" ", 1)[0] == key else line for line in lines]
    signer = note_signer("gz-service", generate_private_key("ed25519"))
    refused(sign_note("\n".join(lines), [signer]).to_text(), format_vkey(signer.verifier()))


def test_a_leaf_naming_another_lender_or_not_canonical_is_refused() -> None:
    good = json.loads(loan_leaf(LENDER, verdicts(1)[0]))
    other = canonical_json({**good, "lender_id": "L0002"}).decode()
    spaced = json.dumps(good, indent=1)
    p = make_pool(0, leaves=[other, spaced])
    assert "another lender" in refused(p.note, p.vkey, p.proofs[0])
    assert "not canonical" in refused(p.note, p.vkey, p.proofs[1])


@pytest.mark.parametrize("leaf", ["not json", "[1,2]", '"a string"', "7"])
def test_a_leaf_that_is_not_a_json_object_is_refused(leaf: str) -> None:
    p = make_pool(0, leaves=[leaf, loan_leaf(LENDER, verdicts(1)[0])])
    refused(p.note, p.vkey, p.proofs[0])


# --- the salt ---------------------------------------------------------------------------------------------------------


def test_two_leaves_of_one_verdict_differ_only_in_their_salt() -> None:
    v = verdicts(1)[0]
    a, b = json.loads(loan_leaf(LENDER, v)), json.loads(loan_leaf(LENDER, v))
    assert a["salt"] != b["salt"] and len(bytes.fromhex(a["salt"])) == 16
    assert {k: x for k, x in a.items() if k != "salt"} == {k: x for k, x in b.items() if k != "salt"}
    assert leaf_hash(canonical_json(a)) != leaf_hash(canonical_json(b))


def test_a_leaf_hash_cannot_be_recomputed_from_the_verdict_without_the_salt() -> None:
    p = pool()
    v = verdicts(11)[4]
    proof = p.proofs[4]
    target = leaf_hash(proof["leaf"].encode())
    body = json.loads(proof["leaf"])
    known = {k: x for k, x in body.items() if k != "salt"}  # everything one could learn of the loan but its salt
    guesses = [known, {**known, "salt": ""}, {**known, "salt": "00" * 16}, {**known, "salt": None}]
    assert all(leaf_hash(canonical_json(g)) != target for g in guesses)
    assert leaf_hash(canonical_json({**known, "salt": body["salt"]})) == target  # …and with it, it can
    assert known["loan_id"] == v.loan_id


def test_neighbour_hashes_are_not_the_unsalted_hashes_of_other_loans() -> None:
    p = pool()
    unsalted = set()
    for leaf in p.leaves:
        body = json.loads(leaf)
        del body["salt"]
        unsalted.add(leaf_hash(canonical_json(body)))
    seen = {base64.b64decode(h) for proof in p.proofs for h in proof["inclusion_proof"]}
    assert leaf_hash(p.leaves[1].encode()) in seen  # a neighbour's salted hash is in the proof of loan 0 …
    assert not seen & unsalted  # … but never one anyone could compute from the loans' facts


def test_the_certificate_text_is_a_valid_note_text() -> None:
    text = certificate_text(replace(pool().certificate, chain="gz service chain"))  # only the chain's name may hold spaces
    assert text.endswith("\n") and text.count("\n") == 13
    assert parse_certificate(text).chain == "gz service chain"
