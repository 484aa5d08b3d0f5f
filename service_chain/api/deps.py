"""Who is asking: a lender or a funder/buyer (signed requests), the operator, the regulator or the court (bearer tokens).

Lenders sign with ``X-Lender-Id``, funders and buyers with ``X-Party-Id`` (``service_kit.party_auth.read_text`` over
the method and target; for a body the target is ``PATH?body-sha256=HEX``). One answer for an unknown signer and a
bad signature.
"""

from __future__ import annotations

import binascii
import json
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from chain.encoding import b64decode_strict
from service_kit.auth import bearer_token, body_target, signed_headers
from service_kit.problems import InvalidInput, Unauthorized

from ..service import ServiceChain, Viewer

__all__ = ["ChainDep", "RegulatorDep", "OperatorDep", "CourtDep", "SignerDep", "signed_body", "json_object", "b64"]


def b64(value: Any, what: str) -> bytes:
    try:
        if not isinstance(value, str):
            raise ValueError
        return b64decode_strict(value)
    except (ValueError, binascii.Error):
        raise InvalidInput(f"{what} is not valid base64") from None


async def get_chain(request: Request) -> ServiceChain:
    return request.app.state.chain


ChainDep = Annotated[ServiceChain, Depends(get_chain)]


def regulator(chain: ChainDep, authorization: Annotated[str | None, Header()] = None) -> None:
    chain.check_regulator(bearer_token(authorization))


def operator(chain: ChainDep, authorization: Annotated[str | None, Header()] = None) -> None:
    chain.check_operator(bearer_token(authorization))


def court(chain: ChainDep, authorization: Annotated[str | None, Header()] = None) -> None:
    chain.check_court(bearer_token(authorization))


def _viewer(chain: ServiceChain, request: Request, target: str) -> Viewer:
    h = request.headers
    lender, party = h.get("x-lender-id"), h.get("x-party-id")
    if bool(lender) == bool(party):
        raise Unauthorized("sign the request as a lender (X-Lender-Id) or a funder or buyer (X-Party-Id), with X-Timestamp, X-Nonce, X-Signature")
    role, auth = ("lender", chain.lenders) if lender else ("party", chain.parties)
    signed = signed_headers(lender or party, h.get("x-timestamp"), h.get("x-nonce"), h.get("x-signature"),
                            "X-Lender-Id" if lender else "X-Party-Id")
    auth.check_read_signature(signed.party_id, signed.nonce, signed.timestamp_ms, request.method, target, b64(signed.signature_b64, "X-Signature"))
    return Viewer(role, signed.party_id)


def signer(request: Request, chain: ChainDep) -> Viewer:
    """A signed read (GET): who signed."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _viewer(chain, request, target)


async def signed_body(request: Request, chain: ServiceChain) -> tuple[Viewer, bytes]:
    """A signed request with a body: (who signed, the body's bytes)."""
    body = await request.body()
    return _viewer(chain, request, body_target(request.url.path, body)), body


def json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object")
    return value


RegulatorDep = Annotated[None, Depends(regulator)]
OperatorDep = Annotated[None, Depends(operator)]
CourtDep = Annotated[None, Depends(court)]
SignerDep = Annotated[Viewer, Depends(signer)]
