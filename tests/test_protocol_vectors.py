"""docs/vectors/ are what the code computes today, and each stated value checks out on its own.

The first test regenerates every vector with scripts/gen-vectors (the implementation itself) and
compares it with the file: a change to any signed, hashed or committed form fails here until the
vectors (and docs/protocol.md) are regenerated. The others recompute the stated values from the
stated inputs with independent code (hashlib, the cryptography package, a small Merkle tree written
here from RFC 9162), as an implementer in another language would.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.machinery
import importlib.util
import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "docs" / "vectors"
PROTOCOL = ROOT / "docs" / "protocol.md"


def _generator() -> Any:
    loader = importlib.machinery.SourceFileLoader("gen_vectors", str(ROOT / "scripts" / "gen_vectors.py"))
    spec = importlib.util.spec_from_loader("gen_vectors", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


GEN = _generator()


def vector(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 Merkle Tree Hash, written out again (recursively, not as the chain computes it)."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def root_from_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        assert sn != 0
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = sha256(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0
    return r


def verify_ed25519(public_key: bytes, signature: bytes, message: bytes) -> None:
    Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)  # raises InvalidSignature


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    text, _, sigs = note.partition("\n\n")
    lines = [line.split(" ", 2) for line in sigs.rstrip("\n").split("\n")]
    assert all(dash == "\u2014" for dash, _, _ in lines)
    return text + "\n", [(name, base64.b64decode(blob)) for _, name, blob in lines]


def check_signed_by(note: str, key: dict[str, Any]) -> str:
    """The note's text, after checking its one signature line against the stated key and key id."""
    text, sigs = split_note(note)
    assert len(sigs) == 1
    name, blob = sigs[0]
    assert name == key["note_key_name"]
    expected_id = sha256(bytes.fromhex(key["key_id_input_hex"]))[:4]
    assert bytes.fromhex(key["key_id_input_hex"]) == name.encode() + b"\n\x01" + bytes.fromhex(key["public_key_hex"])
    assert blob[:4] == expected_id and f"{struct.unpack('>I', expected_id)[0]:08x}" == key["key_id_hex"]
    assert key["vkey"] == f"{name}+{key['key_id_hex']}+" + base64.b64encode(b"\x01" + bytes.fromhex(key["public_key_hex"])).decode()
    verify_ed25519(bytes.fromhex(key["public_key_hex"]), blob[4:], text.encode())
    return text


def test_the_files_are_what_the_code_computes_today() -> None:
    built = GEN.build_vectors()
    on_disk = sorted(p.name for p in VECTORS.glob("*.json"))
    assert on_disk == sorted(built), "docs/vectors/ and scripts/gen-vectors disagree on the files: run scripts/gen-vectors"
    for name, value in built.items():
        assert GEN.strip_random(vector(name)) == GEN.strip_random(value), f"{name} is stale: run scripts/gen-vectors and review docs/protocol.md"


def test_the_protocol_document_names_every_vector_file() -> None:
    text = PROTOCOL.read_text(encoding="utf-8")
    for path in VECTORS.glob("*.json"):
        assert f"vectors/{path.name}" in text, f"docs/protocol.md does not mention {path.name}"


def test_keys_are_stated_consistently() -> None:
    for name in ("deposit-request.json", "receipt.json", "anchor-and-bundle.json"):
        for key in (v for v in vector(name).values() if isinstance(v, dict) and v.get("type") == "ed25519"):
            private = load_pem_private_key(key["private_key_pkcs8_pem"].encode(), None)
            assert isinstance(private, Ed25519PrivateKey)
            seed = bytes.fromhex(key["seed_hex"])
            assert Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw().hex() == key["public_key_hex"]
            assert base64.b64decode(key["public_key_b64"]).hex() == key["public_key_hex"]
            assert key["public_key_spki_der_hex"] == "302a300506032b6570032100" + key["public_key_hex"]
            pkcs8 = base64.b64decode("".join(key["private_key_pkcs8_pem"].splitlines()[1:-1]))
            assert pkcs8.hex() == "302e020100300506032b657004220420" + key["seed_hex"]


def test_record_digests() -> None:
    v = vector("record-digests.json")
    assert sha256(bytes.fromhex(v["file"]["content_hex"])).hex() == v["file"]["digest"]
    j = v["json_record"]
    canonical = json.dumps(j["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert canonical.hex() == j["canonical_hex"] and canonical.decode() == j["canonical_utf8"]
    assert j["hashed_hex"] == j["salt"] + j["canonical_hex"]
    assert sha256(bytes.fromhex(j["hashed_hex"])).hex() == j["digest"]


def _canonical_item(wire: dict[str, Any]) -> bytes:
    import rfc8785

    return rfc8785.dumps(wire)


def test_deposit_request() -> None:
    v = vector("deposit-request.json")
    body = v["body"]
    leaves = []
    for wire, stated in zip(body["items"], v["items"], strict=True):
        data = _canonical_item(wire)  # the item object as sent, in its RFC 8785 form, is what is hashed
        assert data.hex() == stated["canonical_hex"] and data.decode() == stated["canonical_utf8"]
        assert sha256(b"\x00" + data).hex() == stated["leaf_hash_hex"]
        assert sha256(data).hex() == stated["commitment_hex"]
        leaves.append(bytes.fromhex(stated["leaf_hash_hex"]))
    root = mth(leaves)
    assert root.hex() == v["items_root_hex"] and base64.b64encode(root).decode() == v["items_root_b64"]
    text = (f"fivechains.deposit-request/v2\nchain {v['chain_id']}\nlender {body['lender_id']}\nnonce {body['nonce']}\n"
            f"time {body['timestamp_ms']}\nitems {len(body['items'])}\nroot {v['items_root_b64']}\n")
    assert text == v["signed_text"] and text.encode().hex() == v["signed_text_hex"]
    assert body["signature"] == v["signature_b64"]
    verify_ed25519(bytes.fromhex(v["lender_key"]["public_key_hex"]), base64.b64decode(v["signature_b64"]), text.encode())
    # Ed25519 is deterministic: the seed gives exactly this signature
    assert Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["lender_key"]["seed_hex"])).sign(text.encode()) == base64.b64decode(v["signature_b64"])


def test_signed_read() -> None:
    v = vector("signed-read.json")
    text = (f"fivechains.read/v2\nchain {v['chain_id']}\nlender {v['lender_id']}\nnonce {v['nonce']}\ntime {v['timestamp_ms']}\n"
            f"{v['method']} {v['path_and_query']}\n")
    assert text == v["signed_text"] and text.encode().hex() == v["signed_text_hex"]
    assert v["headers"] == {"X-Lender-Id": v["lender_id"], "X-Timestamp": str(v["timestamp_ms"]), "X-Nonce": v["nonce"],
                            "X-Signature": v["signature_b64"]}
    verify_ed25519(bytes.fromhex(v["lender_key"]["public_key_hex"]), base64.b64decode(v["signature_b64"]), text.encode())


def test_receipt() -> None:
    v, request = vector("receipt.json"), vector("deposit-request.json")
    answer = v["answer"]
    text = check_signed_by(answer["receipt"], v["chain_key"])
    expected = (f"fivechains.deposit-receipt/v2\nchain {answer['chain_id']}\nlender {request['lender_id']}\nrequest {request['items_root_b64']}\n"
                f"first {answer['items'][0]['index']}\ncount {len(answer['items'])}\ndeposit-time {answer['deposit_time_ms']}\n"
                f"seal-by {answer['seal_by_ms']}\n")
    assert text == expected == v["receipt_text"]
    assert answer["receipt"] == v["note"] == v["receipt_text"] + "\n" + v["signature_line"]
    assert [i["digest"] for i in answer["items"]] == [i["digest"] for i in request["body"]["items"]]


def test_public_entries() -> None:
    v, request = vector("public-entries.json"), vector("deposit-request.json")
    for entry, wire, item in zip(v["entries"], request["body"]["items"], request["items"], strict=True):
        expected = {"commitment": item["commitment_hex"], "deposit_time_ms": v["deposit_time_ms"], "digest": wire["digest"],
                    "event_time_ms": wire["event_time_ms"], "lender_id": request["lender_id"], "record_type": wire["record_type"]}
        data = json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()
        assert data.hex() == entry["supervision_entry_hex"] and data.decode() == entry["supervision_entry_utf8"]
        assert sha256(b"\x00" + data).hex() == entry["supervision_leaf_hash_hex"]
        anchor = {k: expected[k] for k in ("deposit_time_ms", "digest", "event_time_ms", "lender_id", "record_type")}
        anchor.update(source=request["chain_id"], source_index=entry["index"])
        anchor_bytes = json.dumps(anchor, sort_keys=True, separators=(",", ":")).encode()
        assert anchor_bytes.hex() == entry["judicial_entry_hex"]
        assert sha256(b"\x00" + anchor_bytes).hex() == entry["judicial_leaf_hash_hex"]
        assert "loan_id" not in entry["supervision_entry_utf8"] and wire["commitment_salt"] not in entry["supervision_entry_utf8"]


def test_ledger_block_checkpoint_and_proofs() -> None:
    v, entries = vector("ledger.json"), vector("public-entries.json")["entries"]
    leaves = [bytes.fromhex(e["supervision_leaf_hash_hex"]) for e in entries]
    assert [h.hex() for h in leaves] == v["leaf_hashes_hex"]
    root = mth(leaves)
    assert root.hex() == v["root_hex"]
    header = check_signed_by(v["block"]["note"], v["chain_key"])
    assert header == v["block"]["header_text"]
    lines = dict(line.split(" ", 1) for line in header.splitlines()[1:])
    assert header.splitlines()[0] == "fivechains.block/v1" and list(lines) == ["chain", "height", "prev", "size", "root", "count", "time", "hash"]
    assert lines["root"] == v["root_b64"] and lines["prev"] == base64.b64encode(bytes(32)).decode() and lines["hash"] == "sha256"
    assert sha256(v["block"]["note"].encode()).hex() == v["block"]["block_hash_hex"]
    checkpoint = check_signed_by(v["checkpoint"]["note"], v["chain_key"])
    assert checkpoint == f"{v['chain_key']['note_key_name']}\n{len(leaves)}\n{v['root_b64']}\n" == v["checkpoint"]["text"]
    for proof in v["inclusion_proofs"]:
        path = [base64.b64decode(h) for h in proof["hashes_b64"]]
        assert root_from_path(base64.b64decode(proof["leaf_hash_b64"]), proof["index"], proof["tree_size"], path) == root
    consistency = v["consistency_proof"]
    assert mth(leaves[: consistency["old_size"]]).hex() == consistency["old_root_hex"]
    from chain.merkle import verify_consistency

    assert verify_consistency(consistency["old_size"], consistency["new_size"], bytes.fromhex(consistency["old_root_hex"]), root,
                              [base64.b64decode(h) for h in consistency["hashes_b64"]])


def test_anchor_request_and_offline_bundle() -> None:
    from judicial_chain.verification import verify_bundle
    from proto import crosschain_pb2 as pb

    v, ledger, entries = vector("anchor-and-bundle.json"), vector("ledger.json"), vector("public-entries.json")["entries"]
    request = v["anchor_request"]
    assert request["block_header"] == ledger["block"]["note"] and request["checkpoint"] == ledger["checkpoint"]["note"]
    assert request["entries_hex"] == [e["supervision_entry_hex"] for e in entries]
    parsed = pb.AnchorRequest.FromString(bytes.fromhex(request["protobuf_hex"]))
    assert [e.hex() for e in parsed.entries] == request["entries_hex"] and parsed.first_index == request["first_index"]
    assert dict(parsed.lender_names) == request["lender_names"] and parsed.source_chain_id == request["source_chain_id"]
    judicial = [bytes.fromhex(e["judicial_leaf_hash_hex"]) for e in entries]
    checkpoint = check_signed_by(v["judicial_checkpoint"], v["judicial_key"])
    assert checkpoint.splitlines()[2] == base64.b64encode(mth(judicial)).decode()
    bundle = v["bundle"]
    head, _, bundle_checkpoint = bundle["text"].partition("\n\n")
    lines = head.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1" and lines[2] == f"index {bundle['index']}" and bundle_checkpoint == v["judicial_checkpoint"]
    extra = base64.b64decode(lines[1].removeprefix("extra "))
    assert extra.hex() == entries[bundle["index"]]["judicial_entry_hex"]
    path = [base64.b64decode(h) for h in lines[3:]]
    assert root_from_path(sha256(b"\x00" + extra), bundle["index"], len(judicial), path) == mth(judicial)
    facts = verify_bundle(bundle["text"], v["judicial_key"]["vkey"], bundle["evidence_digest"])
    assert facts["index"] == bundle["index"] and facts["digest"] == bundle["evidence_digest"]


def _damm(text: str, alphabet: str) -> int:
    interim = 0
    for ch in text:
        doubled = interim << 1
        interim = (doubled ^ 0x25 if doubled & 0x20 else doubled) ^ alphabet.index(ch)
    return interim


def test_deposit_codes() -> None:
    from evidence.deposit_codes import CodeError, normalize

    v = vector("deposit-codes.json")
    alphabet = v["alphabet"]
    assert alphabet == "0123456789ABCDEFGHJKMNPQRSTVWXYZ" and int(v["polynomial"], 16) == 0x25
    for code in v["codes"]:
        assert code["code"] == code["body"] + code["check"] and _damm(code["code"], alphabet) == 0
        assert code["formatted"] == "-".join(code["code"][i : i + 4] for i in range(0, 14, 4))
    for case in v["read_back"]:
        assert normalize(case["input"]) == case["normalized"] and _damm(case["normalized"], alphabet) == 0
    for case in v["invalid"]:
        with pytest.raises(CodeError):
            normalize(case["input"])


def test_sm2() -> None:
    from chain.note import parse_note, parse_vkey, verify_note
    from chain.sm2 import SM2PublicKey, sm3

    v = vector("sm2.json")
    point = bytes.fromhex(v["public_point_hex"])
    za_input = (len(v["user_id"]) * 8).to_bytes(2, "big") + v["user_id"].encode() + GEN.SM2_A + GEN.SM2_B + GEN.SM2_GX + GEN.SM2_GY + point[1:]
    assert sm3(za_input).hex() == v["z_a_hex"] == "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3"  # GM/T 0003.5 A.2
    example = v["gbt_example"]
    assert sm3(bytes.fromhex(v["z_a_hex"]) + example["message"].encode()).hex() == example["e_hex"]
    SM2PublicKey(point[1:]).verify(bytes.fromhex(example["signature_der_hex"]), example["message"].encode())
    assert bytes.fromhex(v["key_id_input_hex"]) == v["note_key_name"].encode() + b"\n" + bytes.fromhex(v["note_signature_type_hex"]) + point
    assert bytes.fromhex(v["note_signature_type_hex"]) == b"\xffgbt32918.2/sm2-sm3"
    assert sha256(bytes.fromhex(v["key_id_input_hex"]))[:4].hex() == v["key_id_hex"]
    assert v["vkey"] == f"{v['note_key_name']}+{v['key_id_hex']}+" + base64.b64encode(bytes.fromhex(v["note_signature_type_hex"]) + point).decode()
    note = parse_note(v["note"])
    assert note.text == v["note_text"] and note.signatures[0].data.hex() == v["signature_der_hex"]
    assert verify_note(note, [parse_vkey(v["vkey"])]) == [v["note_key_name"]]
    SM2PublicKey(point[1:]).verify(bytes.fromhex(v["signature_der_hex"]), v["note_text"].encode())


@pytest.mark.parametrize("name", ["deposit-request.json", "receipt.json", "ledger.json", "anchor-and-bundle.json"])
def test_a_changed_byte_is_caught(name: str) -> None:
    """The comparison can fail: a vector with one changed value is not what the code computes."""
    built = GEN.build_vectors()[name]
    changed = json.loads(json.dumps(built).replace(GEN.SUPERVISION_CHAIN, GEN.SUPERVISION_CHAIN + "x", 1))
    assert GEN.strip_random(changed) != GEN.strip_random(built)


def test_the_openapi_document_names_the_scheme_and_shows_the_vectors_signed_requests(tmp_path: Path) -> None:
    """The OpenAPI examples are the vectors' signed requests: valid against the schema, signature verifying,
    and a running chain reads them through to its time check (a fixed example's time is long past)."""
    import httpx
    from servers import SupervisionServer

    from supervision_chain.api.schemas import DepositRequestIn, LenderIn

    server = SupervisionServer(tmp_path).start()
    try:
        document = httpx.get(server.url + "/openapi.json").json()
        assert "docs/protocol.md" in document["info"]["description"] and "Ed25519" in document["info"]["description"]
        request = vector("deposit-request.json")
        deposit = document["paths"]["/v1/deposits"]["post"]
        example = deposit["requestBody"]["content"]["application/json"]["examples"]["signed-batch"]["value"]
        assert example == request["body"]
        DepositRequestIn.model_validate(example)
        verify_ed25519(bytes.fromhex(request["lender_key"]["public_key_hex"]), base64.b64decode(example["signature"]),
                       request["signed_text"].encode())
        lender = document["paths"]["/v1/admin/lenders"]["post"]["requestBody"]["content"]["application/json"]["examples"]
        LenderIn.model_validate(lender["ed25519-lender"]["value"])
        read_headers = {p["name"].lower(): p.get("example") for p in document["paths"]["/v1/deposits/{index}"]["get"]["parameters"]
                        if p["in"] == "header"}
        assert read_headers["x-signature"] == vector("signed-read.json")["signature_b64"]
        answer = httpx.post(server.url + "/v1/deposits", json=example, headers={"Idempotency-Key": request["nonce"]})
        assert answer.status_code == 401 and answer.json()["type"].endswith("/stale-request")
    finally:
        server.stop()


def _subclasses(cls: type) -> list[type]:
    return [cls] + [s for sub in cls.__subclasses__() for s in _subclasses(sub)]


def test_the_document_states_every_tag_name_and_error_the_code_uses() -> None:
    """A new signed-text tag, record type, key type or problem type that the document does not state fails here."""
    import judicial_chain.portal.api  # noqa: F401 (its problem types)
    import risk_chain.service  # noqa: F401 (its problem types)
    import supervision_chain.errors  # noqa: F401
    from chain.block import BLOCK_TAG
    from chain.note import SM2_COSIGNATURE_TYPE, SM2_TYPE
    from chain.tlog_proof import TLOG_PROOF_HEADER
    from evidence.deposit_codes import ALPHABET
    from risk_chain.closed_loop import RECORD_TYPE as RISK_RECORD_TYPES
    from risk_chain.closed_loop import STEP_TAG
    from service_kit import problems
    from supervision_chain.records import READ_TAG, RECEIPT_TAG, RECORD_TYPES, REQUEST_TAG

    text = PROTOCOL.read_text(encoding="utf-8")
    for value in (REQUEST_TAG, RECEIPT_TAG, READ_TAG, BLOCK_TAG, TLOG_PROOF_HEADER, ALPHABET, problems.PROBLEM_BASE,
                  SM2_TYPE[1:].decode(), SM2_COSIGNATURE_TYPE[1:].decode(), *RECORD_TYPES, STEP_TAG, *RISK_RECORD_TYPES.values()):
        assert value in text, f"docs/protocol.md does not state {value!r}"
    slugs = {cls.slug for cls in _subclasses(problems.ServiceError)} | set(problems._SLUGS.values())
    for package in ("service_kit", "supervision_chain", "judicial_chain", "risk_chain"):  # and those written as problem(status, "slug", ...)
        for source in (ROOT / package).rglob("*.py"):
            slugs |= set(re.findall(r'problem\(\s*\d{3},\s*"([a-z-]+)"', source.read_text(encoding="utf-8")))
    assert {"body-too-large", "insufficient-storage", "not-in-ledger", "chain-unavailable"} <= slugs
    for slug in slugs:
        assert f"`{slug}`" in text, f"docs/protocol.md §11 does not list the problem type {slug!r}"
