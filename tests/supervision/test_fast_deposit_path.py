"""Issue 17: the fast deposit path (msgspec decoding, one-pass encodings) is exactly the path it replaces.

The fast decoder may only accept bodies the Pydantic schema accepts, with the same values; every
body it refuses still gets FastAPI's answer (a lax body accepted, an invalid one a 422 naming the
field); the one-pass item and entry encodings are byte for byte RFC 8785 and ``entry_bytes``.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from supervision_chain.api.fast_body import decode_deposit
from supervision_chain.api.schemas import DepositRequestIn
from supervision_chain.client import DepositItem
from supervision_chain.records import Item, encoded_item, encoded_items, entries_bytes, entry_bytes, new_item_salt

NOW = lambda: int(time.time() * 1000)  # noqa: E731
GOOD_ITEM = {"digest": "ab" * 32, "record_type": "repayment", "loan_id": "loan-1", "event_time_ms": 5, "commitment_salt": "cd" * 32}
GOOD = {"lender_id": "L1", "nonce": "n-1", "timestamp_ms": 7, "items": [GOOD_ITEM], "signature": "AAAA"}


def _same_as_pydantic(body: bytes) -> None:
    """What the fast decoder accepts, the schema accepts with the same values."""
    fast = decode_deposit(body)
    if fast is None:
        return
    slow = DepositRequestIn.model_validate_json(body)
    assert (fast.lender_id, fast.nonce, fast.timestamp_ms, fast.signature) == (slow.lender_id, slow.nonce, slow.timestamp_ms, slow.signature)
    assert [(i.digest, i.record_type, i.loan_id, i.event_time_ms, i.commitment_salt, i.metadata) for i in fast.items] == \
           [(i.digest, i.record_type, i.loan_id, i.event_time_ms, i.commitment_salt, i.metadata) for i in slow.items]
    assert all(isinstance(i, Item) for i in fast.items)


def _with_item(**changes: object) -> bytes:
    return json.dumps(dict(GOOD, items=[dict(GOOD_ITEM, **changes)])).encode()


def test_the_fast_decoder_takes_a_good_body_and_refuses_what_the_schema_refuses() -> None:
    assert decode_deposit(json.dumps(GOOD).encode()) is not None
    refused = [
        _with_item(loan_id="loan-1\n"),  # Python's "$" would let a final newline through; the schema's does not
        _with_item(loan_id="loan\n1"),  # two valid lines are not one valid id
        _with_item(digest="ab" * 32 + "\n"),
        _with_item(digest="ab" * 31 + "a\n"),
        _with_item(commitment_salt="AB" * 32),
        _with_item(record_type="gift"),
        _with_item(colour="red"),
        _with_item(event_time_ms=-1),
        _with_item(event_time_ms=2**53),
        json.dumps(dict(GOOD, nonce="n\n")).encode(),
        json.dumps(dict(GOOD, lender_id="L1\n")).encode(),
        json.dumps(dict(GOOD, items=[])).encode(),
        json.dumps(dict(GOOD, extra=1)).encode(),
    ]
    for body in refused:
        assert decode_deposit(body) is None, body
        with pytest.raises(ValidationError):
            DepositRequestIn.model_validate_json(body)
    lax = _with_item(event_time_ms="5")  # Pydantic (lax) accepts it: the fast decoder leaves it to Pydantic
    assert decode_deposit(lax) is None and DepositRequestIn.model_validate_json(lax).items[0].event_time_ms == 5


@settings(max_examples=300, deadline=None)
@given(loan_id=st.text(max_size=70), digest=st.text(alphabet="0123456789abcdefABC\n ", min_size=63, max_size=65),
       event=st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=3), st.booleans(), st.none()),
       metadata=st.one_of(st.none(), st.dictionaries(st.text(max_size=4), st.one_of(st.integers(), st.text(max_size=4), st.floats(allow_nan=False)), max_size=3)))
def test_the_fast_decoder_accepts_only_what_the_schema_accepts(loan_id: str, digest: str, event: object, metadata: object) -> None:
    _same_as_pydantic(_with_item(loan_id=loan_id, digest=digest, event_time_ms=event, metadata=metadata))


@settings(max_examples=300, deadline=None)
@given(loan_id=st.text(max_size=20), record_type=st.sampled_from(["repayment", "other", "x\"y", "é"]),
       metadata=st.one_of(st.none(), st.recursive(st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=5)
                                                  | st.floats(allow_nan=False, allow_infinity=False),
                                                  lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                                                  max_leaves=8).filter(lambda m: isinstance(m, dict)) | st.just({"a": 1})))
def test_an_item_is_encoded_once_and_exactly_rfc8785(loan_id: str, record_type: str, metadata: object) -> None:
    item = Item("ab" * 32, record_type, loan_id, 12345, new_item_salt(), metadata)  # type: ignore[arg-type]
    fields = {"digest": item.digest, "record_type": item.record_type, "loan_id": item.loan_id, "event_time_ms": item.event_time_ms,
              "commitment_salt": item.commitment_salt}
    if metadata is not None:
        fields["metadata"] = metadata
    data, metadata_text = encoded_item(item)
    assert data == rfc8785.dumps(fields)
    assert metadata_text == (None if metadata is None else rfc8785.dumps(metadata).decode())
    other = Item("cd" * 32, "other", "loan-2", 7, new_item_salt())
    assert encoded_items([item, other]) == [encoded_item(item), encoded_item(other)]  # the whole-request form, plain or not


@pytest.mark.parametrize("lender_id", ["L1", "bank.gz:7/x-1", 'L "quoted"', "贷方"])
def test_entries_of_a_request_are_entry_bytes(lender_id: str) -> None:
    items = [Item(f"{n:064x}", kind, f"loan-{n}", 1000 + n, new_item_salt()) for n, kind in enumerate(["repayment", "other", "weird\"type"])]
    commitments = [bytes([n]) * 32 for n in range(len(items))]
    assert entries_bytes(lender_id, items, commitments, 77) == [entry_bytes(lender_id, i, c, 77) for i, c in zip(items, commitments)]
    assert entries_bytes(lender_id, items[:2], commitments[:2], 77) == [entry_bytes(lender_id, i, c, 77) for i, c in zip(items[:2], commitments[:2])]


def _post(server, body: dict, **kw) -> httpx.Response:
    return httpx.post(server.url + "/v1/deposits", json=body, timeout=30, **kw)


def test_over_http_the_schema_still_decides_what_the_fast_decoder_refuses(server, client) -> None:
    lax = client.signed_request([DepositItem(f"{1:064x}", "repayment", "loan-1", NOW() - 1000)])
    lax["items"][0]["event_time_ms"] = str(lax["items"][0]["event_time_ms"])  # Pydantic's lax mode takes it, as before
    answer = _post(server, lax)
    assert answer.status_code == 202, answer.text
    assert answer.json()["items"][0]["index"] == 0

    newline = client.signed_request([DepositItem(f"{2:064x}", "repayment", "loan-2\n", NOW() - 1000)])  # signed, but not a valid id
    refused = _post(server, newline)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["errors"][0]["loc"] == ["body", "items", 0, "loan_id"]

    long_key = client.signed_request([DepositItem(f"{3:064x}", "repayment", "loan-3", NOW() - 1000)])
    refused = _post(server, long_key, headers={"Idempotency-Key": "k" * 129})
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["header", "idempotency-key"]


def test_a_batch_takes_the_fast_path_and_answers_plain_json(server, client) -> None:
    items = [DepositItem(f"{n:064x}", "repayment", f"loan-{n}", NOW() - 1000, {"n": n} if n % 2 else None) for n in range(1000)]
    body = client.signed_request(items)
    answer = _post(server, body, headers={"Idempotency-Key": "batch-1"})
    assert answer.status_code == 202 and answer.headers["content-type"] == "application/json"
    receipt = answer.json()
    assert [i["index"] for i in receipt["items"]] == list(range(1000))
    assert answer.content == json.dumps(receipt, ensure_ascii=False, separators=(",", ":")).encode()  # JSONResponse's bytes
    again = _post(server, body, headers={"Idempotency-Key": "batch-1"})
    assert again.status_code == 202 and again.json()["replayed"] is True


def _chunked(server, body: dict, **kw) -> httpx.Response:
    """The same request without a declared length: it bypasses the fast lane and is answered by the route."""
    data = json.dumps(body).encode()
    return httpx.post(server.url + "/v1/deposits", content=iter([data[:100], data[100:]]),
                      headers={"Content-Type": "application/json", **kw.pop("headers", {})}, timeout=30, **kw)


def _comparable(answer: httpx.Response) -> tuple[int, dict[str, str]]:
    headers = {k: v for k, v in answer.headers.items() if k not in ("date", "x-request-id", "content-length")}
    return answer.status_code, headers


def test_the_fast_lane_answers_as_the_route_does_accepted_or_refused(server, client) -> None:
    items = lambda n: [DepositItem(f"{n:064x}", "repayment", f"loan-{n}", NOW() - 1000)]  # noqa: E731
    lane, route = _post(server, client.signed_request(items(1))), _chunked(server, client.signed_request(items(2)))
    assert lane.status_code == route.status_code == 202
    assert _comparable(lane) == _comparable(route) and "x-request-id" in lane.headers and "content-security-policy" in lane.headers
    assert lane.json().keys() == route.json().keys() and lane.json()["items"][0]["index"] + 1 == route.json()["items"][0]["index"]

    replay = client.signed_request(items(3), nonce="same-nonce")  # a nonce used again under another key: 409 from either path
    assert _post(server, replay, headers={"Idempotency-Key": "k-1"}).status_code == 202
    again = client.signed_request(items(4), nonce="same-nonce")
    by_lane, by_route = _post(server, again, headers={"Idempotency-Key": "k-2"}), _chunked(server, again, headers={"Idempotency-Key": "k-3"})
    assert by_lane.status_code == 409 and _comparable(by_lane) == _comparable(by_route)
    assert by_lane.json() == by_route.json() and by_lane.json()["type"].endswith("/replay")

    forged = client.signed_request(items(5))
    forged["items"][0]["loan_id"] = "loan-other"  # no longer what was signed
    by_lane, by_route = _post(server, forged), _chunked(server, forged)
    assert by_lane.status_code == 401 and by_lane.json() == by_route.json() and _comparable(by_lane) == _comparable(by_route)
    assert [d["index"] for d in client.find(f"{5:064x}")] == []  # a refused request wrote nothing
