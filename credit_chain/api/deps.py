"""Who is asking: a lender (signed request: reads and bodies), the bureau's operator or the regulator (bearer tokens).

A lender signs ``service_kit.party_auth.read_text`` over the method and target; for a request with a
body the target is ``PATH?body-sha256=HEX``, so the signature covers the body too and a nonce makes
it single-use. One answer for an unknown lender and a bad signature.
"""

from __future__ import annotations

import binascii
import json
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from chain.encoding import b64decode_strict
from service_kit.auth import bearer_token, body_target, signed_headers
from service_kit.problems import InvalidInput

from ..service import CreditChain

__all__ = ["ChainDep", "RegulatorDep", "OperatorDep", "LenderDep", "signed_lender_body", "b64", "body_target"]


def b64(value: Any, what: str) -> bytes:
    try:
        if not isinstance(value, str):
            raise ValueError
        return b64decode_strict(value)
    except (ValueError, binascii.Error):
        raise InvalidInput(f"{what} is not valid base64") from None


async def get_chain(request: Request) -> CreditChain:
    return request.app.state.chain


ChainDep = Annotated[CreditChain, Depends(get_chain)]


def regulator(chain: ChainDep, authorization: Annotated[str | None, Header()] = None) -> None:
    chain.check_regulator(bearer_token(authorization))


def operator(chain: ChainDep, authorization: Annotated[str | None, Header()] = None) -> None:
    chain.check_operator(bearer_token(authorization))


def _check(chain: CreditChain, request: Request, target: str, headers: tuple[str | None, ...]) -> str:
    signed = signed_headers(*headers)
    chain.lenders.check_read_signature(signed.party_id, signed.nonce, signed.timestamp_ms, request.method, target,
                                       b64(signed.signature_b64, "X-Signature"))
    return signed.party_id


def lender(request: Request, chain: ChainDep, x_lender_id: Annotated[str | None, Header()] = None,
           x_timestamp: Annotated[str | None, Header()] = None, x_nonce: Annotated[str | None, Header()] = None,
           x_signature: Annotated[str | None, Header()] = None) -> str:
    """A lender's signed read (GET): its id."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _check(chain, request, target, (x_lender_id, x_timestamp, x_nonce, x_signature))


async def signed_lender_body(request: Request, chain: CreditChain) -> tuple[str, dict[str, Any]]:
    """A lender's signed request with a JSON object body: (lender id, body)."""
    body = await request.body()
    h = request.headers
    lender_id = _check(chain, request, body_target(request.url.path, body),
                       (h.get("x-lender-id"), h.get("x-timestamp"), h.get("x-nonce"), h.get("x-signature")))
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object")
    return lender_id, value


RegulatorDep = Annotated[None, Depends(regulator)]
OperatorDep = Annotated[None, Depends(operator)]
LenderDep = Annotated[str, Depends(lender)]
