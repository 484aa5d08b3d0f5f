"""The service chain's SDK: a lender sends a pool (its loans' records with their deposit codes), certifies it and proposes
a registration; the funder or buyer reads pools offered to it, accepts (signs the terms) or releases; the operator
registers parties; the court asks who holds a claim; the regulator reads figures. Certificates are checked offline."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from chain.encoding import b64encode
from chain.keys import PrivateKey
from chain.note import parse_note
from evidence.canonical_json import canonical_json
from service_kit.auth import body_target
from service_kit.party_auth import read_text

from .certificate import parse_certificate, verify_certificate, verify_proof
from .config import MAX_CHUNK_LOANS
from .registry import registration_terms, release_text, terms_text

__all__ = ["ServiceClient", "ServiceError", "pool_loan", "record_entry"]


class ServiceError(Exception):
    def __init__(self, status: int, detail: str, slug: str | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.slug = status, detail, slug


def record_entry(record: dict[str, Any] | bytes, deposit_code: str, salt: str | None = None) -> dict[str, Any]:
    """One record of a pool loan: a JSON record goes as its RFC 8785 text (hashed as is), a file as base64."""
    entry: dict[str, Any] = {"deposit_code": deposit_code}
    if isinstance(record, bytes):
        import base64

        entry["content_b64"] = base64.b64encode(record).decode()
    else:
        entry["canonical"] = canonical_json(record).decode()
    if salt:
        entry["salt"] = salt
    return entry


def pool_loan(loan_id: str, claimed_outstanding_fen: int, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"loan_id": loan_id, "claimed_outstanding_fen": claimed_outstanding_fen, "records": list(records)}


class ServiceClient:
    """A lender (``lender_id``), a funder or buyer (``party_id``), both with ``key``; or a bearer ``token`` (operator, regulator, court)."""

    def __init__(self, url: str, *, lender_id: str | None = None, party_id: str | None = None, key: PrivateKey | None = None,
                 token: str | None = None, timeout: float = 120) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self.lender_id, self.party_id, self.key, self.token = lender_id, party_id, key, token
        self._chain_id: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = self.http.get("/v1/chain").raise_for_status().json()["chain_id"]
        return self._chain_id

    def _headers(self, method: str, target: str) -> dict[str, str]:
        signer = self.lender_id or self.party_id
        if self.key is None or not signer:
            raise ValueError("a lender's or party's id and key are needed")
        now, nonce = int(time.time() * 1000), uuid.uuid4().hex
        signature = self.key.sign(read_text(self.chain_id, signer, nonce, now, method, target).encode())
        return {"X-Lender-Id" if self.lender_id else "X-Party-Id": signer, "X-Timestamp": str(now), "X-Nonce": nonce,
                "X-Signature": b64encode(signature)}

    def _send(self, method: str, path: str, body: Any = None, params: Any = None, content: bytes | None = None) -> Any:
        if content is None and body is not None:
            content = json.dumps(body, ensure_ascii=False).encode()
        request = self.http.build_request(method, path, content=content, params=params,
                                          headers={"Content-Type": "application/json"} if content is not None else None)
        if self.token is not None:
            request.headers["Authorization"] = f"Bearer {self.token}"
        elif self.key is not None:
            target = body_target(path, content) if content is not None else request.url.raw_path.decode()
            request.headers.update(self._headers(method, target))
        response = self.http.send(request)
        if response.status_code != 200:
            try:
                problem = response.json()
                raise ServiceError(response.status_code, problem.get("detail") or response.text, problem.get("type", "").rsplit("/", 1)[-1])
            except ValueError:
                raise ServiceError(response.status_code, response.text) from None
        return response.json()

    def _sign(self, text: str) -> str:
        assert self.key is not None
        return b64encode(self.key.sign(text.encode()))

    # --- lenders ------------------------------------------------------------------------------

    def new_pool(self, purpose: str, offered_to: str) -> str:
        return self._send("POST", "/v1/pools", {"purpose": purpose, "offered_to": offered_to})["pool_id"]

    def add_loans(self, pool_id: str, loans: Sequence[dict[str, Any]], progress: Callable[[int], None] | None = None,
                  chunk: int = MAX_CHUNK_LOANS, in_flight: int = 2) -> list[dict[str, Any]]:
        """Send the pool's loans in requests of ``chunk``, up to ``in_flight`` at once (the chain checks big chunks in
        worker processes, one per core; the next body is built while one is checked); every loan's verdict, in the
        order given. The first refused chunk raises once those before it are answered; no chunk is sent after it,
        and chunks already sent stand (the pool's summary says what it holds)."""
        path = f"/v1/pools/{pool_id}/loans"
        starts = range(0, len(loans), chunk)
        held = self.pool(pool_id)["loans"] if in_flight > 1 and len(starts) > 1 else None

        def send(n: int) -> list[dict[str, Any]]:
            body: dict[str, Any] = {"loans": list(loans[n:n + chunk])}
            if held is not None:
                body["position"] = held + n
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            return self._send("POST", path, content=content)["loans"]

        out: list[dict[str, Any]] = []
        if in_flight <= 1 or len(starts) <= 1:
            for n in starts:
                out += send(n)
                if progress:
                    progress(len(out))
            return out
        with ThreadPoolExecutor(in_flight, thread_name_prefix="pool-upload") as senders:
            pending: deque[Future[list[dict[str, Any]]]] = deque()
            queued = iter(starts)
            for n in itertools.islice(queued, in_flight):
                pending.append(senders.submit(send, n))
            while pending:
                try:
                    out += pending.popleft().result()
                except BaseException:
                    for later in pending:
                        later.cancel()
                    raise
                if progress:
                    progress(len(out))
                for n in itertools.islice(queued, 1):
                    pending.append(senders.submit(send, n))
        return out

    def certify(self, pool_id: str) -> dict[str, Any]:
        return self._send("POST", f"/v1/pools/{pool_id}/certificate", {})

    def pool(self, pool_id: str) -> dict[str, Any]:
        return self._send("GET", f"/v1/pools/{pool_id}")

    def pools(self) -> list[dict[str, Any]]:
        return self._send("GET", "/v1/pools")["pools"]

    def proofs(self, pool_id: str, loan_ids: Sequence[str] | None = None, start: int = 0, limit: int = 1000) -> dict[str, Any]:
        params: dict[str, Any] = {"loan_id": list(loan_ids)} if loan_ids is not None else {"start": start, "limit": limit}
        return self._send("GET", f"/v1/pools/{pool_id}/proofs", params=params)

    def terms(self, pool: dict[str, Any], registration_id: str, amount_fen: int, term_months: int) -> str:
        """The registration's terms as the chain builds them from the certified pool: what both parties sign."""
        root = b64encode(parse_certificate(parse_note(pool["certificate"]).text).root)
        return registration_terms(self.chain_id, registration_id, pool["purpose"], pool["pool_id"], root, pool["certificate"],
                                  pool["lender_id"], pool["offered_to"], pool["eligible"], pool["outstanding_fen"], amount_fen, term_months)

    def propose(self, pool_id: str, amount_fen: int, term_months: int, registration_id: str | None = None) -> dict[str, Any]:
        registration_id = registration_id or f"R-{uuid.uuid4().hex[:20]}"
        terms = self.terms(self.pool(pool_id), registration_id, amount_fen, term_months)
        return self._send("POST", "/v1/registrations", {"registration_id": registration_id, "pool_id": pool_id, "amount_fen": amount_fen,
                                                        "term_months": term_months, "lender_signature": self._sign(terms_text(terms))})

    def registrations(self) -> list[dict[str, Any]]:
        return self._send("GET", "/v1/registrations")["registrations"]

    # --- funders and buyers -------------------------------------------------------------------

    def accept(self, registration: dict[str, Any]) -> dict[str, Any]:
        """Sign the terms the registration shows (read them first: they name the pool's root, count and amount)."""
        return self._send("POST", f"/v1/registrations/{registration['registration_id']}/accept",
                          {"signature": self._sign(terms_text(registration["terms"]))})

    def release(self, registration_id: str) -> dict[str, Any]:
        return self._send("POST", f"/v1/registrations/{registration_id}/release",
                          {"signature": self._sign(release_text(self.chain_id, registration_id))})

    # --- operator, court, regulator -----------------------------------------------------------

    def add_party(self, party_id: str, name: str, kind: str, public_key: bytes) -> dict[str, Any]:
        return self._send("POST", "/v1/admin/parties", {"id": party_id, "name": name, "kind": kind, "public_key": b64encode(public_key)})

    def set_party_enabled(self, party_id: str, enabled: bool) -> dict[str, Any]:
        return self._send("POST", f"/v1/admin/parties/{party_id}/{'enable' if enabled else 'disable'}")

    def parties(self) -> list[dict[str, Any]]:
        return self._send("GET", "/v1/admin/parties")["parties"]

    def holders(self, supervision_indexes: Sequence[int]) -> list[dict[str, Any]]:
        return self._send("POST", "/v1/court/holders", {"supervision_indexes": list(supervision_indexes)})["holders"]

    def overview(self) -> dict[str, Any]:
        return self._send("GET", "/v1/regulator/overview")

    def status(self) -> dict[str, Any]:
        return self._send("GET", "/v1/status")

    def vkey(self) -> str:
        return self._send("GET", "/v1/key")["vkey"]

    @staticmethod
    def verify(certificate: str, vkey: str, proofs: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        """Check a certificate and loans' proofs offline (CertificateError on the first that fails); the loans' leaves."""
        checked, _ = verify_certificate(certificate, vkey)
        return [verify_proof(checked, p) for p in proofs]

