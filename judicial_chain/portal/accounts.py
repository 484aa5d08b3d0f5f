"""Judges' accounts: passwords hashed with scrypt, API tokens stored only as hashes, every
verification written to an append-only log (who, when, which case, what came out).

The password ``judge add`` prints is one-time: it must be changed at the first sign-in and
expires unused after ``ONE_TIME_PASSWORD_TTL_MS``. Checking a password costs one scrypt whether
the judge exists, is disabled or not, so timing does not tell which judge IDs exist.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Integer, LargeBinary, String, Text, select, true
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
ONE_TIME_PASSWORD_TTL_MS = 72 * 3600 * 1000
MIN_PASSWORD = 12
_DUMMY_SALT = secrets.token_bytes(16)


class Judge(SQLModel, table=True):
    __tablename__ = "portal_judge"
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    password_salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    password_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    token_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    must_change_password: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=true()))
    password_issued_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # of a one-time password


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


class PasswordExpired(AccountError):
    """The right one-time password, but too old: an administrator issues a new one."""


@dataclass(frozen=True)
class SignIn:
    judge_id: str
    must_change_password: bool


@dataclass(frozen=True)
class NewJudge:
    id: str
    name: str
    password: str  # shown once
    token: str  # shown once


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)


def _now_ms() -> int:
    return int(time.time() * 1000)


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
            now = _now_ms()
            conn.execute(J.insert().values(id=judge_id, name=name, password_salt=salt, password_hash=_scrypt(password, salt),
                                           token_hash=_token_hash(token), enabled=True, created_ms=now,
                                           must_change_password=True, password_issued_ms=now))
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


def judge_by_password(engine: Engine, judge_id: str, password: str) -> SignIn | None:
    """The judge these credentials sign in, or None; raises PasswordExpired for a stale one-time password."""
    with engine.connect() as conn:
        row = conn.execute(select(J).where(J.c.id == judge_id)).first()
    # one scrypt whatever the account: an unknown or disabled judge costs the time of a real one
    salt, wanted = (row.password_salt, row.password_hash) if row is not None else (_DUMMY_SALT, b"\0" * 32)
    matches = hmac.compare_digest(_scrypt(password, salt), wanted)
    if row is None or not row.enabled or not matches:
        return None
    if row.must_change_password and row.password_issued_ms is not None \
            and _now_ms() - row.password_issued_ms > ONE_TIME_PASSWORD_TTL_MS:
        raise PasswordExpired("the one-time password has expired; ask the administrator for a new one")
    return SignIn(row.id, bool(row.must_change_password))


def account_state(engine: Engine, judge_id: str) -> SignIn | None:
    """Checked on every web request: None once the judge is disabled (or gone), so a session ends at once."""
    with engine.connect() as conn:
        row = conn.execute(select(J.c.id, J.c.enabled, J.c.must_change_password).where(J.c.id == judge_id)).first()
    return SignIn(row.id, bool(row.must_change_password)) if row is not None and row.enabled else None


def change_password(engine: Engine, judge_id: str, current: str, new: str) -> None:
    """Set a judge's own password (the one-time password is no longer valid afterwards)."""
    if len(new) < MIN_PASSWORD:
        raise AccountError(f"the new password needs at least {MIN_PASSWORD} characters")
    if new == current:
        raise AccountError("the new password must differ from the one-time password")
    if judge_by_password(engine, judge_id, current) is None:
        raise AccountError("the current password is wrong")
    salt = secrets.token_bytes(16)
    with engine.begin() as conn:
        conn.execute(J.update().where(J.c.id == judge_id).values(password_salt=salt, password_hash=_scrypt(new, salt),
                                                                 must_change_password=False, password_issued_ms=None))


def reset_password(engine: Engine, judge_id: str) -> str:
    """Issue a new one-time password (for a judge who forgot theirs or let the first one expire); shown once."""
    password, salt = secrets.token_urlsafe(12), secrets.token_bytes(16)
    with engine.begin() as conn:
        changed = conn.execute(J.update().where(J.c.id == judge_id).values(
            password_salt=salt, password_hash=_scrypt(password, salt), must_change_password=True, password_issued_ms=_now_ms()))
        if changed.rowcount != 1:
            raise AccountError(f"no judge {judge_id}")
    return password


def log_verification(engine: Engine, judge_id: str, case_id: str, items: int, counts: dict[str, int]) -> None:
    with engine.begin() as conn:
        conn.execute(LOG.insert().values(judge_id=judge_id, case_id=case_id, at_ms=_now_ms(), items=items,
                                         counts=json.dumps(counts, sort_keys=True)))


def verification_log(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(LOG).order_by(LOG.c.id))]
