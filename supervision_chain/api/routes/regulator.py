"""The regulator's routes: the lender registry, timeliness and the dashboard's figures (token required)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from ...oversight import figures
from ...registry import add_lender, list_lenders, set_enabled
from ..deps import ChainDep, RegulatorDep, b64
from ..schemas import ID, LenderIn

router = APIRouter(tags=["regulator"])


@router.post("/v1/admin/lenders", status_code=201, summary="Register a lender")
def admin_add_lender(chain: ChainDep, body: LenderIn, _: RegulatorDep) -> dict[str, Any]:
    return add_lender(chain.store.engine, body.id, body.name, body.licence, b64(body.public_key, "public_key"))


@router.get("/v1/admin/lenders", summary="List lenders")
def admin_list_lenders(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return {"lenders": list_lenders(chain.store.engine)}


@router.post("/v1/admin/lenders/{lender_id}/disable", summary="Disable a lender")
def admin_disable(chain: ChainDep, lender_id: Annotated[str, Path(pattern=ID)], _: RegulatorDep) -> dict[str, Any]:
    chain.forget_lender(lender_id)
    return set_enabled(chain.store.engine, lender_id, False)


@router.post("/v1/admin/lenders/{lender_id}/enable", summary="Enable a lender again")
def admin_enable(chain: ChainDep, lender_id: Annotated[str, Path(pattern=ID)], _: RegulatorDep) -> dict[str, Any]:
    chain.forget_lender(lender_id)
    return set_enabled(chain.store.engine, lender_id, True)


@router.get("/v1/admin/timeliness", summary="Per-lender reporting delay (event → deposit)")
def admin_timeliness(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    return {"lenders": chain.timeliness()}


@router.get("/v1/admin/dashboard", summary="The dashboard's figures: deposits per day, delays, anchoring lag, checkpoints")
def admin_dashboard(chain: ChainDep, _: RegulatorDep, days: Annotated[int, Query(ge=1, le=366)] = 30, blocks: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
    return figures(chain, days=days, blocks=blocks)
