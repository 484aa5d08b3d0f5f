"""SQL storage for a ledger: an SQLite file by default, PostgreSQL for a postgresql:// URL.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit returns only after the log is
on disk, so an acknowledged append survives ``kill -9`` and power loss. Writers take the
database lock up front (``BEGIN IMMEDIATE``); readers use their own engine and see a
consistent snapshot while a seal is being written. On PostgreSQL, appends serialise on a
transaction-scoped advisory lock and bulk rows go in through COPY.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from chain.errors import StorageError
from chain.storage.base import HeightTaken, SealWrite, StoredBlock, StoredEntry

from .schema import LEDGER_TABLES, BlockRow, CheckpointRow, EntryRow, LedgerMeta, TileRow

__all__ = ["SQLStore", "open_store", "sqlite_url", "insert_rows", "update_by_key", "param_mark", "PARAMS_PER_STATEMENT"]

AlsoWrite = Callable[[Connection, int], None]
_APPEND_LOCK = 0x5F1C_0001  # advisory lock key that serialises appends on PostgreSQL
_SCHEMA_LOCK = 0x5F1C_0002  # … and the one that serialises creating tables and the ledger's metadata

E = EntryRow.__table__  # type: ignore[attr-defined]
T = TileRow.__table__  # type: ignore[attr-defined]
B = BlockRow.__table__  # type: ignore[attr-defined]
C = CheckpointRow.__table__  # type: ignore[attr-defined]
M = LedgerMeta.__table__  # type: ignore[attr-defined]


_TILE_QUERY = text("SELECT hashes FROM ledger_tile WHERE level = :level AND idx = :idx")  # hot path: no expression building


def _blob(value: Any) -> bytes:
    """Bytes of a BLOB column, even if a hand-edited row stored it as text (the audit then names it)."""
    return value.encode() if isinstance(value, str) else bytes(value)


def sqlite_url(path: str | Path) -> str:
    """SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{Path(path).resolve()}"


def _sqlite_engine(url: str, begin: str | None, synchronous: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages: index inserts stay in memory as the ledger grows
        cur.close()

    if begin:

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

    return engine


class SQLStore:
    """A :class:`~chain.storage.base.LedgerStore` on SQLite or PostgreSQL."""

    def __init__(self, url: str, *, synchronous: str = "FULL") -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise StorageError("an SQLite ledger needs a file: give sqlite:///path/to/ledger.db")
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
                raise StorageError(f"unsupported SQLite synchronous mode {synchronous!r}")
            self._writer = _sqlite_engine(url, "BEGIN IMMEDIATE", synchronous.upper())
            # readers run each statement on its own (autocommit) snapshot; nothing they read
            # together can disagree, since sealed rows never change and tiles only grow
            self._reader = _sqlite_engine(url, None, synchronous.upper())
        elif self.dialect == "postgresql":
            self._writer = create_engine(url, pool_pre_ping=True)
            self._reader = self._writer
        else:
            raise StorageError(f"unsupported database {self.dialect!r}: use sqlite:/// or postgresql://")
        self._write_lock = threading.Lock()
        self._driver_error: type[Exception] = self._writer.dialect.dbapi.Error  # raised by raw COPY/executemany

    # --- set-up --------------------------------------------------------------------------

    @contextmanager
    def schema_change(self) -> Iterator[Connection]:
        """One transaction for changing the schema. On PostgreSQL under an advisory lock, so processes
        starting together on one database do not race to create or migrate the same tables."""
        with self._write_lock, self._writer.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            yield conn

    def create_tables(self, tables: Sequence[Any]) -> None:
        """Create the tables that do not exist yet."""
        with self.schema_change() as conn:
            for table in tables:
                table.create(conn, checkfirst=True)

    def initialize(self, meta: Mapping[str, str]) -> None:
        try:
            self.create_tables(LEDGER_TABLES)
            with self.schema_change() as conn:  # two processes creating the ledger at once: one writes, the other compares
                existing = dict(conn.execute(select(M.c.key, M.c.value)).all())
                if existing:
                    if existing != dict(meta):
                        raise StorageError(f"{self._where()} already holds a different ledger ({existing.get('chain_id')})")
                    return
                conn.execute(M.insert(), [{"key": k, "value": v} for k, v in meta.items()])
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot initialise {self._where()}: {exc.__class__.__name__}") from exc

    def meta(self) -> dict[str, str]:
        try:
            with self._reader.connect() as conn:
                return dict(conn.execute(select(M.c.key, M.c.value)).all())
        except OperationalError:
            return {}

    def _where(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    # --- entries -------------------------------------------------------------------------

    def append(self, entries: Sequence[bytes], leaf_hashes: Sequence[bytes], also: AlsoWrite | None = None) -> int:
        """Store entries at the next indexes; ``also(conn, first_index)`` writes a service's own
        rows in the same transaction, so entries and what describes them land together or not at all."""
        if len(entries) != len(leaf_hashes):
            raise StorageError("each entry needs exactly one leaf hash")
        try:
            with self._write_lock, self._writer.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK})
                first = conn.execute(select(func.coalesce(func.max(E.c.idx) + 1, 0))).scalar_one()
                if entries:
                    self._insert_entries(conn, first, entries, leaf_hashes)
                if also is not None:
                    also(conn, int(first))
                return int(first)
        except StorageError:
            raise
        except (SQLAlchemyError, self._driver_error) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StorageError(f"append to {self._where()} failed, nothing was stored: {reason.__class__.__name__}: {reason}") from exc

    def _insert_entries(self, conn: Connection, first: int, entries: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> None:
        insert_rows(conn, E, ("idx", "leaf_hash", "data"), list(zip(range(first, first + len(entries)), leaf_hashes, entries)))

    def size(self) -> int:
        with self._reader.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(E.c.idx) + 1, 0))).scalar_one())

    def leaf_hashes(self, begin: int, end: int) -> list[bytes]:
        with self._reader.connect() as conn:
            rows = conn.execute(select(E.c.leaf_hash).where(E.c.idx >= begin, E.c.idx < end).order_by(E.c.idx))
            return [bytes(r[0]) for r in rows]

    def entries(self, begin: int, end: int) -> list[StoredEntry]:
        with self._reader.connect() as conn:
            rows = conn.execute(
                select(E.c.idx, E.c.data, E.c.leaf_hash).where(E.c.idx >= begin, E.c.idx < end).order_by(E.c.idx)
            )
            return [StoredEntry(int(i), _blob(d), _blob(h)) for i, d, h in rows]

    def iter_entries(self, begin: int = 0, chunk: int = 65536) -> Iterator[StoredEntry]:
        after = begin - 1
        while True:
            with self._reader.connect() as conn:
                rows = conn.execute(
                    select(E.c.idx, E.c.data, E.c.leaf_hash).where(E.c.idx > after).order_by(E.c.idx).limit(chunk)
                ).all()
            if not rows:
                return
            for i, d, h in rows:
                yield StoredEntry(int(i), _blob(d), _blob(h))
            after = rows[-1][0]

    # --- tiles, blocks, checkpoints --------------------------------------------------------

    def tile(self, level: int, index: int) -> bytes:
        with self._reader.connect() as conn:
            value = conn.execute(_TILE_QUERY, {"level": level, "idx": index}).scalar_one_or_none()
            return bytes(value) if value is not None else b""

    def iter_tiles(self) -> Iterator[tuple[int, int, bytes]]:
        with self._reader.connect() as conn:
            for level, idx, hashes in conn.execute(select(T.c.level, T.c.idx, T.c.hashes).order_by(T.c.level, T.c.idx)):
                yield int(level), int(idx), bytes(hashes)

    def commit_seal(self, write: SealWrite) -> None:
        tiles = [{"level": lv, "idx": ix, "hashes": hb} for (lv, ix), hb in sorted(write.tiles.items())]
        try:
            with self._write_lock, self._writer.begin() as conn:
                conn.execute(B.insert(), {"height": write.block.height, "tree_size": write.block.tree_size, "header": write.block.header})
                if write.checkpoint_note is not None:
                    conn.execute(C.insert(), {"size": write.checkpoint_size, "note": write.checkpoint_note})
                if tiles:
                    conn.execute(self._upsert_tiles(), tiles)
        except IntegrityError as exc:
            raise HeightTaken(f"block {write.block.height} is already sealed (another sealer won?)") from exc
        except SQLAlchemyError as exc:
            raise StorageError(f"sealing block {write.block.height} failed, nothing was stored: {exc.__class__.__name__}") from exc

    def _upsert_tiles(self) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(T)
        return stmt.on_conflict_do_update(index_elements=[T.c.level, T.c.idx], set_={"hashes": stmt.excluded.hashes})

    def _blocks(self, where: Any = None, order: Any = None, limit: int | None = None) -> list[StoredBlock]:
        query = select(B.c.height, B.c.tree_size, B.c.header)
        if where is not None:
            query = query.where(where)
        query = query.order_by(order if order is not None else B.c.height)
        if limit is not None:
            query = query.limit(limit)
        with self._reader.connect() as conn:
            return [StoredBlock(int(h), int(s), str(t)) for h, s, t in conn.execute(query)]

    def latest_block(self) -> StoredBlock | None:
        found = self._blocks(order=B.c.height.desc(), limit=1)
        return found[0] if found else None

    def block(self, height: int) -> StoredBlock | None:
        found = self._blocks(B.c.height == height)
        return found[0] if found else None

    def blocks(self, start: int | None = None, end: int | None = None) -> list[StoredBlock]:
        where = None
        if start is not None:
            where = B.c.height >= start
        if end is not None:
            where = B.c.height < end if where is None else where & (B.c.height < end)
        return self._blocks(where)

    def block_containing(self, index: int) -> StoredBlock | None:
        found = self._blocks(B.c.tree_size > index, order=B.c.tree_size, limit=1)
        return found[0] if found else None

    def checkpoint(self, size: int) -> str | None:
        with self._reader.connect() as conn:
            return conn.execute(select(C.c.note).where(C.c.size == size)).scalar_one_or_none()

    def latest_checkpoint(self) -> str | None:
        with self._reader.connect() as conn:
            return conn.execute(select(C.c.note).order_by(C.c.size.desc()).limit(1)).scalar_one_or_none()

    def checkpoints(self) -> list[tuple[int, str]]:
        with self._reader.connect() as conn:
            return [(int(s), str(n)) for s, n in conn.execute(select(C.c.size, C.c.note).order_by(C.c.size))]

    def update_checkpoint(self, size: int, note: str) -> None:
        with self._write_lock, self._writer.begin() as conn:
            if conn.execute(C.update().where(C.c.size == size).values(note=note)).rowcount != 1:
                raise StorageError(f"no checkpoint at size {size}")

    @property
    def engine(self) -> Engine:
        """The writer engine, for services that keep their own tables in the same database."""
        return self._writer

    @property
    def read_engine(self) -> Engine:
        return self._reader

    def close(self) -> None:
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()


PARAMS_PER_STATEMENT = 2_000  # well under SQLite's limit (32,766); about where one statement costs least a row


def param_mark(conn: Connection) -> str:
    """The driver's positional parameter mark, for plain driver SQL on either backend: ``?`` (sqlite3) or ``%s`` (psycopg)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def insert_rows(conn: Connection, table: Any, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Bulk insert positional rows: on SQLite as multi-row ``VALUES`` statements, on PostgreSQL by COPY (hot path).

    On SQLite a statement of many rows rather than ``executemany``: the driver lets the GIL go at
    every step of a statement, and under load getting it back costs up to a switch interval, so a
    row a step made the group commit queue behind request parsing once per row; now it is once per
    few hundred rows, and the driver binds them in one call."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        per = max(1, PARAMS_PER_STATEMENT // len(columns))
        head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
        row_marks = "(" + ", ".join("?" * len(columns)) + ")"
        full = head + ", ".join([row_marks] * per)
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            sql = full if len(chunk) == per else head + ", ".join([row_marks] * len(chunk))
            conn.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(chunk)))
    elif conn.dialect.name == "postgresql":
        with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
            with cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        conn.execute(table.insert(), [dict(zip(columns, row)) for row in rows])


def update_by_key(conn: Connection, table: Any, key: str, column: str, pairs: list[tuple[Any, Any]]) -> None:
    """Set ``column`` of the row whose ``key`` is each pair's first value to its second, a few hundred rows a
    statement (``UPDATE … FROM (VALUES …)``, on SQLite and PostgreSQL alike) rather than a statement a row."""
    mark = param_mark(conn)
    per = PARAMS_PER_STATEMENT // 2
    for start in range(0, len(pairs), per):
        chunk = pairs[start:start + per]
        values = ", ".join([f"({mark}, {mark})"] * len(chunk))
        conn.exec_driver_sql(f"UPDATE {table.name} SET {column} = v.column2 FROM (VALUES {values}) AS v WHERE {table.name}.{key} = v.column1",
                             tuple(itertools.chain.from_iterable(chunk)))


def open_store(url_or_path: str | Path, **options: Any) -> SQLStore:
    """Open the store at a database URL, or an SQLite file when given a plain path."""
    value = str(url_or_path)
    url = value if "://" in value else sqlite_url(value)
    return SQLStore(url, **options)
