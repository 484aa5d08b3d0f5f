"""Copy a chain's database, table by table, from an SQLite file into a new database (PostgreSQL by COPY).

The target's schema is made beforehand by the chain's own opener (migrations, ledger metadata); this
copies the rows. Every table is read from one SQLite snapshot (the caller's read transaction) and
written in one target transaction: all or nothing. Tables the opener itself writes (the ledger's
metadata, the schema revision) are never copied; the schema revisions must match.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import Boolean, MetaData, inspect, text
from sqlalchemy.engine import Engine

from .store import insert_rows

__all__ = ["BATCH", "TableCopyError", "copied_by_opener", "tables_with_rows", "copy_tables"]

BATCH = 10_000
Progress = Callable[[int, int], None]


class TableCopyError(ValueError):
    """The copy cannot go on (a schema that differs, a table the target lacks); the message says why, for people."""


def copied_by_opener(table: str) -> bool:
    """Tables the chain's opener writes in the target itself (ledger metadata, schema revision): never copied."""
    return table == "ledger_meta" or table.startswith("alembic_version")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tables_with_rows(engine: Engine, source_meta: dict[str, str]) -> list[str]:
    """Tables of the target that hold rows (its ledger_meta counts only if it differs from the source's)."""
    busy = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table.startswith("alembic_version"):
                continue
            if table == "ledger_meta":
                meta = dict(conn.execute(text("SELECT key, value FROM ledger_meta")).all())  # type: ignore[arg-type]
                if meta and meta != source_meta:
                    busy.append(f"ledger_meta (chain {meta.get('chain_id')})")
                continue
            if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {_quoted(table)})")).scalar():
                busy.append(table)
    return busy


def _same_revision(src: sqlite3.Connection, engine: Engine, version_tables: list[str]) -> None:
    """The SQLite database must be at the schema revision the target was just created at."""
    with engine.connect() as conn:
        for table in [t for t in inspect(conn).get_table_names() if t.startswith("alembic_version")]:
            want = conn.execute(text(f"SELECT version_num FROM {_quoted(table)}")).scalars().all()
            have = [r[0] for r in src.execute(f"SELECT version_num FROM {_quoted(table)}")] if table in version_tables else []
            if sorted(have) != sorted(want):
                raise TableCopyError(f"the SQLite database is at schema revision {', '.join(have) or 'none'}, the target at {', '.join(want)}: "
                                     "start the service once on SQLite, or run `fivechains db upgrade`, then try again")


def _check_columns(src: sqlite3.Connection, target: MetaData, names: list[str]) -> dict[str, list[str]]:
    missing = [n for n in names if n not in target.tables]
    if missing:
        raise TableCopyError(f"the target has no table {', '.join(missing)}: is it the same fivechains version?")
    columns = {n: [r[1] for r in src.execute(f"PRAGMA table_info({_quoted(n)})")] for n in names}
    for name, cols in columns.items():
        extra = [c for c in cols if c not in target.tables[name].columns]
        if extra:
            raise TableCopyError(f"table {name} has columns {', '.join(extra)} the target lacks: is it the same fivechains version?")
    return columns


def copy_tables(src: sqlite3.Connection, engine: Engine, progress: Progress | None = None) -> dict[str, int]:
    """Every table of the SQLite snapshot into the target, in primary-key order, in batches, in one transaction;
    then move the target's sequences past the copied ids. Returns the rows copied per table."""
    target = MetaData()
    target.reflect(engine)
    names = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    _same_revision(src, engine, [n for n in names if n.startswith("alembic_version")])
    names = [n for n in names if not copied_by_opener(n)]
    source_columns = _check_columns(src, target, names)
    total = sum(src.execute(f"SELECT count(*) FROM {_quoted(n)}").fetchone()[0] for n in names)
    copied: dict[str, int] = {}
    done = 0
    with engine.begin() as conn:
        for name in names:
            table = target.tables[name]
            columns = tuple(source_columns[name])
            booleans = [i for i, c in enumerate(columns) if isinstance(table.columns[c].type, Boolean)]  # SQLite keeps 0/1
            order = ", ".join(_quoted(c.name) for c in table.primary_key.columns) or "rowid"
            cursor = src.execute(f"SELECT {', '.join(map(_quoted, columns))} FROM {_quoted(name)} ORDER BY {order}")
            copied[name] = 0
            while rows := cursor.fetchmany(BATCH):
                if booleans:
                    rows = [tuple(bool(v) if i in booleans and v is not None else v for i, v in enumerate(r)) for r in rows]
                insert_rows(conn, table, columns, rows)
                copied[name] += len(rows)
                done += len(rows)
                if progress is not None:
                    progress(done, total)
        if conn.dialect.name == "postgresql":
            _advance_sequences(conn, target, names)
    return copied


def _advance_sequences(conn: Any, target: MetaData, names: list[str]) -> None:
    """Serial ids continue after the copied rows."""
    for name in names:
        for column in target.tables[name].primary_key.columns:
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": column.name}).scalar()
            if seq:
                conn.execute(text(f"SELECT setval(:s, (SELECT coalesce(max({_quoted(column.name)}), 0) + 1 FROM {_quoted(name)}), false)"),
                             {"s": seq})
