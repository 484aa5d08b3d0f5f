"""Lenders with SM2 keys: registered through the API in raw form (its length names the type), signing deposits
and reads with SM2 (DER over the same text, SM3 with the default user id); an unknown lender, a wrong key and a
signature of the other type all get the bad-signature answer, and a stand-in key's signature (G's secret is 1)
never passes for anyone."""

from __future__ import annotations

import time
import uuid

import httpx

from chain.encoding import b64encode
from chain.keys import public_key_bytes
from chain.sm2 import SM2PrivateKey
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.records import read_text

from .test_signed_texts import _same_problem

G = bytes.fromhex("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
                  "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0")


def _items(n: int) -> list[DepositItem]:
    now = int(time.time() * 1000)
    return [DepositItem(uuid.uuid4().hex * 2, "repayment", f"loan-{i}", now) for i in range(n)]


def _add(server, lender_id: str, raw: bytes) -> httpx.Response:
    return httpx.post(server.url + "/v1/admin/lenders", headers={"Authorization": f"Bearer {server.token}"},
                      json={"id": lender_id, "name": f"Lender {lender_id}", "licence": f"GZ-{lender_id}", "public_key": b64encode(raw)})


def _read_headers(lender_id: str, key, path: str, chain_id: str) -> dict[str, str]:
    now, nonce = int(time.time() * 1000), uuid.uuid4().hex
    signature = key.sign(read_text(chain_id, lender_id, nonce, now, "GET", path).encode())
    return {"X-Lender-Id": lender_id, "X-Timestamp": str(now), "X-Nonce": nonce, "X-Signature": b64encode(signature)}


def test_an_sm2_lender_deposits_and_reads(server, lenders) -> None:
    key = SM2PrivateKey.generate()
    added = _add(server, "S1", public_key_bytes(key.public_key()))
    assert added.status_code in (200, 201) and added.json()["key_type"] == "sm2"
    with LenderClient(server.url, "S1", key) as client:
        index = client.deposit(_items(3))["items"][0]["index"]
        assert client.wait_for([index], "sealed", timeout=30)[index]["status"] in ("sealed", "anchored")
        assert client.status(index)["index"] == index  # a signed read
    listed = httpx.get(server.url + "/v1/admin/lenders", headers={"Authorization": f"Bearer {server.token}"}).json()
    types = {row["id"]: row["key_type"] for row in (listed["lenders"] if isinstance(listed, dict) else listed)}
    assert types == {"L1": "ed25519", "L2": "ed25519", "S1": "sm2"}


def test_a_key_of_neither_form_is_refused_with_a_problem(server) -> None:
    for raw in (bytes(33), b"\x04" + bytes(64), b"\x05" + G):  # a wrong length; a point off the curve; a wrong prefix
        answer = _add(server, "X1", raw)
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json"), answer.text


def test_unknown_wrong_and_cross_type_signatures_answer_alike(server, lenders) -> None:
    sm2 = SM2PrivateKey.generate()
    assert _add(server, "S1", public_key_bytes(sm2.public_key())).status_code in (200, 201)
    with LenderClient(server.url, "S1", sm2) as client:
        index = client.deposit(_items(1))["items"][0]["index"]
        chain_id = client.chain_id
    path = f"/v1/deposits/{index}"
    stranger = SM2PrivateKey.generate()
    one = SM2PrivateKey((1).to_bytes(32, "big"), G)  # the stand-in key's secret: must never verify for anybody
    answers = {
        "unknown lender, SM2": httpx.get(server.url + path, headers=_read_headers("NOBODY", stranger, path, chain_id)),
        "SM2 lender, wrong key": httpx.get(server.url + path, headers=_read_headers("S1", stranger, path, chain_id)),
        "Ed25519 lender, SM2 signature": httpx.get(server.url + path, headers=_read_headers("L1", sm2, path, chain_id)),
        "SM2 lender, Ed25519 signature": httpx.get(server.url + path, headers=_read_headers("S1", lenders["L1"], path, chain_id)),
        "unknown lender, stand-in key": httpx.get(server.url + path, headers=_read_headers("NOBODY", one, path, chain_id)),
        "SM2 lender, stand-in key": httpx.get(server.url + path, headers=_read_headers("S1", one, path, chain_id)),
    }
    first = answers["unknown lender, SM2"]
    for answer in answers.values():
        _same_problem(first, answer)
    assert first.json()["type"].endswith("/bad-signature")
    assert httpx.get(server.url + path, headers=_read_headers("S1", sm2, path, chain_id)).status_code == 200
