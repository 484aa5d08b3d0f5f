"""A witness's state in SQL: the latest checkpoint it cosigned per log, advanced by compare-and-set."""

from __future__ import annotations

import base64
from collections.abc import Iterator

from sqlalchemy import BigInteger, Column, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from chain.witness import Cosigned

__all__ = ["WitnessedCheckpoint", "SQLWitnessState"]


class WitnessedCheckpoint(SQLModel, table=True):
    __tablename__ = "witness_checkpoint"
    origin: str = Field(sa_column=Column(String(256), primary_key=True))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: str = Field(sa_column=Column(String(64), nullable=False))  # base64
    note: str = Field(sa_column=Column(Text, nullable=False))  # the checkpoint with the witness's cosignature


W = WitnessedCheckpoint.__table__  # type: ignore[attr-defined]


def _cosigned(row) -> Cosigned:
    return Cosigned(row.origin, row.size, base64.b64decode(row.root), row.note)


class SQLWitnessState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        W.create(engine, checkfirst=True)

    def latest(self, origin: str) -> Cosigned | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(W).where(W.c.origin == origin)).first()
        return _cosigned(row) if row else None

    def advance(self, previous_size: int, cosigned: Cosigned) -> bool:
        values = {"size": cosigned.size, "root": base64.b64encode(cosigned.root).decode(), "note": cosigned.note}
        with self.engine.begin() as conn:
            done = conn.execute(W.update().where(W.c.origin == cosigned.origin, W.c.size == previous_size).values(**values))
            if done.rowcount == 1:
                return True
            if previous_size != 0:
                return False
        try:  # the first checkpoint of this log
            with self.engine.begin() as conn:
                conn.execute(W.insert().values(origin=cosigned.origin, **values))
            return True
        except IntegrityError:
            return False

    def all(self) -> Iterator[Cosigned]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(W)).all()
        return iter([_cosigned(r) for r in rows])
