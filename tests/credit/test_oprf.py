"""RFC 9497 OPRF/VOPRF over ristretto255-SHA512: the RFC's vectors first, then the protocol's properties and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from evidence import oprf
from evidence.oprf import MODE_OPRF, MODE_VOPRF, OprfError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rfc9497_ristretto255_sha512.json").read_text())
CASES = [(m, v) for m in VECTORS["modes"].values() for v in m["vectors"]]
IDS = [f"mode{m['mode']}-{v['name'].split(',')[0].replace(' ', '')}" for m, v in CASES]
MODES = st.sampled_from([MODE_OPRF, MODE_VOPRF])
INPUTS = st.binary(min_size=0, max_size=64)
SEEDS = st.binary(min_size=32, max_size=32)
H = bytes.fromhex
FAST = settings(max_examples=25, deadline=None)


def test_vector_file_is_the_rfc_appendix() -> None:
    assert "RFC 9497" in VECTORS["source"] and "A.1.1" in VECTORS["source"]
    assert [len(m["vectors"]) for m in VECTORS["modes"].values()] == [2, 3]
    for m, v in CASES:
        assert len(m["skSm"]) == 64 and all(len(x) == 128 for x in v["Output"])
        assert all(len(v[k]) == v["batch_size"] for k in ("Input", "Blind", "BlindedElement", "EvaluationElement", "Output"))


@pytest.mark.parametrize("mode_vectors", VECTORS["modes"].values(), ids=list(VECTORS["modes"]))
def test_derive_key_pair(mode_vectors: dict[str, Any]) -> None:
    key = oprf.derive_key_pair(H(mode_vectors["Seed"]), H(mode_vectors["KeyInfo"]), mode_vectors["mode"])
    assert key.secret.hex() == mode_vectors["skSm"]
    if "pkSm" in mode_vectors:
        assert key.public.hex() == mode_vectors["pkSm"]
    assert oprf.ServerKey.from_secret(key.secret) == key


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("mode_vectors", "vector"), CASES, ids=IDS)
def test_rfc_vector(mode_vectors: dict[str, Any], vector: dict[str, Any], workers: int) -> None:
    mode = mode_vectors["mode"]
    key = oprf.derive_key_pair(H(mode_vectors["Seed"]), H(mode_vectors["KeyInfo"]), mode)
    inputs = [H(x) for x in vector["Input"]]
    blinded = [oprf.blind(x, mode, blind=H(b)) for x, b in zip(inputs, vector["Blind"])]
    assert [b.hex() for _, b in blinded] == vector["BlindedElement"]
    proof_random = H(vector["ProofRandomScalar"]) if "ProofRandomScalar" in vector else None
    evaluated, proof = oprf.blind_evaluate(key, [b for _, b in blinded], mode=mode, proof_random=proof_random, workers=workers)
    assert [e.hex() for e in evaluated] == vector["EvaluationElement"]
    assert (proof.hex() if proof else None) == vector.get("Proof")
    outputs = oprf.finalize(inputs, [r for r, _ in blinded], [b for _, b in blinded], evaluated, mode=mode, public_key=key.public, proof=proof)
    assert [o.hex() for o in outputs] == vector["Output"]
    assert [oprf.evaluate(key, x, mode).hex() for x in inputs] == vector["Output"]
    if proof:
        assert oprf.generate_proof(key, [b for _, b in blinded], evaluated, mode, r=proof_random) == proof
        oprf.verify_proof(key.public, [b for _, b in blinded], evaluated, proof, mode)


def test_expand_message_xmd_rfc9380_k3() -> None:
    """RFC 9380 Appendix K.3, expand_message_xmd(SHA-512), including a multi-block output."""
    dst = b"QUUX-V01-CS02-with-expander-SHA512-256"
    assert oprf.expand_message_xmd(b"", dst, 0x20).hex() == "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"
    assert oprf.expand_message_xmd(b"abc", dst, 0x20).hex() == "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"
    assert oprf.expand_message_xmd(b"abc", dst, 0x80).hex() == (
        "7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11bdd7732d8b38adb4a0edc26a0cef4bb4"
        "5217135456e58fbca1703cd6032cb1347ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b4884"
        "31851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1")


def test_context_string() -> None:
    assert oprf.context_string(MODE_OPRF) == b"OPRFV1-\x00-ristretto255-SHA512"
    assert oprf.context_string(MODE_VOPRF) == b"OPRFV1-\x01-ristretto255-SHA512"
    with pytest.raises(OprfError, match="POPRF"):
        oprf.context_string(2)


def _run(key: oprf.ServerKey, inputs: list[bytes], mode: int) -> list[bytes]:
    blinded = [oprf.blind(x, mode) for x in inputs]
    evaluated, proof = oprf.blind_evaluate(key, [b for _, b in blinded], mode=mode)
    return oprf.finalize(inputs, [r for r, _ in blinded], [b for _, b in blinded], evaluated, mode=mode, public_key=key.public, proof=proof)


@FAST
@given(seed=SEEDS, data=INPUTS, mode=MODES)
def test_finalize_of_blind_evaluate_is_evaluate(seed: bytes, data: bytes, mode: int) -> None:
    key = oprf.derive_key_pair(seed, b"", mode)
    assert _run(key, [data], mode) == [oprf.evaluate(key, data, mode)]


@FAST
@given(data=INPUTS, mode=MODES)
def test_output_does_not_depend_on_the_blind(data: bytes, mode: int) -> None:
    key = oprf.generate_key(mode)
    first, second = oprf.blind(data, mode), oprf.blind(data, mode)
    assert first != second
    outputs = []
    for r, b in (first, second):
        evaluated, proof = oprf.blind_evaluate(key, [b], mode=mode)
        outputs += oprf.finalize([data], [r], [b], evaluated, mode=mode, public_key=key.public, proof=proof)
    assert outputs[0] == outputs[1] and len(outputs[0]) == oprf.OUTPUT_SIZE


@FAST
@given(pair=st.lists(INPUTS, min_size=2, max_size=2, unique=True), mode=MODES)
def test_different_inputs_give_different_outputs(pair: list[bytes], mode: int) -> None:
    key = oprf.generate_key(mode)
    first, second = _run(key, pair, mode)
    assert first != second


def test_modes_and_keys_are_separate() -> None:
    seed = bytes(range(32))
    assert oprf.derive_key_pair(seed, b"", MODE_OPRF) != oprf.derive_key_pair(seed, b"", MODE_VOPRF)
    key = oprf.derive_key_pair(seed, b"", MODE_VOPRF)
    assert oprf.evaluate(key, b"x", MODE_OPRF) != oprf.evaluate(key, b"x", MODE_VOPRF)
    assert oprf.evaluate(key, b"x", MODE_VOPRF) != oprf.evaluate(oprf.generate_key(), b"x", MODE_VOPRF)


@pytest.mark.parametrize("n", range(1, 21))
def test_batches(n: int) -> None:
    key = oprf.derive_key_pair(bytes([n]) * 32, b"batch", MODE_VOPRF)
    inputs = [b"borrower %d" % i for i in range(n)]
    assert _run(key, inputs, MODE_VOPRF) == [oprf.evaluate(key, x, MODE_VOPRF) for x in inputs]


def test_threads_give_the_same_batch() -> None:
    key = oprf.generate_key()
    blinded = [oprf.blind(b"%d" % i, MODE_VOPRF)[1] for i in range(300)]
    r = oprf.generate_key().secret
    assert len({repr(oprf.blind_evaluate(key, blinded, mode=MODE_VOPRF, proof_random=r, workers=w)) for w in (1, 2, 3, 7)}) == 1


# --- tampering and refusals -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def voprf_batch() -> dict[str, Any]:
    key = oprf.generate_key(MODE_VOPRF)
    inputs = [b"a", b"b", b"c"]
    blinded = [oprf.blind(x, MODE_VOPRF) for x in inputs]
    evaluated, proof = oprf.blind_evaluate(key, [b for _, b in blinded], mode=MODE_VOPRF)
    return {"inputs": inputs, "blinds": [r for r, _ in blinded], "blinded_elements": [b for _, b in blinded],
            "evaluated_elements": evaluated, "mode": MODE_VOPRF, "public_key": key.public, "proof": proof}


def _flip(data: bytes, at: int, bit: int) -> bytes:
    return data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1:]


def test_untampered_batch_finalizes(voprf_batch: dict[str, Any]) -> None:
    assert len(oprf.finalize(**voprf_batch)) == 3


@FAST
@given(at=st.integers(0, 63), bit=st.integers(0, 7))
def test_changed_proof_byte_is_refused(voprf_batch: dict[str, Any], at: int, bit: int) -> None:
    with pytest.raises(OprfError, match="proof"):
        oprf.finalize(**{**voprf_batch, "proof": _flip(voprf_batch["proof"], at, bit)})


@FAST
@given(which=st.integers(0, 2), at=st.integers(0, 31), bit=st.integers(0, 7))
def test_changed_evaluated_element_is_refused(voprf_batch: dict[str, Any], which: int, at: int, bit: int) -> None:
    evaluated = list(voprf_batch["evaluated_elements"])
    evaluated[which] = _flip(evaluated[which], at, bit)
    with pytest.raises(OprfError, match="proof does not verify|evaluated element"):
        oprf.finalize(**{**voprf_batch, "evaluated_elements": evaluated})


def test_wrong_public_key_or_order_is_refused(voprf_batch: dict[str, Any]) -> None:
    with pytest.raises(OprfError, match="the bureau's proof does not verify"):
        oprf.finalize(**{**voprf_batch, "public_key": oprf.generate_key().public})
    with pytest.raises(OprfError, match="the bureau's proof does not verify"):
        oprf.finalize(**{**voprf_batch, "evaluated_elements": voprf_batch["evaluated_elements"][::-1]})
    with pytest.raises(OprfError, match="needs the bureau's public key and proof"):
        oprf.finalize(**{**voprf_batch, "proof": None})
    with pytest.raises(OprfError, match="same length"):
        oprf.finalize(**{**voprf_batch, "blinds": voprf_batch["blinds"][:2]})


def _invalid(data: bytes) -> bool:
    return oprf._is_valid_c(data) != 1


@FAST
@given(data=st.binary(min_size=32, max_size=32))
def test_invalid_encodings_are_refused(voprf_batch: dict[str, Any], data: bytes) -> None:
    assume(_invalid(data))
    key = oprf.generate_key()
    with pytest.raises(OprfError, match="blinded element 1 is not a valid ristretto255"):
        oprf.blind_evaluate(key, [voprf_batch["blinded_elements"][0], data], mode=MODE_VOPRF)
    with pytest.raises(OprfError, match="evaluated element 0 is not a valid ristretto255"):
        oprf.finalize(**{**voprf_batch, "evaluated_elements": [data, *voprf_batch["evaluated_elements"][1:]]})
    with pytest.raises(OprfError, match="public key is not a valid"):
        oprf.finalize(**{**voprf_batch, "public_key": data})


@pytest.mark.parametrize("mode", [MODE_OPRF, MODE_VOPRF])
def test_identity_and_wrong_sizes_are_refused(voprf_batch: dict[str, Any], mode: int) -> None:
    key = oprf.generate_key(mode)
    for bad, message in ((bytes(32), "blinded element 0 is the identity"), (bytes(31), "must be 32 bytes"), (b"\x01" * 33, "must be 32 bytes")):
        with pytest.raises(OprfError, match=message):
            oprf.blind_evaluate(key, [bad], mode=mode)
    with pytest.raises(OprfError, match="evaluated element 1 is the identity"):
        oprf.finalize(**{**voprf_batch, "mode": mode, "evaluated_elements": [voprf_batch["evaluated_elements"][0], bytes(32), bytes(32)]})
    with pytest.raises(OprfError, match="public key is the identity"):
        oprf.finalize(**{**voprf_batch, "public_key": bytes(32)})
    with pytest.raises(OprfError, match="1 to 65,536"):
        oprf.blind_evaluate(key, [], mode=mode)


def test_scalars_and_keys_are_checked() -> None:
    order = oprf.GROUP_ORDER.to_bytes(32, "little")
    with pytest.raises(OprfError, match="below the ristretto255 group order"):
        oprf.ServerKey.from_secret(order)
    with pytest.raises(OprfError, match="must not be 0"):
        oprf.ServerKey.from_secret(bytes(32))
    with pytest.raises(OprfError, match="not secret·G"):
        oprf.ServerKey(oprf.generate_key().secret, oprf.generate_key().public)
    with pytest.raises(OprfError, match="blind must not be 0"):
        oprf.blind(b"x", MODE_OPRF, blind=bytes(32))
    with pytest.raises(OprfError, match="32-byte seed"):
        oprf.derive_key_pair(b"short", b"", MODE_OPRF)
    key = oprf.generate_key()
    assert "secret" not in repr(key) and key.secret.hex() not in repr(key) and str(key.secret) not in repr(key)


def test_input_length_limit() -> None:
    key = oprf.generate_key(MODE_OPRF)
    longest = b"\xaa" * oprf.MAX_INPUT
    assert len(oprf.evaluate(key, longest, MODE_OPRF)) == 64
    oprf.blind(longest, MODE_OPRF)
    for too_long in (b"\xaa" * (2**16 - 1), b"\xaa" * 2**16):
        with pytest.raises(OprfError, match="shorter than 65,535 bytes"):
            oprf.blind(too_long, MODE_OPRF)
        with pytest.raises(OprfError, match="shorter than 65,535 bytes"):
            oprf.evaluate(key, too_long, MODE_OPRF)
    with pytest.raises(OprfError, match="must be bytes"):
        oprf.blind("text", MODE_OPRF)  # type: ignore[arg-type]
