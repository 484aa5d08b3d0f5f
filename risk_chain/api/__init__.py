"""The risk chain's HTTP API (FastAPI): public ledger reads, warnings and their closed loop, figures,
and the regulator's and lenders' pages. Errors are RFC 9457 problem+json with a 4xx status."""

from __future__ import annotations

from fastapi import FastAPI, Request

from chain.ledger import Ledger
from service_kit.body_limit import BodyLimit
from service_kit.ledger_routes import ledger_router
from service_kit.lifespan import chain_lifespan
from service_kit.observability import add_operations
from service_kit.problems import install_problem_handlers

from ..metrics import RiskMetrics
from ..service import RiskChain
from . import routes

__all__ = ["create_app", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 1024 * 1024


async def _ledger(request: Request) -> Ledger:
    return request.app.state.chain.ledger


def create_app(chain: RiskChain, *, manage_lifecycle: bool = True) -> FastAPI:
    lifespan = chain_lifespan(chain, manage_lifecycle)
    app = FastAPI(title="Five Chains — risk-control chain (风控链)", version="1.0", lifespan=lifespan,
                  description="Early warnings over the supervision chain's reports, each recomputable: the model's hash, the data "
                              "position and the ledger entries behind every figure. Warnings are handled in a closed loop "
                              "(监测预警 → 处置反馈 → 持续监测); every step is a signed entry. Errors are RFC 9457 problem+json.")
    app.state.chain = chain
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    install_problem_handlers(app)
    app.include_router(ledger_router(_ledger))
    app.include_router(routes.router)
    try:
        from ..pages import add_pages
    except ImportError:  # pragma: no cover - the pages module is optional while it is written
        pass
    else:
        add_pages(app, chain)
    add_operations(app, chain.store.engine, RiskMetrics(chain))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
