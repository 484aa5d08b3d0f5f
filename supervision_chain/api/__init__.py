"""The deposit API (FastAPI, under /v1): thin — parse, authorise, call the chain, map errors.

Routes live in ``routes/`` by audience (lenders' deposits, auditors' public reads, the regulator),
their dependencies in ``deps.py`` and request bodies in ``schemas.py``. Every error is an RFC 9457
problem+json with a 4xx status; bodies over the size limit are refused before they are read.
"""

from __future__ import annotations

from fastapi import FastAPI

from service_kit.body_limit import BodyLimit
from service_kit.fast_lane import FastLane
from service_kit.lifespan import chain_lifespan
from service_kit.observability import add_operations
from service_kit.problems import install_problem_handlers

from ..dashboard import add_dashboard
from ..metrics import SupervisionMetrics
from ..service import SupervisionChain
from .openapi_examples import SIGNING_SCHEME, install_examples
from .routes import audit, deposits, feed, regulator
from .schemas import DepositItemIn, DepositRequestIn, LenderIn

__all__ = ["create_app", "MAX_BODY_BYTES", "DepositItemIn", "DepositRequestIn", "LenderIn"]

MAX_BODY_BYTES = 8 * 1024 * 1024


def create_app(chain: SupervisionChain, *, manage_lifecycle: bool = True) -> FastAPI:
    lifespan = chain_lifespan(chain, manage_lifecycle)
    app = FastAPI(
        title="Five Chains — supervision chain (监管链)",
        version="1.0",
        description="Lenders deposit digests of loan records; auditors read the chain. Errors are RFC 9457 problem+json. "
        + SIGNING_SCHEME,
        lifespan=lifespan,
    )
    app.state.chain = chain
    install_examples(app)  # real signed requests from docs/vectors as the document's examples
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    # signed deposits the fast decoder takes are answered before routing; the rest (and refusals) by the routes below
    app.add_middleware(FastLane, method="POST", path="/v1/deposits", handle=deposits.deposit_lane(chain), max_body=MAX_BODY_BYTES)
    install_problem_handlers(app)
    for router in (deposits.router, audit.router, regulator.router, feed.router):
        app.include_router(router)
    add_dashboard(app, chain)  # the same figures as a web page under /regulator
    add_operations(app, chain.store.engine, SupervisionMetrics(chain))  # /metrics, /livez, /readyz, request ids

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
