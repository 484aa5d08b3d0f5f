"""The witness follows C2SP tlog-witness: it cosigns only append-only growth, and refuses a fork."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from chain.merkle import consistency_proof, leaf_hash, root
from chain.note import CosignatureSigner, Ed25519NoteSigner, parse_note
from chain.witness import Witness
from chain_sql import open_store
from chain_sql.witness_state import SQLWitnessState

LOG = "judicial.test/court"


@pytest.fixture
def setup(tmp_path):
    log = Ed25519NoteSigner(LOG, Ed25519PrivateKey.generate())
    me = CosignatureSigner("witness.test/w1", Ed25519PrivateKey.generate())
    store = open_store(tmp_path / "witness.db")
    yield log, me, Witness(SQLWitnessState(store.engine), me, [log.verifier()])
    store.close()


def _leaves(n: int, tag: bytes = b"") -> list[bytes]:
    return [leaf_hash(tag + b"%d" % i) for i in range(n)]


def _body(old: int, proof: list[bytes], cp_text: str) -> bytes:
    return (f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + cp_text).encode()


def test_cosigns_append_only_growth_and_refuses_a_fork(setup) -> None:
    log, me, witness = setup
    leaves = _leaves(10)
    cp5 = sign_checkpoint(Checkpoint(LOG, 5, root(leaves[:5])), log).to_text()
    first = witness.add_checkpoint(_body(0, [], cp5))  # trust on first sight
    assert first.status == 200 and first.body.startswith("— witness.test/w1 ")
    cosigned = cp5 + first.body
    assert open_checkpoint(cosigned, log.verifier(), witnesses=[me.verifier()], min_witnesses=1).checkpoint.size == 5
    cp10 = sign_checkpoint(Checkpoint(LOG, 10, root(leaves)), log).to_text()
    stale = witness.add_checkpoint(_body(0, [], cp10))
    assert (stale.status, stale.body, stale.content_type) == (409, "5\n", "text/x.tlog.size")
    grown = witness.add_checkpoint(_body(5, consistency_proof(leaves, 5), cp10))
    assert grown.status == 200
    # a fork: another tree of size 10 sharing nothing with the first
    other = _leaves(10, b"fork")
    forked = sign_checkpoint(Checkpoint(LOG, 10, root(other)), log).to_text()
    assert witness.add_checkpoint(_body(10, [], forked)).status == 422
    cp12 = sign_checkpoint(Checkpoint(LOG, 12, root(other + _leaves(2, b"x"))), log).to_text()
    assert witness.add_checkpoint(_body(10, consistency_proof(other + _leaves(2, b"x"), 10), cp12)).status == 422
    latest = witness.latest(hashlib.sha256(LOG.encode()).hexdigest())
    assert latest.status == 200 and parse_note(latest.body).text.startswith(f"{LOG}\n10\n")


def test_spec_status_codes(setup) -> None:
    log, _, witness = setup
    leaves = _leaves(4)
    good = sign_checkpoint(Checkpoint(LOG, 4, root(leaves)), log).to_text()
    stranger = sign_checkpoint(Checkpoint("other.test/log", 4, root(leaves)), Ed25519NoteSigner("other.test/log", Ed25519PrivateKey.generate())).to_text()
    assert witness.add_checkpoint(_body(0, [], stranger)).status == 404
    impostor = sign_checkpoint(Checkpoint(LOG, 4, root(leaves)), Ed25519NoteSigner(LOG, Ed25519PrivateKey.generate())).to_text()
    assert witness.add_checkpoint(_body(0, [], impostor)).status == 403
    assert witness.add_checkpoint(_body(5, [], good)).status == 400  # old size above the checkpoint's
    assert witness.add_checkpoint(b"no blank line").status == 400
    assert witness.add_checkpoint(_body(0, [leaves[0]], good)).status == 422  # a proof from size 0
    assert witness.latest("00" * 32).status == 404


def test_an_sm2_log_on_sm3_grows_under_an_sm2_witness(tmp_path) -> None:
    """A witness checks an SM2 log's consistency proofs on SM3, its tree hash, and cosigns with SM2."""
    from chain.hashing import SM3
    from chain.note import SM2CosignatureSigner, SM2NoteSigner
    from chain.sm2 import SM2PrivateKey

    log = SM2NoteSigner(LOG, SM2PrivateKey.generate())
    me = SM2CosignatureSigner("witness.test/sm2", SM2PrivateKey.generate())
    store = open_store(tmp_path / "witness.db")
    try:
        witness = Witness(SQLWitnessState(store.engine), me, [log.verifier()])
        leaves = [leaf_hash(b"%d" % i, SM3) for i in range(9)]
        cp4 = sign_checkpoint(Checkpoint(LOG, 4, root(leaves[:4], SM3)), log).to_text()
        assert witness.add_checkpoint(_body(0, [], cp4)).status == 200
        cp9 = sign_checkpoint(Checkpoint(LOG, 9, root(leaves, SM3)), log).to_text()
        grown = witness.add_checkpoint(_body(4, consistency_proof(leaves, 4, SM3), cp9))
        assert grown.status == 200, grown.body
        assert open_checkpoint(cp9 + grown.body, log.verifier(), witnesses=[me.verifier()], min_witnesses=1).checkpoint.size == 9
        sha_leaves = [leaf_hash(b"%d" % i) for i in range(12)]  # a proof computed on the wrong hash fails
        cp12 = sign_checkpoint(Checkpoint(LOG, 12, root(sha_leaves)), log).to_text()
        assert witness.add_checkpoint(_body(9, consistency_proof(sha_leaves, 9), cp12)).status == 422
    finally:
        store.close()
