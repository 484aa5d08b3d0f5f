"""Public reads for auditors, witnesses and mirrors: the service kit's ledger routes over this chain's ledger."""

from __future__ import annotations

from fastapi import Request

from chain.ledger import Ledger
from service_kit.ledger_routes import ledger_router


async def _ledger(request: Request) -> Ledger:
    return request.app.state.chain.ledger


router = ledger_router(_ledger)
