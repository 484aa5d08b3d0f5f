"""Write docs/vectors/*.json: the protocol's test vectors, computed by the Python implementation itself.

Every value that is signed, hashed or committed is produced here by the very functions the chains
use (records, entry encodings, notes, checkpoints, blocks, proofs, deposit codes), from fixed keys
and fixed inputs, so another language's client can check itself byte for byte. The tests regenerate
the vectors in memory and compare them with the files: change a signed or hashed form and the
vectors (and docs/protocol.md) must be regenerated and reviewed, or a test fails.

Usage: scripts/gen-vectors [--out DIR] [--check]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat  # noqa: E402

from chain.block import GENESIS_PREV, BlockHeader, seal_block  # noqa: E402
from chain.checkpoint import Checkpoint, sign_checkpoint  # noqa: E402
from chain.merkle import consistency_proof, inclusion_proof, leaf_hash, root  # noqa: E402
from chain.note import Ed25519NoteSigner, Note, SM2NoteSigner, format_vkey  # noqa: E402
from chain.sm2 import DEFAULT_USER_ID, SM2PrivateKey, signature_from_rs, sm3  # noqa: E402
from chain.tlog_proof import format_tlog_proof  # noqa: E402
from evidence.anchor_entry import anchor_of, encode_anchor_entry  # noqa: E402
from evidence.deposit_codes import ALPHABET, check_char, format_code, normalize  # noqa: E402
from evidence.digests import digest_bytes, digest_json  # noqa: E402
from evidence.supervision_entry import parse_supervision_entry  # noqa: E402
from supervision_chain.records import (  # noqa: E402
    READ_TAG,
    RECEIPT_TAG,
    REQUEST_TAG,
    Item,
    ReceiptFields,
    commitment,
    entry_bytes,
    item_bytes,
    items_root,
    read_text,
    receipt_text,
    request_text,
)

VECTORS_DIR = ROOT / "docs" / "vectors"

# Fixed keys: RFC 8032's first two Ed25519 test secrets (test vectors only; never use them for real)
LENDER_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
CHAIN_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
JUDICIAL_SEED = bytes.fromhex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")
# GB/T 32918.2's example SM2 key pair (on the recommended curve sm2p256v1)
SM2_SECRET = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
SM2_POINT = bytes.fromhex("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
                          "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
SM2_EXAMPLE_R = bytes.fromhex("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3")
SM2_EXAMPLE_S = bytes.fromhex("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")
# sm2p256v1 curve parameters a, b and the base point G: what Z_A hashes
SM2_A = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC")
SM2_B = bytes.fromhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93")
SM2_GX = bytes.fromhex("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7")
SM2_GY = bytes.fromhex("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")

SUPERVISION_CHAIN = "supervision.fivechains.local/gz"
JUDICIAL_CHAIN = "judicial.fivechains.local/gz-internet-court"
LENDER_ID = "L1"
NONCE = "7f3c1a9e5b2d4c6e8a0b1c2d3e4f5a6b"
TIMESTAMP_MS = 1767225600000  # 2026-01-01T00:00:00Z
DEPOSIT_TIME_MS = 1767225600250
SEAL_BY_MS = DEPOSIT_TIME_MS + 2 * 500 + 1000
FIRST_INDEX = 0
BLOCK_TIME_MS = 1767225600600
# the fixed per-item commitment salts (a real client draws 32 random bytes per item)
SALTS = [hashlib.sha256(f"fivechains vector salt {i}".encode()).hexdigest() for i in range(3)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pkcs8_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_block(seed: bytes, name: str | None = None) -> dict[str, Any]:
    """A fixed Ed25519 key in every form a client may need (seed, PKCS#8, raw and SPKI public key, vkey)."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    out: dict[str, Any] = {
        "type": "ed25519",
        "seed_hex": seed.hex(),
        "private_key_pkcs8_pem": pkcs8_pem(key),
        "public_key_hex": raw_public(key).hex(),
        "public_key_b64": b64(raw_public(key)),
        "public_key_spki_der_hex": key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo).hex(),
    }
    if name is not None:
        signer = Ed25519NoteSigner(name, key)
        out.update(note_key_name=name, key_id_hex=f"{signer.key_id:08x}",
                   key_id_input_hex=(name.encode() + b"\n" + b"\x01" + raw_public(key)).hex(),
                   vkey=format_vkey(signer.verifier()))
    return out


def demo_items() -> list[Item]:
    """Three items: two plain, one with metadata (non-ASCII, nested, a number) to exercise RFC 8785."""
    contract = digest_bytes(b"%PDF-1.7 loan contract L-2026-0001\n")
    repayment = digest_json({"loan_id": "L-2026-0001", "amount_fen": 125000, "paid_at": "2026-01-01"})
    salted = digest_json({"loan_id": "L-2026-0002", "borrower": "张三"}, salt="00112233445566778899aabbccddeeff")
    return [
        Item(contract, "contract", "L-2026-0001", 1767139200000, SALTS[0]),
        Item(repayment, "repayment", "L-2026-0001", 1767182400000, SALTS[1]),
        Item(salted, "overdue", "L-2026-0002", 1767196800000, SALTS[2], {"branch": "天河", "days": 31, "flags": ["a", "b"]}),
    ]


def item_with_report() -> dict[str, Any]:
    """An item carrying a typed report (and metadata): ``report`` is its canonical JSON's last key (§2)."""
    from evidence.loan_reports import parse_report, report_json

    report = {"amount": 10500, "date": "2026-01-01", "principal": 10000, "interest": 500}
    item = Item(digest_json({"loan_id": "L-2026-0001", "amount_fen": 10500, "paid_at": "2026-01-01"}), "repayment", "L-2026-0001",
                1767225600000, hashlib.sha256(b"fivechains vector salt report").hexdigest(), {"branch": "天河"}, report)
    data = item_bytes(item)
    wire = {"digest": item.digest, "record_type": item.record_type, "loan_id": item.loan_id, "event_time_ms": item.event_time_ms,
            "commitment_salt": item.commitment_salt, "metadata": item.metadata, "report": report}
    return {"description": "An item with a typed report (not in the signed batch above): hashed like any item, the report last",
            "item": wire, "report_canonical_utf8": report_json(parse_report("repayment", report)).decode(),
            "canonical_utf8": data.decode(), "canonical_hex": data.hex(), "leaf_hash_hex": leaf_hash(data).hex(),
            "commitment_hex": commitment(item).hex()}


def record_digests() -> dict[str, Any]:
    """How a record's digest is made: SHA-256 of a file's bytes or of a JSON record's RFC 8785 form, salt bytes first."""
    record = {"loan_id": "L-2026-0002", "borrower": "张三"}
    salt = "00112233445566778899aabbccddeeff"
    from evidence.canonical_json import canonical_json

    canonical = canonical_json(record)
    return {
        "description": "Record digests: SHA-256(salt bytes || content), content = file bytes or the RFC 8785 form of a JSON record.",
        "file": {"content_hex": b"%PDF-1.7 loan contract L-2026-0001\n".hex(), "salt": None,
                 "digest": digest_bytes(b"%PDF-1.7 loan contract L-2026-0001\n")},
        "json_record": {"record": record, "canonical_utf8": canonical.decode(), "canonical_hex": canonical.hex(), "salt": salt,
                        "hashed_hex": (bytes.fromhex(salt) + canonical).hex(), "digest": digest_json(record, salt)},
    }


def deposit_request() -> dict[str, Any]:
    lender = Ed25519PrivateKey.from_private_bytes(LENDER_SEED)
    items = demo_items()
    root_hash = items_root(items)
    text = request_text(SUPERVISION_CHAIN, LENDER_ID, NONCE, TIMESTAMP_MS, len(items), root_hash)
    signature = lender.sign(text.encode())
    per_item = []
    body_items = []
    for item in items:
        data = item_bytes(item)
        per_item.append({"canonical_utf8": data.decode(), "canonical_hex": data.hex(), "leaf_hash_hex": leaf_hash(data).hex(),
                         "commitment_hex": commitment(item).hex()})
        wire: dict[str, Any] = {"digest": item.digest, "record_type": item.record_type, "loan_id": item.loan_id,
                                "event_time_ms": item.event_time_ms, "commitment_salt": item.commitment_salt}
        if item.metadata is not None:
            wire["metadata"] = item.metadata
        body_items.append(wire)
    return {
        "description": "POST /v1/deposits: item canonical bytes, leaf hashes, the items root, the signed text and the body.",
        "lender_key": key_block(LENDER_SEED),
        "chain_id": SUPERVISION_CHAIN,
        "lender_id": LENDER_ID,
        "nonce": NONCE,
        "timestamp_ms": TIMESTAMP_MS,
        "tag": REQUEST_TAG,
        "items": per_item,
        "items_root_hex": root_hash.hex(),
        "items_root_b64": b64(root_hash),
        "signed_text": text,
        "signed_text_hex": text.encode().hex(),
        "signature_b64": b64(signature),
        "body": {"lender_id": LENDER_ID, "nonce": NONCE, "timestamp_ms": TIMESTAMP_MS, "items": body_items, "signature": b64(signature)},
        "headers": {"Content-Type": "application/json", "Idempotency-Key": NONCE},
        "item_with_report": item_with_report(),
    }


def signed_read() -> dict[str, Any]:
    lender = Ed25519PrivateKey.from_private_bytes(LENDER_SEED)
    target = "/v1/deposits/2?wait=25.0"
    nonce = "0b6f7a2c9d1e4f3a8b5c6d7e8f901a2b"
    text = read_text(SUPERVISION_CHAIN, LENDER_ID, nonce, TIMESTAMP_MS, "GET", target)
    signature = b64(lender.sign(text.encode()))
    return {
        "description": "A signed read (GET /v1/deposits/{index}, GET /v1/deposits?digest=): the text and the headers.",
        "lender_key": key_block(LENDER_SEED),
        "chain_id": SUPERVISION_CHAIN,
        "lender_id": LENDER_ID,
        "nonce": nonce,
        "timestamp_ms": TIMESTAMP_MS,
        "method": "GET",
        "path_and_query": target,
        "tag": READ_TAG,
        "signed_text": text,
        "signed_text_hex": text.encode().hex(),
        "signature_b64": signature,
        "headers": {"X-Lender-Id": LENDER_ID, "X-Timestamp": str(TIMESTAMP_MS), "X-Nonce": nonce, "X-Signature": signature},
    }


def receipt() -> dict[str, Any]:
    signer = Ed25519NoteSigner(SUPERVISION_CHAIN, Ed25519PrivateKey.from_private_bytes(CHAIN_SEED))
    items = demo_items()
    fields = ReceiptFields(SUPERVISION_CHAIN, LENDER_ID, items_root(items), FIRST_INDEX, len(items), DEPOSIT_TIME_MS, SEAL_BY_MS)
    text = receipt_text(fields)
    note = signer.sign(text)
    note_text = Note(text, (note,)).to_text()
    return {
        "description": "The 202 answer to the deposit request vector: its receipt, a signed note by the chain's key.",
        "chain_key": key_block(CHAIN_SEED, SUPERVISION_CHAIN),
        "tag": RECEIPT_TAG,
        "receipt_text": text,
        "signature_b64": b64(note.data),
        "signature_line": note.to_line(),
        "note": note_text,
        "answer": {
            "chain_id": SUPERVISION_CHAIN, "receipt": note_text, "deposit_time_ms": DEPOSIT_TIME_MS, "seal_by_ms": SEAL_BY_MS,
            "replayed": False,
            "items": [{"index": FIRST_INDEX + i, "digest": it.digest, "status": "pending"} for i, it in enumerate(items)],
        },
    }


def entries() -> list[bytes]:
    return [entry_bytes(LENDER_ID, item, commitment(item), DEPOSIT_TIME_MS) for item in demo_items()]


def public_entries() -> dict[str, Any]:
    out = []
    for index, data in enumerate(entries(), start=FIRST_INDEX):
        anchor = encode_anchor_entry(anchor_of(SUPERVISION_CHAIN, index, parse_supervision_entry(data)))
        out.append({"index": index, "supervision_entry_utf8": data.decode(), "supervision_entry_hex": data.hex(),
                    "supervision_leaf_hash_hex": leaf_hash(data).hex(),
                    "judicial_entry_utf8": anchor.decode(), "judicial_entry_hex": anchor.hex(),
                    "judicial_leaf_hash_hex": leaf_hash(anchor).hex()})
    return {
        "description": "The public supervision entries of the deposit vector (the commitment hides loan id, metadata and salt) "
                       "and the judicial anchor entries made from them.",
        "deposit_time_ms": DEPOSIT_TIME_MS,
        "entries": out,
    }


def ledger() -> dict[str, Any]:
    """A sealed supervision ledger of the vector's entries: block 0, its hash, the checkpoint, proofs."""
    signer = Ed25519NoteSigner(SUPERVISION_CHAIN, Ed25519PrivateKey.from_private_bytes(CHAIN_SEED))
    data = entries()
    hashes = [leaf_hash(e) for e in data]
    tree_root = root(hashes)
    header = BlockHeader(SUPERVISION_CHAIN, 0, GENESIS_PREV, len(data), tree_root, len(data), BLOCK_TIME_MS, "sha256")
    block = seal_block(header, signer)
    checkpoint = sign_checkpoint(Checkpoint(SUPERVISION_CHAIN, len(data), tree_root), signer)
    return {
        "description": "Entries sealed as block 0 and a checkpoint (RFC 9162 tree, SHA-256), with inclusion and consistency proofs.",
        "chain_key": key_block(CHAIN_SEED, SUPERVISION_CHAIN),
        "leaf_hashes_hex": [h.hex() for h in hashes],
        "root_hex": tree_root.hex(),
        "root_b64": b64(tree_root),
        "block": {"header_text": header.to_text(), "note": block.to_text(), "block_hash_hex": block.block_hash().hex(),
                  "prev_hash_b64": b64(GENESIS_PREV)},
        "checkpoint": {"text": checkpoint.checkpoint.to_text(), "note": checkpoint.to_text()},
        "inclusion_proofs": [{"index": i, "tree_size": len(data), "leaf_hash_b64": b64(hashes[i]),
                              "hashes_b64": [b64(h) for h in inclusion_proof(hashes, i)]} for i in range(len(data))],
        "consistency_proof": {"old_size": 2, "new_size": len(data), "old_root_hex": root(hashes[:2]).hex(),
                              "hashes_b64": [b64(h) for h in consistency_proof(hashes, 2)]},
    }


def anchor_and_bundle() -> dict[str, Any]:
    """The gRPC AnchorRequest for block 0, the judicial chain's entries and checkpoint, and an offline bundle."""
    from proto import crosschain_pb2 as pb

    chain_ledger = ledger()
    judicial = Ed25519NoteSigner(JUDICIAL_CHAIN, Ed25519PrivateKey.from_private_bytes(JUDICIAL_SEED))
    anchors = [bytes.fromhex(e["judicial_entry_hex"]) for e in public_entries()["entries"]]
    hashes = [leaf_hash(a) for a in anchors]
    checkpoint = sign_checkpoint(Checkpoint(JUDICIAL_CHAIN, len(anchors), root(hashes)), judicial)
    request = pb.AnchorRequest(source_chain_id=SUPERVISION_CHAIN, block_header=chain_ledger["block"]["note"],
                               checkpoint=chain_ledger["checkpoint"]["note"], first_index=FIRST_INDEX, entries=entries(),
                               lender_names={LENDER_ID: "Lender One"})
    bundle = format_tlog_proof(1, inclusion_proof(hashes, 1), checkpoint.to_text(), extra=anchors[1])
    return {
        "description": "Cross-chain anchoring (gRPC CrossChain.Anchor) of block 0 and the court's offline bundle for judicial entry 1.",
        "judicial_key": key_block(JUDICIAL_SEED, JUDICIAL_CHAIN),
        "anchor_request": {"source_chain_id": request.source_chain_id, "block_header": request.block_header,
                           "checkpoint": request.checkpoint, "first_index": request.first_index,
                           "entries_hex": [e.hex() for e in request.entries], "lender_names": dict(request.lender_names),
                           "protobuf_hex": request.SerializeToString(deterministic=True).hex()},
        "judicial_leaf_hashes_hex": [h.hex() for h in hashes],
        "judicial_checkpoint": checkpoint.to_text(),
        "bundle": {"index": 1, "evidence_digest": json.loads(anchors[1])["digest"], "text": bundle},
    }


def deposit_codes() -> dict[str, Any]:
    bodies = ["0000000000000", "7ZK3M9QRT2VXA", "ABCDEFGHJKMNP", "Z0Z0Z0Z0Z0Z0Z", "1234567890ABC"]
    codes = [{"body": b, "check": check_char(b), "code": b + check_char(b), "formatted": format_code(b + check_char(b))} for b in bodies]
    sample = codes[1]["code"]
    swapped = sample[:3] + sample[4] + sample[3] + sample[5:]
    read_back = [
        {"input": format_code(sample).lower(), "normalized": normalize(format_code(sample).lower())},
        {"input": " ".join(format_code(sample).split("-")), "normalized": normalize(" ".join(format_code(sample).split("-")))},
        {"input": "0000-0000-0000-00".replace("0", "O"), "normalized": normalize("0000-0000-0000-00".replace("0", "O"))},
    ]
    return {
        "description": "Deposit codes: 13 Crockford base-32 characters and a Damm check character over x∘y = 2x ⊕ y in GF(2^5) "
                       "(polynomial x^5 + x^2 + 1).",
        "alphabet": ALPHABET,
        "polynomial": "0x25",
        "codes": codes,
        "read_back": read_back,
        "invalid": [{"input": swapped, "why": "two neighbours swapped"},
                    {"input": sample[:-1] + ALPHABET[(ALPHABET.index(sample[-1]) + 1) % 32], "why": "wrong check character"},
                    {"input": sample[:-1], "why": "13 characters"},
                    {"input": sample[:-1] + "U", "why": "U is not in the alphabet"}],
    }


def z_a(user_id: bytes, point: bytes) -> bytes:
    """SM2's Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA), ENTL = the id's length in bits (2 bytes)."""
    return sm3((len(user_id) * 8).to_bytes(2, "big") + user_id + SM2_A + SM2_B + SM2_GX + SM2_GY + point)


def sm2() -> dict[str, Any]:
    """SM2 note keys and signatures (type 0xff + identifier). SM2 signatures are randomised: check, don't compare."""
    key = SM2PrivateKey(SM2_SECRET, SM2_POINT)
    signer = SM2NoteSigner(SUPERVISION_CHAIN, key)
    text = "fivechains.vector/sm2\nhello\n"
    signature = signer.sign(text)
    za = z_a(DEFAULT_USER_ID, SM2_POINT)
    message = text.encode()
    return {
        "description": "SM2 (GB/T 32918.2) with SM3, default user id: Z_A, e = SM3(Z_A || message), the note key id and vkey. "
                       "The signature differs at every signing (random k): verify it, do not compare it.",
        "secret_hex": SM2_SECRET.hex(),
        "public_point_hex": (b"\x04" + SM2_POINT).hex(),
        "user_id": DEFAULT_USER_ID.decode(),
        "z_a_hex": za.hex(),
        "gbt_example": {"source": "GM/T 0003.5-2012 example on the recommended curve (default user id)", "message": "message digest",
                        "e_hex": sm3(za + b"message digest").hex(), "r_hex": SM2_EXAMPLE_R.hex(), "s_hex": SM2_EXAMPLE_S.hex(),
                        "signature_der_hex": signature_from_rs(SM2_EXAMPLE_R, SM2_EXAMPLE_S).hex()},
        "note_signature_type_hex": SM2NoteSigner.sig_type.hex(),
        "note_key_name": SUPERVISION_CHAIN,
        "key_id_input_hex": (SUPERVISION_CHAIN.encode() + b"\n" + SM2NoteSigner.sig_type + b"\x04" + SM2_POINT).hex(),
        "key_id_hex": f"{signer.key_id:08x}",
        "vkey": format_vkey(signer.verifier()),
        "note_text": text,
        "e_hex": sm3(za + message).hex(),
        "randomized": ["note", "signature_der_hex"],
        "note": f"{text}\n{signature.to_line()}",
        "signature_der_hex": signature.data.hex(),
    }


def build_vectors() -> dict[str, dict[str, Any]]:
    """Every vector file's content, by file name."""
    return {
        "record-digests.json": record_digests(),
        "deposit-request.json": deposit_request(),
        "signed-read.json": signed_read(),
        "receipt.json": receipt(),
        "public-entries.json": public_entries(),
        "ledger.json": ledger(),
        "anchor-and-bundle.json": anchor_and_bundle(),
        "deposit-codes.json": deposit_codes(),
        "sm2.json": sm2(),
    }


def render(vector: dict[str, Any]) -> str:
    return json.dumps(vector, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=VECTORS_DIR)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs (randomised SM2 values aside)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, vector in build_vectors().items():
        path = args.out / name
        if args.check:
            if not path.exists() or strip_random(json.loads(path.read_text())) != strip_random(vector):
                stale.append(name)
        else:
            path.write_text(render(vector), encoding="utf-8")
    if stale:
        print("stale vectors (run scripts/gen-vectors):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


def strip_random(vector: dict[str, Any]) -> dict[str, Any]:
    """A vector without its randomised values (SM2 signatures), for comparison."""
    return {k: v for k, v in vector.items() if k not in vector.get("randomized", ())}


if __name__ == "__main__":
    sys.exit(main())
