"""The service chain's HTTP API (FastAPI): public ledger reads, pools and their certificates, registrations,
the operator's parties, the court's claim holders and the regulator's figures. Errors are RFC 9457 problem+json."""

from __future__ import annotations

from fastapi import FastAPI, Request

from chain.ledger import Ledger
from service_kit.body_limit import BodyLimit
from service_kit.ledger_routes import ledger_router
from service_kit.lifespan import chain_lifespan
from service_kit.problems import install_problem_handlers

from ..pages import add_pages
from ..service import ServiceChain
from . import routes

__all__ = ["create_app", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 32 * 1024 * 1024  # a chunk of 5,000 loans with their records; each route bounds what it reads


async def _ledger(request: Request) -> Ledger:
    return request.app.state.chain.ledger


def create_app(chain: ServiceChain, *, manage_lifecycle: bool = True) -> FastAPI:
    app = FastAPI(title="Five Chains — service chain (服务链)", version="1.0", lifespan=chain_lifespan(chain, manage_lifecycle),
                  description="Asset-pool authenticity: a lender's pool of loans checked against its real-time deposits and certified "
                              "(a signed note over the pool's Merkle root, per-loan offline proofs); an encumbrance registry that refuses "
                              "a second pledge or sale of the same loan; the chain of title the court sees. Public entries reveal neither "
                              "parties, loans nor amounts. Errors are RFC 9457 problem+json.")
    app.state.chain = chain
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    install_problem_handlers(app)
    app.include_router(ledger_router(_ledger))
    app.include_router(routes.router)
    add_pages(app, chain)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
