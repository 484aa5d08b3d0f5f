"""The credit chain's HTTP API (FastAPI): public ledger reads, the bureau's key and rules, lenders' evaluations and
checks, disputes, the borrower's report and the regulator's figures. Errors are RFC 9457 problem+json with a 4xx status."""

from __future__ import annotations

from fastapi import FastAPI, Request

from chain.ledger import Ledger
from service_kit.body_limit import BodyLimit
from service_kit.ledger_routes import ledger_router
from service_kit.lifespan import chain_lifespan
from service_kit.problems import install_problem_handlers

from ..pages import add_pages
from ..service import CreditChain
from . import routes

__all__ = ["create_app", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 1024 * 1024


async def _ledger(request: Request) -> Ledger:
    return request.app.state.chain.ledger


def create_app(chain: CreditChain, *, manage_lifecycle: bool = True) -> FastAPI:
    app = FastAPI(title="Five Chains — credit chain (征信链)", version="1.0", lifespan=chain_lifespan(chain, manage_lifecycle),
                  description="Multi-head borrowing checks on private pseudonyms (RFC 9497 OPRF), only with the borrower's anchored "
                              "consent; every query, loan event and dispute is an entry the borrower sees in their own report. "
                              "Public entries reveal neither pseudonyms, lenders nor amounts. Errors are RFC 9457 problem+json.")
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
