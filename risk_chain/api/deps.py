"""The routes' dependencies: the chain, and who is asking — the regulator (bearer token) or a lender (signed read)."""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from chain.encoding import b64decode_strict
from service_kit.auth import bearer_token, signed_headers
from service_kit.problems import InvalidInput

from ..service import RiskChain

__all__ = ["ChainDep", "RegulatorDep", "ViewerDep", "Viewer", "b64"]


def b64(value: str, what: str) -> bytes:
    try:
        return b64decode_strict(value)
    except (ValueError, binascii.Error):
        raise InvalidInput(f"{what} is not valid base64") from None


async def get_chain(request: Request) -> RiskChain:
    return request.app.state.chain


ChainDep = Annotated[RiskChain, Depends(get_chain)]


def regulator(chain: ChainDep, authorization: Annotated[str | None, Header()] = None) -> None:
    chain.check_regulator(bearer_token(authorization))


@dataclass(frozen=True)
class Viewer:
    """Who reads: the regulator sees every warning, a lender only its own (``lender_id``)."""

    lender_id: str | None


def viewer(request: Request, chain: ChainDep, authorization: Annotated[str | None, Header()] = None,
           x_lender_id: Annotated[str | None, Header()] = None, x_timestamp: Annotated[str | None, Header()] = None,
           x_nonce: Annotated[str | None, Header()] = None, x_signature: Annotated[str | None, Header()] = None) -> Viewer:
    if authorization is not None or x_lender_id is None:
        chain.check_regulator(bearer_token(authorization))
        return Viewer(None)
    signed = signed_headers(x_lender_id, x_timestamp, x_nonce, x_signature)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    chain.lenders.check_read_signature(signed.party_id, signed.nonce, signed.timestamp_ms, request.method, target,
                                       b64(signed.signature_b64, "X-Signature"))
    return Viewer(signed.party_id)


RegulatorDep = Annotated[None, Depends(regulator)]
ViewerDep = Annotated[Viewer, Depends(viewer)]
