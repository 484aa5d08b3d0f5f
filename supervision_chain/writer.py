"""Group commit: deposits from concurrent requests share one transaction and one fsync.

Each request becomes a job; one writer thread takes every job waiting (up to a cap),
checks idempotency keys and nonces, and appends all their entries with their request and
deposit rows in one transaction. A request is answered only after that commit: 202 means
on disk. A job refused (replay, reused key) is refused alone; the others still land.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from chain.errors import StorageError
from chain.ledger import Ledger

from .errors import IdempotencyConflict, Replay, SupervisionError
from .models import Deposit, DepositRequest
from .records import Item, entry_bytes

log = logging.getLogger(__name__)
R = DepositRequest.__table__  # type: ignore[attr-defined]
D = Deposit.__table__  # type: ignore[attr-defined]


@dataclass
class DepositJob:
    lender_id: str
    idempotency_key: str
    nonce: str
    timestamp_ms: int
    items_root: bytes
    signature: bytes
    items: list[Item]
    item_hashes: list[bytes]
    metas: list[str | None]
    future: Future = field(default_factory=Future)


@dataclass(frozen=True)
class Accepted:
    """Where a request's items landed (also what an idempotent retry gets back)."""

    first_index: int
    count: int
    accepted_ms: int
    items_root: bytes
    replayed: bool = False


class DepositWriter:
    def __init__(self, ledger: Ledger, on_commit: Callable[[int], None], max_group_items: int = 50_000) -> None:
        self.ledger = ledger
        self.engine = ledger.store.engine  # type: ignore[attr-defined]
        self._queue: queue.Queue[DepositJob | None] = queue.Queue()
        self._on_commit = on_commit
        self._max_group = max_group_items
        self._thread = threading.Thread(target=self._run, name="deposit-writer", daemon=True)
        self._stopping = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish every job already queued, then stop."""
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout=30)

    def submit(self, job: DepositJob) -> Future:
        if self._stopping:
            job.future.set_exception(StorageError("the supervision chain is shutting down"))
        else:
            self._queue.put(job)
        return job.future

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs, total = [job], len(job.items)
            while total < self._max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this group
                    break
                jobs.append(more)
                total += len(more.items)
            try:
                self._commit(jobs)
            except Exception as exc:  # never let the writer thread die; fail these jobs instead
                log.exception("deposit group commit failed")
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(exc)

    def _decide(self, jobs: list[DepositJob]) -> list[DepositJob]:
        """Answer retries and refuse replays now; return the jobs to write."""
        to_write: list[DepositJob] = []
        seen_keys: dict[tuple[str, str], DepositJob] = {}
        seen_nonces: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            for job in jobs:
                key = (job.lender_id, job.idempotency_key)
                earlier = conn.execute(select(R).where(R.c.lender_id == job.lender_id, R.c.idempotency_key == job.idempotency_key)).first()
                if earlier is not None:
                    if earlier.items_root == job.items_root and earlier.count == len(job.items):
                        job.future.set_result(Accepted(earlier.first_index, earlier.count, earlier.accepted_ms, earlier.items_root, True))
                    else:
                        job.future.set_exception(IdempotencyConflict(f"idempotency key {job.idempotency_key!r} was used for a different request"))
                    continue
                if key in seen_keys:  # the same request twice in one group: answer both from the first
                    twin = seen_keys[key]
                    if twin.items_root == job.items_root:
                        twin.future.add_done_callback(_copy_to(job.future))
                    else:
                        job.future.set_exception(IdempotencyConflict(f"idempotency key {job.idempotency_key!r} was used for a different request"))
                    continue
                nonce = (job.lender_id, job.nonce)
                used = nonce in seen_nonces or conn.execute(
                    select(R.c.id).where(R.c.lender_id == job.lender_id, R.c.nonce == job.nonce)
                ).first()
                if used:
                    job.future.set_exception(Replay(f"nonce {job.nonce!r} was already used by lender {job.lender_id}"))
                    continue
                seen_keys[key] = job
                seen_nonces.add(nonce)
                to_write.append(job)
        return to_write

    def _commit(self, jobs: list[DepositJob]) -> None:
        to_write = self._decide(jobs)
        if not to_write:
            return
        accepted_ms = int(time.time() * 1000)
        entries = [
            entry_bytes(job.lender_id, item, h, accepted_ms)
            for job in to_write
            for item, h in zip(job.items, job.item_hashes)
        ]
        placed: list[tuple[DepositJob, int]] = []

        def rows(conn: Connection, first: int) -> None:
            pos = first
            for job in to_write:
                result = conn.execute(R.insert().values(
                    lender_id=job.lender_id, idempotency_key=job.idempotency_key, nonce=job.nonce,
                    timestamp_ms=job.timestamp_ms, items_root=job.items_root, signature=job.signature,
                    first_index=pos, count=len(job.items), accepted_ms=accepted_ms,
                ))
                request_id = result.inserted_primary_key[0]
                conn.execute(D.insert(), [
                    {"idx": pos + i, "lender_id": job.lender_id, "request_id": request_id, "digest": item.digest,
                     "record_type": item.record_type, "loan_id": item.loan_id, "event_ms": item.event_ms,
                     "accepted_ms": accepted_ms, "delay_ms": accepted_ms - item.event_ms, "meta": meta}
                    for i, (item, meta) in enumerate(zip(job.items, job.metas))
                ])
                placed.append((job, pos))
                pos += len(job.items)

        try:
            self.ledger.append(entries, also=rows)
        except StorageError as exc:
            if len(to_write) > 1:  # e.g. a unique key raced by another process: retry one by one
                for job in to_write:
                    self._commit([job])
                return
            to_write[0].future.set_exception(_as_supervision_error(exc))
            return
        for job, first in placed:
            job.future.set_result(Accepted(first, len(job.items), accepted_ms, job.items_root))
        self._on_commit(len(entries))


def _copy_to(target: Future) -> Callable[[Future], None]:
    def copy(source: Future) -> None:
        if source.exception() is not None:
            target.set_exception(source.exception())  # type: ignore[arg-type]
        else:
            result: Any = source.result()
            target.set_result(Accepted(result.first_index, result.count, result.accepted_ms, result.items_root, True))

    return copy


def _as_supervision_error(exc: Exception) -> Exception:
    text = str(exc)
    if "uq_sv_request_nonce" in text or "nonce" in text:
        return Replay("this request's nonce was already used")
    if isinstance(exc, SupervisionError):
        return exc
    return exc
