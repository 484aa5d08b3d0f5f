"""The deposit API over real HTTP (uvicorn on loopback): happy path, every bad input, isolation."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.checkpoint import open_checkpoint
from chain.merkle import leaf_hash, verify_inclusion
from chain.note import open_note, parse_vkey
from supervision_chain.client import DepositError, DepositItem, LenderClient
from supervision_chain.records import parse_receipt_text

NOW = lambda: int(time.time() * 1000)  # noqa: E731


def _items(n: int, start: int = 0) -> list[DepositItem]:
    return [DepositItem(f"{start + i:064x}", "repayment", f"loan-{start + i}", NOW() - 60_000) for i in range(n)]


def _count(server) -> int:
    return httpx.get(server.url + "/v1/admin/timeliness", headers={"Authorization": f"Bearer {server.token}"}).json()["lenders"]


def _stored(server) -> int:
    return sum(row["deposits"] for row in _count(server))


def test_deposit_seal_and_prove(server, client) -> None:
    answer = client.deposit(_items(3))
    assert [i["index"] for i in answer["items"]] == [0, 1, 2]
    info = httpx.get(server.url + "/v1/chain").json()
    vkey = parse_vkey(info["vkey"])
    receipt = parse_receipt_text(open_note(answer["receipt"], [vkey]).text)
    assert (receipt.lender_id, receipt.first_index, receipt.count) == ("L1", 0, 3)
    view = client.status(1, wait=10)
    assert view["status"] == "sealed" and view["digest"] == f"{1:064x}"
    cp = open_checkpoint(view["checkpoint"], vkey, origin=info["chain_id"]).checkpoint
    entry = httpx.get(server.url + "/v1/entries", params={"start": 1, "end": 2}).json()["entries"][0]
    assert base64.b64decode(view["leaf_hash"]) == leaf_hash(entry["data"].encode())
    assert verify_inclusion(leaf_hash(entry["data"].encode()), 1, cp.size, [base64.b64decode(h) for h in view["inclusion_proof"]], cp.root)
    assert '"lender_id":"L1"' in entry["data"] and "loan-1" not in entry["data"]  # loan ids stay private
    assert answer["items"][1]["commitment_salt"] not in entry["data"]  # so does the salt that hides them
    assert view["commitment_salt"] == answer["items"][1]["commitment_salt"]  # the lender (only) may read it back
    assert client.find(f"{2:064x}")[0]["index"] == 2


def test_long_poll_returns_when_sealed(tmp_path, lenders, server) -> None:
    with LenderClient(server.url, "L1", lenders["L1"]) as c:
        index = c.deposit(_items(1))["items"][0]["index"]
        view = c.status(index, wait=10)
        assert view["status"] == "sealed"


def test_idempotent_retry_returns_the_original_receipt(server, client) -> None:
    body = client.signed_request(_items(2))
    first = httpx.post(server.url + "/v1/deposits", json=body, headers={"Idempotency-Key": "batch-7"})
    again = httpx.post(server.url + "/v1/deposits", json=body, headers={"Idempotency-Key": "batch-7"})
    assert first.status_code == again.status_code == 202
    assert again.json()["items"] == first.json()["items"] and again.json()["replayed"] is True
    assert _stored(server) == 2
    other = client.signed_request(_items(2, 100))
    conflict = httpx.post(server.url + "/v1/deposits", json=other, headers={"Idempotency-Key": "batch-7"})
    assert conflict.status_code == 422 and conflict.json()["type"].endswith("idempotency-conflict")


def _problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/" + slug) and body["status"] == status and body["detail"]
    return body


def _post(server, body, **kw) -> httpx.Response:
    return httpx.post(server.url + "/v1/deposits", json=body, timeout=30, **kw)


def test_every_bad_input_is_a_clear_4xx_and_stores_nothing(server, client, lenders) -> None:
    good = client.signed_request(_items(2))
    cases = []
    bad = dict(good, items=[dict(good["items"][0], digest="zz" * 32)])
    cases.append((bad, 422, "invalid-input"))  # malformed hex
    cases.append((dict(good, items=[dict(good["items"][0], digest="ab" * 31)]), 422, "invalid-input"))  # wrong length
    cases.append((dict(good, items=[dict(good["items"][0], colour="red")]), 422, "invalid-input"))  # unknown field
    cases.append((dict(good, extra=1), 422, "invalid-input"))
    cases.append((dict(good, items=[dict(good["items"][0], record_type="gift")]), 422, "invalid-input"))
    cases.append((dict(good, lender_id="L9"), 401, "bad-signature"))  # unknown lender: the same answer as a bad signature
    cases.append((dict(good, items=[{k: v for k, v in good["items"][0].items() if k != "commitment_salt"}]), 422, "invalid-input"))  # no salt
    cases.append((dict(good, items=[dict(good["items"][0], commitment_salt="AB" * 32)]), 422, "invalid-input"))  # salt not lowercase hex
    cases.append((dict(good, items=[dict(good["items"][0], commitment_salt="ab" * 16)]), 422, "invalid-input"))  # salt of 16 bytes
    cases.append((dict(good, items=[dict(good["items"][0], commitment_salt="1" * 64)] + good["items"][1:]), 401, "bad-signature"))  # salt changed
    cases.append((dict(good, signature=base64.b64encode(bytes(64)).decode()), 401, "bad-signature"))
    cases.append((dict(good, items=good["items"][:1]), 401, "bad-signature"))  # items changed after signing
    cases.append((dict(good, signature="not base64!"), 422, "invalid-input"))
    with LenderClient(server.url, "L1", lenders["L1"]) as c:
        stale = c.signed_request(_items(1))
    stale["timestamp_ms"] -= 3_600_000
    cases.append((stale, 401, "stale-request"))  # the time window is checked before the signature
    for body, status, slug in cases:
        _problem(_post(server, body), status, slug)
    with LenderClient(server.url, "L2", lenders["L2"]) as c2:
        impostor = c2.signed_request(_items(1))
    _problem(_post(server, dict(impostor, lender_id="L1")), 401, "bad-signature")
    _problem(httpx.post(server.url + "/v1/deposits", content=b"{not json", headers={"content-type": "application/json"}), 422, "invalid-input")
    _problem(httpx.post(server.url + "/v1/deposits", content=b"x" * (9 * 1024 * 1024), headers={"content-type": "application/json"}),
             413, "body-too-large")
    assert _stored(server) == 0  # nothing from any of them was kept

    # too many items: 10,001 in one request
    many = client.signed_request([DepositItem(f"{i:064x}", "other", f"l{i}", NOW()) for i in range(10_001)])
    _problem(_post(server, many), 413, "too-many-items")
    # a replayed nonce under another idempotency key
    assert _post(server, good, headers={"Idempotency-Key": "a"}).status_code == 202
    _problem(_post(server, good, headers={"Idempotency-Key": "b"}), 409, "replay")
    assert _stored(server) == 2


def test_stale_request_is_refused(server, lenders) -> None:
    key = lenders["L1"]

    class OldClock(LenderClient):
        pass

    with OldClock(server.url, "L1", key) as c:
        import supervision_chain.client as client_module

        real = client_module.time.time
        client_module.time.time = lambda: real() - 3600
        try:
            body = c.signed_request(_items(1))
        finally:
            client_module.time.time = real
    _problem(_post(server, body), 401, "stale-request")


def test_disabled_lender_is_refused(server, client) -> None:
    r = httpx.post(server.url + "/v1/admin/lenders/L1/disable", headers={"Authorization": f"Bearer {server.token}"})
    assert r.status_code == 200 and r.json()["enabled"] is False
    with pytest.raises(DepositError) as caught:
        client.deposit(_items(1))
    assert caught.value.status == 403 and caught.value.problem["type"].endswith("/disabled-lender")  # its signature verified


def test_a_lender_sees_only_its_own_deposits(server, lenders) -> None:
    with LenderClient(server.url, "L1", lenders["L1"]) as a, LenderClient(server.url, "L2", lenders["L2"]) as b:
        index = a.deposit(_items(1))["items"][0]["index"]
        with pytest.raises(DepositError) as caught:
            b.status(index)
        assert caught.value.status == 404 and "L1" not in str(caught.value.problem)
        assert b.find(f"{0:064x}") == []
    unsigned = httpx.get(f"{server.url}/v1/deposits/{index}")
    _problem(unsigned, 401, "unauthorized")
    forged = httpx.get(f"{server.url}/v1/deposits/{index}", headers={"X-Lender-Id": "L1", "X-Timestamp": str(NOW()), "X-Nonce": "n1",
                                                                      "X-Signature": base64.b64encode(bytes(64)).decode()})
    _problem(forged, 401, "bad-signature")
    no_nonce = httpx.get(f"{server.url}/v1/deposits/{index}", headers={"X-Lender-Id": "L1", "X-Timestamp": str(NOW()),
                                                                        "X-Signature": base64.b64encode(bytes(64)).decode()})
    _problem(no_nonce, 401, "unauthorized")


def test_regulator_endpoints_need_the_token(server, lenders) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        _problem(httpx.get(server.url + "/v1/admin/lenders", headers=headers), 401, "unauthorized")
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    body = {"id": "L3", "name": "Three", "licence": "GZ-3", "public_key": base64.b64encode(key).decode()}
    auth = {"Authorization": f"Bearer {server.token}"}
    assert httpx.post(server.url + "/v1/admin/lenders", json=body, headers=auth).status_code == 201
    _problem(httpx.post(server.url + "/v1/admin/lenders", json=body, headers=auth), 409, "conflict")
    ids = [lender["id"] for lender in httpx.get(server.url + "/v1/admin/lenders", headers=auth).json()["lenders"]]
    assert ids == ["L1", "L2", "L3"]


def test_timeliness_is_recorded_per_lender(server, client) -> None:
    late = [DepositItem(f"{i:064x}", "overdue", f"loan-{i}", NOW() - 3 * 24 * 3600 * 1000) for i in range(2)]
    client.deposit(late + _items(2, 10))
    stats = _count(server)
    assert stats[0]["lender_id"] == "L1" and stats[0]["deposits"] == 4 and stats[0]["late"] == 2
    assert stats[0]["max_delay_ms"] >= 3 * 24 * 3600 * 1000


def test_public_reads_and_openapi(server, client) -> None:
    client.deposit(_items(5))
    client.status(4, wait=10)
    cp = httpx.get(server.url + "/v1/checkpoint")
    assert cp.status_code == 200 and cp.text.startswith("supervision.fivechains.local/gz\n5\n")
    blocks = httpx.get(server.url + "/v1/blocks").json()["blocks"]
    assert blocks and blocks[-1]["tree_size"] == 5
    assert httpx.get(server.url + "/v1/proofs/consistency", params={"old_size": 5}).json()["hashes"] == []
    _problem(httpx.get(server.url + "/v1/proofs/inclusion", params={"index": 99}), 404, "not-in-ledger")
    _problem(httpx.get(server.url + "/v1/entries", params={"start": 0, "end": 5000}), 422, "invalid-input")
    _problem(httpx.get(server.url + "/v1/blocks/77"), 404, "not-found")
    schema = httpx.get(server.url + "/openapi.json").json()
    assert "/v1/deposits" in schema["paths"] and "/v1/admin/lenders" in schema["paths"]


def test_metadata_must_be_plain_json(server, client) -> None:
    body = client.signed_request([DepositItem(f"{1:064x}", "other", "loan-1", NOW(), {"amount": 1})])
    raw = httpx.Request("POST", "/", json=body).content.replace(b'"amount":1', b'"amount":NaN')
    _problem(httpx.post(server.url + "/v1/deposits", content=raw, headers={"content-type": "application/json"}), 422, "invalid-input")
    huge = client.signed_request([DepositItem(f"{2:064x}", "other", "loan-2", NOW(), {"note": "x" * 5000})])
    _problem(_post(server, huge), 422, "invalid-input")
    fine = client.deposit([DepositItem(f"{3:064x}", "other", "loan-3", NOW(), {"amount": 1.5, "currency": "CNY"})])
    assert fine["items"][0]["index"] == 0


def test_streamed_oversized_body_is_refused(server) -> None:
    def chunks():
        for _ in range(10):
            yield b" " * (1024 * 1024)

    response = httpx.post(server.url + "/v1/deposits", content=chunks(), headers={"content-type": "application/json"}, timeout=30)
    _problem(response, 413, "body-too-large")


def test_find_by_digest_before_and_after_sealing(server, lenders) -> None:
    digest = "cd" * 32
    with LenderClient(server.url, "L1", lenders["L1"]) as a, LenderClient(server.url, "L2", lenders["L2"]) as b:
        first = a.deposit([DepositItem(digest, "contract", "loan-a", NOW())])["items"][0]["index"]
        b.deposit([DepositItem(digest, "contract", "loan-b", NOW())])
        assert [v["index"] for v in a.find(digest)] == [first]  # pending or indexed, either way found
        a.status(first, wait=10)
        for n in range(3):  # more blocks, so the look-up crosses several digest runs
            a.deposit(_items(5, 100 * (n + 1)))
            a.status(a.find(f"{100 * (n + 1):064x}")[0]["index"], wait=10)
        second = a.deposit([DepositItem(digest, "repayment", "loan-a", NOW())])["items"][0]["index"]
        assert [v["index"] for v in a.find(digest)] == [first, second]
        assert len(b.find(digest)) == 1 and b.find(digest)[0]["loan_id"] == "loan-b"
