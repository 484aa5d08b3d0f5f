"""Group commit: deposits from concurrent requests share one transaction and one fsync.

Each request becomes a job; one writer thread takes every job waiting (up to a cap),
checks idempotency keys and nonces, and appends all their entries with their request and
deposit rows in one transaction. A request is answered only after that commit: 202 means
on disk. A job refused (replay, reused key) is refused alone; the others still land.
Several API processes may each run a writer on one PostgreSQL database: the ledger's append
lock keeps their indexes consecutive, and unique keys settle a nonce or key raced between them.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from chain.errors import StorageError
from chain.ledger import Ledger
from chain_sql import PARAMS_PER_STATEMENT, insert_rows, param_mark

from .errors import IdempotencyConflict, Replay
from .models import Deposit, DepositRequest
from .records import Item, entries_bytes

log = logging.getLogger(__name__)
REQUESTS = DepositRequest.__table__  # type: ignore[attr-defined]
DEPOSITS = Deposit.__table__  # type: ignore[attr-defined]


@dataclass
class DepositJob:
    lender_id: str
    idempotency_key: str
    nonce: str
    timestamp_ms: int
    items_root: bytes
    signature: bytes
    items: list[Item]
    commitments: list[bytes]
    metadata: list[str | None]  # each item's metadata as canonical JSON text
    reports: list[str | None] = field(default_factory=list)  # each item's report as canonical JSON text (empty: none has one)
    future: Future = field(default_factory=Future)


@dataclass(frozen=True)
class Accepted:
    """Where a request's items landed (also what an idempotent retry gets back)."""

    first_index: int
    count: int
    deposit_time_ms: int
    items_root: bytes
    replayed: bool = False


class DepositWriter:
    """The group-commit thread. Requests hand it jobs through a deque (an append, no lock) and wake it
    only when it sleeps: under many small requests it is busy committing the previous group, so a
    request costs no lock or condition hand-off, and each fsync carries everything that arrived
    during the one before."""

    def __init__(self, ledger: Ledger, on_commit: Callable[[int], None], max_group_items: int = 50_000) -> None:
        self.ledger = ledger
        self.engine = ledger.store.engine  # type: ignore[attr-defined]
        self._jobs: collections.deque[DepositJob] = collections.deque()
        self._wake = threading.Event()
        self._on_commit = on_commit
        self._max_group = max_group_items
        self._thread = threading.Thread(target=self._run, name="deposit-writer", daemon=True)
        self._stopping = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish every job already queued, then stop."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)
        while self._jobs and not self._thread.is_alive():  # raced with the stop: refused, not left waiting forever
            self._jobs.popleft().future.set_exception(StorageError("the supervision chain is shutting down"))

    def submit(self, job: DepositJob) -> Future:
        if self._stopping:
            job.future.set_exception(StorageError("the supervision chain is shutting down"))
            return job.future
        self._jobs.append(job)
        if not self._wake.is_set():  # set already: the writer will look at the deque before it sleeps again
            self._wake.set()
        return job.future

    def _next_group(self) -> list[DepositJob]:
        """Every job waiting, up to the group cap (a job is never split)."""
        jobs: list[DepositJob] = []
        total = 0
        while self._jobs and total < self._max_group:
            job = self._jobs.popleft()
            jobs.append(job)
            total += len(job.items)
        return jobs

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()  # before taking jobs: a job appended after this sets it again
            while jobs := self._next_group():
                try:
                    self._commit(jobs)
                except Exception as exc:  # never let the writer thread die; fail these jobs instead
                    log.exception("deposit group commit failed")
                    for j in jobs:
                        if not j.future.done():
                            j.future.set_exception(exc)
            if self._stopping and not self._jobs:
                return

    def _decide(self, jobs: list[DepositJob]) -> list[DepositJob]:
        """Answer retries and refuse replays now (two queries for the whole group); return the jobs to write."""
        keys = list({(j.lender_id, j.idempotency_key) for j in jobs})
        nonces = list({(j.lender_id, j.nonce) for j in jobs})
        with self.ledger.store.read_engine.connect() as conn:  # type: ignore[attr-defined]  # no lock: a race with another process ends at the unique keys
            earlier = {(r[0], r[1]): Accepted(r[2], r[3], r[4], bytes(r[5]), True) for r in _requests_of(conn, _EARLIER, "idempotency_key", keys)}
            used_nonces = {(r[0], r[1]) for r in _requests_of(conn, "lender_id, nonce", "nonce", nonces)}
        to_write: list[DepositJob] = []
        first_of_key: dict[tuple[str, str], DepositJob] = {}
        for job in jobs:
            key = (job.lender_id, job.idempotency_key)
            row = earlier.get(key)
            twin = first_of_key.get(key)
            if row is not None or twin is not None:
                same = (row.items_root == job.items_root and row.count == len(job.items)) if row is not None else twin.items_root == job.items_root
                if not same:
                    job.future.set_exception(IdempotencyConflict(f"idempotency key {job.idempotency_key!r} was used for a different request"))
                elif row is not None:
                    job.future.set_result(row)
                else:  # the same request twice in one group: answer the second from the first
                    twin.future.add_done_callback(_copy_to(job.future))
                continue
            nonce = (job.lender_id, job.nonce)
            if nonce in used_nonces:
                job.future.set_exception(Replay(f"nonce {job.nonce!r} was already used by lender {job.lender_id}"))
                continue
            used_nonces.add(nonce)
            first_of_key[key] = job
            to_write.append(job)
        return to_write

    def _commit(self, jobs: list[DepositJob], *, retry: bool = True) -> None:
        to_write = self._decide(jobs)
        if not to_write:
            return
        deposit_time_ms = int(time.time() * 1000)
        entries = [entry for job in to_write for entry in entries_bytes(job.lender_id, job.items, job.commitments, deposit_time_ms)]
        placed: list[tuple[DepositJob, int]] = []

        def rows(conn: Connection, first: int) -> None:
            requests, deposits = [], []
            pos = first
            for job in to_write:
                requests.append((pos, job.lender_id, job.idempotency_key, job.nonce, job.timestamp_ms, job.items_root,
                                 job.signature, len(job.items), deposit_time_ms))
                deposits += [(pos + i, job.lender_id, pos, item.digest, item.record_type, item.loan_id, item.event_time_ms,
                              deposit_time_ms, deposit_time_ms - item.event_time_ms, metadata, item.commitment_salt, report)
                             for i, (item, metadata, report) in enumerate(zip(job.items, job.metadata, job.reports or itertools.repeat(None)))]
                placed.append((job, pos))
                pos += len(job.items)
            insert_rows(conn, REQUESTS, _REQUEST_COLUMNS, requests)
            insert_rows(conn, DEPOSITS, _DEPOSIT_COLUMNS, deposits)

        try:
            self.ledger.append(entries, also=rows)
        except StorageError as exc:
            # e.g. a nonce or idempotency key raced by another API process: decide again, one by one,
            # now that its row is committed (a retry of the same request then gets the original receipt)
            if len(to_write) > 1 or (retry and _unique_race(exc)):
                for job in to_write:
                    self._commit([job], retry=False)
                return
            to_write[0].future.set_exception(_as_supervision_error(exc))
            return
        for job, first in placed:
            job.future.set_result(Accepted(first, len(job.items), deposit_time_ms, job.items_root))
        self._on_commit(len(entries))


_REQUEST_COLUMNS = ("first_index", "lender_id", "idempotency_key", "nonce", "timestamp_ms", "items_root", "signature", "count", "deposit_time_ms")
_DEPOSIT_COLUMNS = ("idx", "lender_id", "request_first", "digest", "record_type", "loan_id", "event_time_ms", "deposit_time_ms", "delay_ms", "metadata", "commitment_salt", "report")


_EARLIER = "lender_id, idempotency_key, first_index, count, deposit_time_ms, items_root"


def _requests_of(conn: Connection, columns: str, key: str, pairs: list[tuple[str, str]]) -> list[Any]:
    """Rows of ``sv_request`` whose (lender_id, ``key``) is one of ``pairs``, as plain driver SQL: the
    group commit asks this twice per group, and building and compiling the expression each time
    cost more than the queries (1.7 ms a group)."""
    mark, per = param_mark(conn), PARAMS_PER_STATEMENT // 2  # two parameters a pair, whatever the group holds
    found: list[Any] = []
    for start in range(0, len(pairs), per):
        chunk = pairs[start:start + per]
        values = ", ".join([f"({mark}, {mark})"] * len(chunk))
        found += conn.exec_driver_sql(f"SELECT {columns} FROM sv_request WHERE (lender_id, {key}) IN (VALUES {values})",
                                      tuple(itertools.chain.from_iterable(chunk))).all()
    return found


def _copy_to(target: Future) -> Callable[[Future], None]:
    def copy(source: Future) -> None:
        if source.exception() is not None:
            target.set_exception(source.exception())  # type: ignore[arg-type]
        else:
            result: Any = source.result()
            target.set_result(Accepted(result.first_index, result.count, result.deposit_time_ms, result.items_root, True))

    return copy


def _unique_race(exc: Exception) -> bool:
    return "uq_sv_request_" in str(exc.__cause__ or exc) or "sv_request.lender_id" in str(exc.__cause__ or exc)


def _as_supervision_error(exc: Exception) -> Exception:
    """A unique-key race lost to another process means a replayed nonce or a reused key; anything else stays as it is."""
    cause = str(exc.__cause__ or exc)
    if "uq_sv_request_nonce" in cause or "sv_request.lender_id, sv_request.nonce" in cause:
        return Replay("this request's nonce was already used")
    if "uq_sv_request_idem" in cause or "sv_request.lender_id, sv_request.idempotency_key" in cause:
        return IdempotencyConflict("this idempotency key was already used")
    return exc
