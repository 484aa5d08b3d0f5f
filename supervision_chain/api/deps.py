"""The routes' dependencies, as ``Annotated`` aliases: the chain, the regulator's token, a lender's signed read."""

from __future__ import annotations

import binascii
from typing import Annotated

from fastapi import Depends, Header, Request

from chain.encoding import b64decode_strict
from service_kit.auth import bearer_token, signed_headers

from ..errors import InvalidInput
from ..service import SupervisionChain

__all__ = ["ChainDep", "RegulatorDep", "LenderDep", "b64"]


def b64(value: str, what: str) -> bytes:
    try:
        return b64decode_strict(value)
    except (ValueError, binascii.Error):
        raise InvalidInput(f"{what} is not valid base64") from None


async def get_chain(request: Request) -> SupervisionChain:  # async: no worker thread just to read app state
    return request.app.state.chain


ChainDep = Annotated[SupervisionChain, Depends(get_chain)]


def regulator(chain: ChainDep, authorization: Annotated[str | None, Header()] = None) -> None:
    chain.check_regulator(bearer_token(authorization))


def lender(
    request: Request,
    chain: ChainDep,
    x_lender_id: Annotated[str | None, Header()] = None,
    x_timestamp: Annotated[str | None, Header()] = None,
    x_nonce: Annotated[str | None, Header()] = None,
    x_signature: Annotated[str | None, Header()] = None,
) -> str:
    """The lender whose signed read this is (checked: chain, time window, signature, fresh nonce)."""
    signed = signed_headers(x_lender_id, x_timestamp, x_nonce, x_signature)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    chain.check_read_signature(signed.party_id, signed.nonce, signed.timestamp_ms, request.method, target,
                               b64(signed.signature_b64, "X-Signature"))
    return signed.party_id


RegulatorDep = Annotated[None, Depends(regulator)]
LenderDep = Annotated[str, Depends(lender)]
