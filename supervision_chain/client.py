"""The lender SDK: hash records locally, sign batches, deposit with retries, wait for states.

Records never leave the lender: only their digests (optionally salted) are sent. Each item
gets a fresh 32-byte salt that hides its loan id behind the public commitment; the SDK returns
it with each item of the answer, for the lender to keep. A retry resends the very same signed
body under the same idempotency key, so the chain stores a request once however often the
network fails. Every signed text names the chain (fetched once from ``GET /v1/chain``), and
every signed read carries a fresh nonce. The lender's key is Ed25519 or SM2 (whichever it registered);
an SM2 signature is DER over the same text, SM3 with the standard's default user id.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from chain.encoding import b64encode
from chain.keys import PrivateKey

from .records import Item, items_root, new_item_salt, read_text, request_text

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
    """What a lender deposits about one record; ``commitment_salt`` is made by the SDK unless given.

    ``report`` is the record's typed regulatory report (``evidence.loan_reports``: required for ``consent``,
    refused for ``other``), signed and committed with the item like the rest."""

    digest: str
    record_type: str
    loan_id: str
    event_time_ms: int
    metadata: dict[str, Any] | None = None
    commitment_salt: str | None = None
    report: dict[str, Any] | None = None

    def as_item(self, commitment_salt: str) -> Item:
        return Item(self.digest, self.record_type, self.loan_id, self.event_time_ms, commitment_salt, self.metadata, self.report)


class LenderClient:
    def __init__(self, server: str, lender_id: str, key: PrivateKey, *, timeout: float = 60, retries: int = 5,
                 transport: httpx.BaseTransport | None = None, chain_id: str | None = None) -> None:
        self.lender_id = lender_id
        self._chain_id = chain_id
        self._key = key
        self._retries = retries
        self._http = httpx.Client(base_url=server.rstrip("/"), timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LenderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def chain_id(self) -> str:
        """The chain's id, which every signed text names (asked once: GET /v1/chain)."""
        if self._chain_id is None:
            response = self._http.get("/v1/chain")
            if response.status_code != 200:
                raise DepositError(response.status_code, _problem(response))
            self._chain_id = str(response.json()["chain_id"])
        return self._chain_id

    def signed_request(self, items: list[DepositItem], nonce: str | None = None) -> dict[str, Any]:
        """The JSON body of a deposit request, signed over the items' Merkle root (each item salted)."""
        nonce = nonce or uuid.uuid4().hex
        now = int(time.time() * 1000)
        salted = [i.as_item(i.commitment_salt or new_item_salt()) for i in items]
        root = items_root(salted)
        signature = self._key.sign(request_text(self.chain_id, self.lender_id, nonce, now, len(items), root).encode())
        body_items = []
        for i in salted:
            entry: dict[str, Any] = {"digest": i.digest, "record_type": i.record_type, "loan_id": i.loan_id,
                                     "event_time_ms": i.event_time_ms, "commitment_salt": i.commitment_salt}
            if i.metadata is not None:
                entry["metadata"] = i.metadata
            if i.report is not None:
                entry["report"] = i.report
            body_items.append(entry)
        return {"lender_id": self.lender_id, "nonce": nonce, "timestamp_ms": now, "items": body_items, "signature": b64encode(signature)}

    def deposit(self, items: list[DepositItem], idempotency_key: str | None = None) -> dict[str, Any]:
        """Deposit a batch; retry transient failures with the same body and key.

        The answer is the chain's receipt; each of its ``items`` also carries the ``commitment_salt`` the SDK
        made for it: keep it (with the loan id) to open the item's public commitment later."""
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
                    answer = response.json()
                    for item, sent in zip(answer["items"], body["items"]):
                        item["commitment_salt"] = sent["commitment_salt"]
                    return answer
                if response.status_code not in RETRY_STATUSES or attempt == self._retries:
                    raise DepositError(response.status_code, _problem(response))
            time.sleep(delay)
            delay = min(delay * 2, 5)
        raise AssertionError("unreachable")

    def _signed_get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        request = self._http.build_request("GET", path, params=params)
        target = request.url.raw_path.decode()
        now = int(time.time() * 1000)
        nonce = uuid.uuid4().hex
        signature = self._key.sign(read_text(self.chain_id, self.lender_id, nonce, now, "GET", target).encode())
        request.headers.update({"X-Lender-Id": self.lender_id, "X-Timestamp": str(now), "X-Nonce": nonce,
                                "X-Signature": b64encode(signature)})
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
