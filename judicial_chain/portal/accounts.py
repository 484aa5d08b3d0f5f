"""Judges' accounts: passwords hashed with scrypt, API tokens stored only as hashes, every
verification written to an append-only log (who, when, which case, what came out)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Integer, LargeBinary, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class Judge(SQLModel, table=True):
    __tablename__ = "portal_judge"
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    password_salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    password_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    token_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class VerificationLog(SQLModel, table=True):
    """Append-only: rows are only ever inserted."""

    __tablename__ = "portal_verification_log"
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    judge_id: str = Field(sa_column=Column(String(64), nullable=False))
    case_id: str = Field(sa_column=Column(String(128), nullable=False))
    at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    items: int = Field(sa_column=Column(Integer, nullable=False))
    counts: str = Field(sa_column=Column(Text, nullable=False))


PORTAL_TABLES = [Judge.__table__, VerificationLog.__table__]  # type: ignore[attr-defined]
J = Judge.__table__  # type: ignore[attr-defined]
LOG = VerificationLog.__table__  # type: ignore[attr-defined]


class AccountError(Exception):
    pass


@dataclass(frozen=True)
class NewJudge:
    id: str
    name: str
    password: str  # shown once
    token: str  # shown once


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()  # tokens carry 256 random bits: a fast hash is enough


def create_tables(engine: Engine) -> None:
    for table in PORTAL_TABLES:
        table.create(engine, checkfirst=True)


def add_judge(engine: Engine, judge_id: str, name: str) -> NewJudge:
    password, token = secrets.token_urlsafe(12), "fcj_" + secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    try:
        with engine.begin() as conn:
            conn.execute(J.insert().values(id=judge_id, name=name, password_salt=salt, password_hash=_scrypt(password, salt),
                                           token_hash=_token_hash(token), enabled=True, created_ms=int(time.time() * 1000)))
    except IntegrityError:
        raise AccountError(f"judge {judge_id} already exists") from None
    return NewJudge(judge_id, name, password, token)


def list_judges(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [{"id": r.id, "name": r.name, "enabled": bool(r.enabled), "created_ms": r.created_ms}
                for r in conn.execute(select(J.c.id, J.c.name, J.c.enabled, J.c.created_ms).order_by(J.c.id))]


def disable_judge(engine: Engine, judge_id: str) -> None:
    with engine.begin() as conn:
        if conn.execute(J.update().where(J.c.id == judge_id).values(enabled=False)).rowcount != 1:
            raise AccountError(f"no judge {judge_id}")


def judge_by_token(engine: Engine, token: str | None) -> str | None:
    if not token:
        return None
    wanted = _token_hash(token)
    with engine.connect() as conn:
        row = conn.execute(select(J.c.id, J.c.token_hash, J.c.enabled).where(J.c.token_hash == wanted)).first()
    if row is None or not row.enabled or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return row.id


def judge_by_password(engine: Engine, judge_id: str, password: str) -> str | None:
    with engine.connect() as conn:
        row = conn.execute(select(J).where(J.c.id == judge_id)).first()
    if row is None:
        _scrypt(password, b"\0" * 16)  # same work whether or not the judge exists
        return None
    if not row.enabled or not hmac.compare_digest(_scrypt(password, row.password_salt), row.password_hash):
        return None
    return row.id


def log_verification(engine: Engine, judge_id: str, case_id: str, items: int, counts: dict[str, int]) -> None:
    with engine.begin() as conn:
        conn.execute(LOG.insert().values(judge_id=judge_id, case_id=case_id, at_ms=int(time.time() * 1000), items=items,
                                         counts=json.dumps(counts, sort_keys=True)))


def verification_log(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(LOG).order_by(LOG.c.id))]
