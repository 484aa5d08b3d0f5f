"""The risk chain's SDK: a lender reads its own warnings and answers them, an officer takes the
regulator's steps, the regulator reads everything — each request signed (or carrying the token)
exactly as the API checks it (signed texts in ``closed_loop.step_text`` and ``party_auth.read_text``)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from chain.encoding import b64encode
from chain.keys import PrivateKey
from service_kit.party_auth import read_text

from .closed_loop import step_text

__all__ = ["RiskClient", "RiskError"]


class RiskError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _problem(response: httpx.Response) -> str:
    try:
        return response.json().get("detail") or response.text
    except ValueError:
        return response.text


class RiskClient:
    """One party of the risk chain: ``kind`` "lender" or "officer" with its key, or the regulator with ``token``."""

    def __init__(self, url: str, *, party_id: str | None = None, key: PrivateKey | None = None, kind: str = "lender",
                 token: str | None = None, timeout: float = 30) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self.party_id, self.key, self.kind, self.token = party_id, key, kind, token
        self._chain_id: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RiskClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = self.http.get("/v1/chain").raise_for_status().json()["chain_id"]
        return self._chain_id

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        request = self.http.build_request("GET", path, params=params)
        if self.token is not None:
            request.headers["Authorization"] = f"Bearer {self.token}"
        elif self.kind == "lender" and self.key is not None and self.party_id:
            now, nonce = int(time.time() * 1000), uuid.uuid4().hex
            target = request.url.raw_path.decode()
            signature = self.key.sign(read_text(self.chain_id, self.party_id, nonce, now, "GET", target).encode())
            request.headers.update({"X-Lender-Id": self.party_id, "X-Timestamp": str(now), "X-Nonce": nonce, "X-Signature": b64encode(signature)})
        response = self.http.send(request)
        if response.status_code != 200:
            raise RiskError(response.status_code, _problem(response))
        return response

    def warnings(self, states: list[str] | None = None) -> list[dict[str, Any]]:
        return self._get("/v1/warnings", {"state": states} if states else None).json()["warnings"]

    def warning(self, warning_id: str) -> dict[str, Any]:
        return self._get(f"/v1/warnings/{warning_id}").json()

    def document(self, warning_id: str, seq: int) -> bytes:
        return self._get(f"/v1/warnings/{warning_id}/steps/{seq}/document").content

    def model(self, sha256: str) -> str:
        return self._get(f"/v1/models/{sha256}").text

    def step(self, warning_id: str, step: str, body: dict[str, Any], *, time_ms: int | None = None) -> dict[str, Any]:
        """Take a step, signed with this party's key."""
        if self.key is None or not self.party_id or self.kind not in ("lender", "officer"):
            raise ValueError("a step is signed by a lender or an officer with its key")
        time_ms = time_ms or int(time.time() * 1000)
        signature = self.key.sign(step_text(self.chain_id, warning_id, step, self.party_id, time_ms, body).encode())
        response = self.http.post(f"/v1/warnings/{warning_id}/steps", json={
            "step": step, "actor": self.party_id, "actor_kind": self.kind, "time_ms": time_ms, "body": body,
            "signature": b64encode(signature)})
        if response.status_code != 200:
            raise RiskError(response.status_code, _problem(response))
        return response.json()

    def complaint(self, lender_id: str, digest: str, time_ms: int | None = None) -> dict[str, Any]:
        response = self.http.post("/v1/complaints", json={"lender_id": lender_id, "digest": digest, "time_ms": time_ms},
                                  headers={"Authorization": f"Bearer {self.token}"})
        if response.status_code != 201:
            raise RiskError(response.status_code, _problem(response))
        return response.json()
