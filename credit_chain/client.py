"""The credit chain's SDK: a lender computes pseudonyms (the OPRF, blinded: the bureau never sees an identifier)
and runs consent-bound checks; the bureau's operator fetches a borrower's report; the regulator reads figures."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from chain.encoding import b64decode_strict, b64encode
from chain.keys import PrivateKey
from evidence import oprf
from evidence.borrower_ids import BorrowerId, oprf_input, parse_borrower_id, pseudonym
from service_kit.party_auth import read_text

from .api.deps import body_target
from .documents import OpeningError, check_opening

__all__ = ["CreditClient", "CreditError", "BATCH"]

BATCH = 1000  # identifiers per evaluation request


class CreditError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _problem(response: httpx.Response) -> str:
    try:
        return response.json().get("detail") or response.text
    except ValueError:
        return response.text


class CreditClient:
    """A lender (``lender_id`` and ``key``), or the operator or regulator (``token``)."""

    def __init__(self, url: str, *, lender_id: str | None = None, key: PrivateKey | None = None, token: str | None = None,
                 public_key: bytes | None = None, timeout: float = 60) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self.lender_id, self.key, self.token = lender_id, key, token
        self._public_key = public_key  # the bureau's OPRF key, if pinned (else read from the chain's committed entry)
        self._chain_id: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CreditClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = self.http.get("/v1/chain").raise_for_status().json()["chain_id"]
        return self._chain_id

    def _signed(self, method: str, target: str) -> dict[str, str]:
        if self.key is None or not self.lender_id:
            raise ValueError("a lender's id and key are needed")
        now, nonce = int(time.time() * 1000), uuid.uuid4().hex
        signature = self.key.sign(read_text(self.chain_id, self.lender_id, nonce, now, method, target).encode())
        return {"X-Lender-Id": self.lender_id, "X-Timestamp": str(now), "X-Nonce": nonce, "X-Signature": b64encode(signature)}

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> Any:
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = self.http.build_request(method, path, content=content, params=params,
                                          headers={"Content-Type": "application/json"} if content is not None else None)
        if self.token is not None:
            request.headers["Authorization"] = f"Bearer {self.token}"
        elif self.key is not None:
            target = body_target(path, content) if content is not None else request.url.raw_path.decode()
            request.headers.update(self._signed(method, target))
        response = self.http.send(request)
        if response.status_code != 200:
            raise CreditError(response.status_code, _problem(response))
        return response.json()

    # --- pseudonyms ---------------------------------------------------------------------------

    def public_key(self) -> bytes:
        """The bureau's OPRF key: pinned, or the one its ``oprfkey`` entry on the chain commits to (the served document must
        open that entry and name the served key; else CreditError)."""
        if self._public_key is None:
            served = self._send("GET", "/v1/oprf/key")
            index = int(served["index"])
            entries = self._send("GET", "/v1/entries", params={"start": index, "end": index + 1})["entries"]
            if not entries:
                raise CreditError(503, "the bureau's key entry is not sealed yet; try again in a moment")
            try:
                body = check_opening(entries[0]["data"].encode(), served["document"])
            except (OpeningError, ValueError, IndexError, KeyError) as exc:
                raise CreditError(502, f"the bureau's OPRF key is not the one its chain committed to ({exc})") from None
            if body.get("kind") != "oprfkey" or body.get("public_key") != served["public_key"]:
                raise CreditError(502, "the bureau's OPRF key is not the one its chain committed to")
            self._public_key = bytes.fromhex(served["public_key"])
        return self._public_key

    def pseudonyms(self, identifiers: Sequence[str | BorrowerId], progress: Callable[[int], None] | None = None) -> list[str]:
        """Pseudonyms of resident ID numbers or unified social credit codes (check characters verified first, a
        BorrowerIdError otherwise): blinded here, evaluated by the bureau, its proof checked against its published key."""
        ids = [i if isinstance(i, BorrowerId) else parse_borrower_id(i) for i in identifiers]
        out: list[str] = []
        key = self.public_key()
        for n in range(0, len(ids), BATCH):
            inputs = [oprf_input(i) for i in ids[n:n + BATCH]]
            blinded = [oprf.blind(x, oprf.MODE_VOPRF) for x in inputs]
            answer = self._send("POST", "/v1/oprf/evaluate", {"blinded": [b64encode(b) for _, b in blinded]})
            evaluated = [b64decode_strict(e) for e in answer["evaluated"]]
            outputs = oprf.finalize(inputs, [r for r, _ in blinded], [b for _, b in blinded], evaluated, mode=oprf.MODE_VOPRF,
                                    public_key=key, proof=b64decode_strict(answer["proof"]))
            out += [pseudonym(o) for o in outputs]
            if progress:
                progress(len(out))
        return out

    # --- checks and disputes ------------------------------------------------------------------

    def check(self, borrower: str, consent_code: str, purpose: str) -> dict[str, Any]:
        return self._send("POST", "/v1/checks/multihead", {"borrower": borrower, "consent_code": consent_code, "purpose": purpose})

    def disputes(self) -> list[dict[str, Any]]:
        return self._send("GET", "/v1/disputes")["disputes"]

    def answer(self, dispute_id: str, outcome: str, reasons: str) -> dict[str, Any]:
        return self._send("POST", f"/v1/disputes/{dispute_id}/answer", {"outcome": outcome, "reasons": reasons})

    # --- the operator and the regulator -------------------------------------------------------

    def report(self, borrower: str) -> dict[str, Any]:
        return self._send("GET", f"/v1/borrowers/{borrower}/report")

    def open_dispute(self, borrower: str, target: str, lender_id: str, ref: str, reason: str) -> dict[str, Any]:
        return self._send("POST", "/v1/disputes", {"borrower": borrower, "target": target, "lender_id": lender_id, "ref": ref, "reason": reason})

    def evaluations(self) -> list[dict[str, Any]]:
        return self._send("GET", "/v1/regulator/evaluations")["lenders"]

    def multihead_shares(self) -> dict[str, Any]:
        return self._send("GET", "/v1/regulator/multihead-shares")

    def all_disputes(self) -> list[dict[str, Any]]:
        return self._send("GET", "/v1/regulator/disputes")["disputes"]
