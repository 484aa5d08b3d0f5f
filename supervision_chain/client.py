"""The lender SDK: hash records locally, sign batches, deposit with retries, wait for states.

Records never leave the lender: only their digests (optionally salted) are sent. A retry
resends the very same signed body under the same idempotency key, so the chain stores a
request once however often the network fails.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.encoding import b64encode

from .records import Item, items_root, read_text, request_text

__all__ = ["LenderClient", "DepositError", "DepositItem"]

RETRY_STATUSES = {429, 502, 503, 504}


class DepositError(Exception):
    """The chain refused a request; ``problem`` is its RFC 9457 body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")


@dataclass(frozen=True)
class DepositItem:
    digest: str
    record_type: str
    loan_id: str
    event_ms: int
    metadata: dict[str, Any] | None = None

    def as_item(self) -> Item:
        return Item(self.digest, self.record_type, self.loan_id, self.event_ms, self.metadata)


class LenderClient:
    def __init__(self, server: str, lender_id: str, key: Ed25519PrivateKey, *, timeout: float = 60, retries: int = 5,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.lender_id = lender_id
        self._key = key
        self._retries = retries
        self._http = httpx.Client(base_url=server.rstrip("/"), timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LenderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def signed_request(self, items: list[DepositItem], nonce: str | None = None) -> dict[str, Any]:
        """The JSON body of a deposit request, signed over the items' Merkle root."""
        nonce = nonce or uuid.uuid4().hex
        now = int(time.time() * 1000)
        root = items_root([i.as_item() for i in items])
        signature = self._key.sign(request_text(self.lender_id, nonce, now, len(items), root).encode())
        body_items = []
        for i in items:
            entry: dict[str, Any] = {"digest": i.digest, "record_type": i.record_type, "loan_id": i.loan_id, "event_time_ms": i.event_ms}
            if i.metadata is not None:
                entry["metadata"] = i.metadata
            body_items.append(entry)
        return {"lender_id": self.lender_id, "nonce": nonce, "timestamp_ms": now, "items": body_items, "signature": b64encode(signature)}

    def deposit(self, items: list[DepositItem], idempotency_key: str | None = None) -> dict[str, Any]:
        """Deposit a batch; retry transient failures with the same body and key."""
        body = self.signed_request(items)
        key = idempotency_key or body["nonce"]
        delay = 0.2
        for attempt in range(self._retries + 1):
            try:
                response = self._http.post("/v1/deposits", json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                if attempt == self._retries:
                    raise
            else:
                if response.status_code == 202:
                    return response.json()
                if response.status_code not in RETRY_STATUSES or attempt == self._retries:
                    raise DepositError(response.status_code, _problem(response))
            time.sleep(delay)
            delay = min(delay * 2, 5)
        raise AssertionError("unreachable")

    def _signed_get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        request = self._http.build_request("GET", path, params=params)
        target = request.url.raw_path.decode()
        now = int(time.time() * 1000)
        signature = self._key.sign(read_text(self.lender_id, now, "GET", target).encode())
        request.headers.update({"X-Lender-Id": self.lender_id, "X-Timestamp": str(now), "X-Signature": b64encode(signature)})
        return self._http.send(request)

    def status(self, index: int, wait: float = 0) -> dict[str, Any]:
        response = self._signed_get(f"/v1/deposits/{index}", {"wait": wait} if wait else None)
        if response.status_code != 200:
            raise DepositError(response.status_code, _problem(response))
        return response.json()

    def find(self, digest: str) -> list[dict[str, Any]]:
        response = self._signed_get("/v1/deposits", {"digest": digest})
        if response.status_code != 200:
            raise DepositError(response.status_code, _problem(response))
        return response.json()["items"]

    def wait_for(self, indexes: Iterable[int], state: str = "anchored", timeout: float = 60) -> dict[int, dict[str, Any]]:
        """Long-poll each index until it reaches ``state`` (or a later one) or the time runs out."""
        order = {"pending": 0, "sealed": 1, "anchored": 2}
        deadline = time.monotonic() + timeout
        done: dict[int, dict[str, Any]] = {}
        for index in indexes:
            view = self.status(index)  # already there: no long-poll (it waits for the *next* change)
            while order[view["status"]] < order[state] and (left := deadline - time.monotonic()) > 0:
                view = self.status(index, wait=min(25.0, left))
            done[index] = view
        return done


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        return response.json()
    except ValueError:
        return {"title": response.reason_phrase, "detail": response.text[:200]}
