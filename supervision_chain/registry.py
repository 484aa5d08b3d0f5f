"""The lender registry, kept by the regulator: who may deposit, under which public key.

A key is stored in its raw form, which names its type by its length: Ed25519's 32 bytes or SM2's
65 bytes 0x04 ‖ x ‖ y; a lender signs with whichever it registered."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from chain.encoding import b64encode
from chain.errors import KeyFileError
from chain.keys import public_key_from_bytes

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
        "key_type": lender_key_type(row.public_key),
        "enabled": bool(row.enabled),
        "created_ms": row.created_ms,
    }


def lender_key_type(raw: bytes) -> str:
    """"ed25519" or "sm2", from the stored raw key's length."""
    return "sm2" if len(raw) == 65 else "ed25519"


def add_lender(engine: Engine, lender_id: str, name: str, licence: str, public_key: bytes) -> dict[str, Any]:
    if not valid_id(lender_id):
        raise InvalidInput("a lender id is 1–64 letters, digits or . _ : / - (no spaces)")
    if not name.strip() or not licence.strip():
        raise InvalidInput("a lender needs a name and a licence number")
    try:
        public_key_from_bytes(public_key)  # its length names its type; an SM2 point must be on the curve
    except KeyFileError:
        raise InvalidInput("a lender's public key is Ed25519's 32 bytes or SM2's 65 bytes 0x04 ‖ x ‖ y (on the curve)") from None
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
