"""The lender registry, kept by the regulator: who may deposit, under which public key."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from chain.encoding import b64encode

from .errors import Conflict, InvalidInput, NotFound
from .models import Lender
from .records import valid_id

L = Lender.__table__  # type: ignore[attr-defined]


def lender_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "licence": row.licence,
        "public_key": b64encode(row.public_key),
        "enabled": bool(row.enabled),
        "created_ms": row.created_ms,
    }


def add_lender(engine: Engine, lender_id: str, name: str, licence: str, public_key: bytes) -> dict[str, Any]:
    if not valid_id(lender_id):
        raise InvalidInput("a lender id is 1–64 letters, digits or . _ : / - (no spaces)")
    if not name.strip() or not licence.strip():
        raise InvalidInput("a lender needs a name and a licence number")
    if len(public_key) != 32:
        raise InvalidInput("a lender's public key is a 32-byte Ed25519 key")
    row = {"id": lender_id, "name": name.strip(), "licence": licence.strip(), "public_key": public_key,
           "enabled": True, "created_ms": int(time.time() * 1000)}
    try:
        with engine.begin() as conn:
            conn.execute(L.insert(), row)
    except IntegrityError:
        raise Conflict(f"lender {lender_id} is already registered") from None
    return lender_view(type("Row", (), row))


def list_lenders(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [lender_view(r) for r in conn.execute(select(L).order_by(L.c.id))]


def get_lender(engine: Engine, lender_id: str) -> Any | None:
    with engine.connect() as conn:
        return conn.execute(select(L).where(L.c.id == lender_id)).first()


def set_enabled(engine: Engine, lender_id: str, enabled: bool) -> dict[str, Any]:
    with engine.begin() as conn:
        if conn.execute(L.update().where(L.c.id == lender_id).values(enabled=enabled)).rowcount != 1:
            raise NotFound(f"no lender {lender_id}")
        return lender_view(conn.execute(select(L).where(L.c.id == lender_id)).one())
