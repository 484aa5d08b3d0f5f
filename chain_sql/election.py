"""Which process seals: one per chain, elected through a PostgreSQL session-level advisory lock.

Several API processes may append to one PostgreSQL ledger (appends serialise on a
transaction lock, so indexes stay consecutive), but only one of them should seal, index and
anchor: the holder of ``pg_try_advisory_lock(key)`` on a connection it keeps open for that
alone (the Trillian pattern). PostgreSQL drops the lock when that connection ends, also when
the process is killed, so a candidate that retries every second takes over within seconds.

Two processes may still both believe they lead for a moment (the old one has not noticed its
connection is gone); that is safe, because a block's height is a primary key: the second seal
of a height fails and stores nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

__all__ = ["sealer_lock_key", "AdvisoryLock", "Campaign", "lock_holder"]

log = logging.getLogger(__name__)
APPLICATION_NAME = "fivechains-sealer"


def sealer_lock_key(chain_id: str) -> int:
    """The advisory lock key of a chain's sealer: 64 bits of SHA-256 over its id (signed, as PostgreSQL's bigint)."""
    digest = hashlib.sha256(b"fivechains.sealer\n" + chain_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _conninfo(url: str) -> str:
    """A libpq URI from an SQLAlchemy URL (postgresql+psycopg://… → postgresql://…)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _lock_parts(key: int) -> tuple[int, int]:
    """How pg_locks shows a bigint advisory key: (classid, objid) = high and low 32 bits."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


class AdvisoryLock:
    """A session-level advisory lock held on a dedicated connection (never one from a pool)."""

    def __init__(self, url: str, key: int, *, connect_timeout: int = 5) -> None:
        self.url = url
        self.key = key
        self._timeout = connect_timeout
        self._conn: Any = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free (connecting first if need be); True if this process holds it now."""
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    _conninfo(self.url), autocommit=True, connect_timeout=self._timeout,
                    application_name=f"{APPLICATION_NAME} pid={os.getpid()}",
                    keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=3)
            won = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
            return bool(won)
        except psycopg.Error as exc:
            log.warning("cannot reach PostgreSQL to run for sealer: %s", exc.__class__.__name__)
            self.release()
            return False

    def held(self) -> bool:
        """Whether the lock is still ours: the connection answers and PostgreSQL lists the lock under it."""
        import psycopg

        if self._conn is None or self._conn.closed:
            return False
        classid, objid = _lock_parts(self.key)
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()"
                " AND classid = %s AND objid = %s AND objsubid = 1", (classid, objid)).fetchone()
            return bool(row and row[0])
        except psycopg.Error:
            self.release()
            return False

    def release(self) -> None:
        """Give the lock up by closing its connection (PostgreSQL releases session locks then)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # the connection may already be broken; closing is all we wanted
                pass


def lock_holder(url: str, key: int) -> str | None:
    """The application name of the session holding ``key`` (``fivechains-sealer pid=N``), or None."""
    import psycopg

    classid, objid = _lock_parts(key)
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
            (classid, objid)).fetchone()
    return row[0] if row else None


class Campaign:
    """Run for a lock for as long as the process lives: try every ``interval`` seconds; once won,
    ``on_elected()`` starts the leader's duties; when the lock is found lost, ``on_deposed(False)``
    stops them; ``stop()`` calls ``on_deposed(True)`` while the lock is still held (a last seal
    is safe then), and only then lets the lock go."""

    def __init__(self, lock: AdvisoryLock, on_elected: Callable[[], None], on_deposed: Callable[[bool], None],
                 *, interval: float = 1.0) -> None:
        self.lock = lock
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self.interval = interval
        self.leading = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sealer-election", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=90)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self.leading and not self.lock.held():
                    log.warning("lost the sealer lock: stopping the sealer")
                    self._depose(graceful=False)
                if not self.leading and self.lock.try_acquire():
                    log.info("elected sealer of this chain (pid %d)", os.getpid())
                    self.leading = True
                    try:
                        self._on_elected()
                    except Exception:  # could not start the duties: let someone else try
                        log.exception("could not take up the sealer's duties; stepping down")
                        self._depose(graceful=False)
                self._stopping.wait(self.interval)
            if self.leading:
                self._depose(graceful=True)
        finally:
            self.lock.release()

    def _depose(self, *, graceful: bool) -> None:
        self.leading = False
        try:
            self._on_deposed(graceful)
        finally:
            if not graceful:
                self.lock.release()
