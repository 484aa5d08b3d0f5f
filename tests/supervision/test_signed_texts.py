"""Signed texts name their chain, signed reads are accepted once, and an unknown lender is told
exactly what a bad signature is told (no enumeration of registered lender ids)."""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.encoding import b64encode
from chain.keys import public_key_bytes
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.records import read_text
from supervision_chain.registry import add_lender
from supervision_chain.service import SupervisionConfig, open_supervision_store

from .conftest import SupervisionServer, register


def _items(n: int) -> list[DepositItem]:
    now = int(time.time() * 1000)
    return [DepositItem(uuid.uuid4().hex * 2, "repayment", f"loan-{i}", now) for i in range(n)]


def _same_problem(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code == 401
    first, second = a.json(), b.json()
    assert {k: first[k] for k in ("status", "type", "title", "detail")} == {k: second[k] for k in ("status", "type", "title", "detail")}


def test_a_deposit_signed_for_another_chain_is_refused(tmp_path: Path) -> None:
    servers = []
    try:
        for name in ("a", "b"):
            data_dir = tmp_path / name
            data_dir.mkdir()
            servers.append(SupervisionServer(data_dir, "--chain-id", f"supervision.{name}.test/gz").start())
        chain_a, chain_b = servers
        key = register(chain_a.data_dir, "L1")
        store = open_supervision_store(SupervisionConfig(chain_b.data_dir, chain_id="supervision.b.test/gz"))
        add_lender(store.engine, "L1", "Lender L1", "GZ-L1", public_key_bytes(key.public_key()))  # the same lender, the same key
        store.close()
        with LenderClient(chain_a.url, "L1", key) as client:
            assert client.chain_id == "supervision.a.test/gz"
            body = client.signed_request(_items(2))
        replayed = httpx.post(chain_b.url + "/v1/deposits", json=body)
        assert replayed.status_code == 401 and replayed.json()["type"].endswith("/bad-signature")
        assert httpx.post(chain_a.url + "/v1/deposits", json=body).status_code == 202  # genuine where it was meant to go
        with LenderClient(chain_b.url, "L1", key) as client_b:
            assert client_b.deposit(_items(1))["items"][0]["index"] == 0  # and the lender's own requests to B work
    finally:
        for srv in servers:
            srv.stop()


def _signed_read(lender_id: str, key: Ed25519PrivateKey, path: str, nonce: str, chain_id: str) -> dict[str, str]:
    now = int(time.time() * 1000)
    signature = key.sign(read_text(chain_id, lender_id, nonce, now, "GET", path).encode())
    return {"X-Lender-Id": lender_id, "X-Timestamp": str(now), "X-Nonce": nonce, "X-Signature": b64encode(signature)}


def test_a_signed_read_is_accepted_once_and_only_on_its_chain(server, lenders) -> None:
    with LenderClient(server.url, "L1", lenders["L1"]) as client:
        index = client.deposit(_items(1))["items"][0]["index"]
        chain_id = client.chain_id
    path = f"/v1/deposits/{index}"
    headers = _signed_read("L1", lenders["L1"], path, "read-1", chain_id)
    assert httpx.get(server.url + path, headers=headers).status_code == 200
    again = httpx.get(server.url + path, headers=headers)
    assert again.status_code == 401 and again.json()["type"].endswith("/replayed-read")
    fresh = _signed_read("L1", lenders["L1"], path, "read-2", chain_id)
    assert httpx.get(server.url + path, headers=fresh).status_code == 200
    elsewhere = _signed_read("L1", lenders["L1"], path, "read-3", "supervision.other.test/gz")
    refused = httpx.get(server.url + path, headers=elsewhere)
    assert refused.status_code == 401 and refused.json()["type"].endswith("/bad-signature")
    # a signature over another nonce than the header's does not verify (the nonce is in the signed text)
    swapped = dict(_signed_read("L1", lenders["L1"], path, "read-4", chain_id), **{"X-Nonce": "read-5"})
    assert httpx.get(server.url + path, headers=swapped).status_code == 401


def test_unknown_lender_and_bad_signature_answer_alike(server, lenders) -> None:
    with LenderClient(server.url, "L1", lenders["L1"]) as client:
        body = client.signed_request(_items(1))
        chain_id = client.chain_id
    bad_signature = httpx.post(server.url + "/v1/deposits", json=dict(body, signature=base64.b64encode(bytes(64)).decode()))
    unknown = httpx.post(server.url + "/v1/deposits", json=dict(body, lender_id="NOBODY"))
    _same_problem(bad_signature, unknown)
    # signed reads: a registered lender with a wrong key, and an id nobody registered
    stranger = Ed25519PrivateKey.generate()
    path = "/v1/deposits/0"
    wrong_key = httpx.get(server.url + path, headers=_signed_read("L1", stranger, path, "n-1", chain_id))
    nobody = httpx.get(server.url + path, headers=_signed_read("NOBODY", stranger, path, "n-2", chain_id))
    _same_problem(wrong_key, nobody)
    _same_problem(wrong_key, unknown)  # and the same for deposits and reads
