"""Worker processes that check pool chunks, so a pool check uses every core the chain's host has.

A chunk's check (decode 5,000 loans, hash 20,000 records, match them with the lender's deposits, build the leaves)
is CPU-bound Python: in the request's thread it holds the one interpreter lock that every other request needs too.
Each worker is a spawned process with its own read-only view of the chain's database (SQLite in WAL mode or
PostgreSQL: readers of another process see every committed row) that runs ``chunk_check`` on the request's bytes
and returns plain rows; the chain writes them. Started on first use, so a chain that never checks a big chunk
never starts one; a worker that dies fails only the chunks it held, which the chain then checks in its own thread.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sqlalchemy import Engine

from chain.hashing import suite_by_name

from .chunk_check import CheckedChunk, check_chunk, parse_chunk
from .rules import Rules

__all__ = ["ChunkWorkers", "default_workers"]

log = logging.getLogger(__name__)
_engine: Engine | None = None  # in a worker process: its read engine on the chain's database


def default_workers() -> int:
    """One worker per core, at most four (a chunk's check is 0.3–0.5 s; more processes than cores only queue)."""
    return max(1, min(4, os.cpu_count() or 1))


def _start_worker(url: str, parent: int) -> None:
    global _engine
    from chain_sql import open_store

    _engine = open_store(url).read_engine
    threading.Thread(target=_exit_with, args=(parent,), name="exit-with-chain", daemon=True).start()


def _exit_with(parent: int) -> None:
    """A worker outlives nothing: when the chain's process is gone (even by ``kill -9``), so is the worker."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _ready() -> bool:
    return _engine is not None


def _check(lender_id: str, purpose: str, rules: Rules, suite: str, body: bytes) -> CheckedChunk:
    assert _engine is not None, "the worker was not started with a database"
    chunk = parse_chunk(body)
    with _engine.connect() as conn:
        return check_chunk(conn, lender_id, purpose, rules, chunk, suite_by_name(suite))


class ChunkWorkers:
    """``workers`` processes checking chunks of the chain at ``url``; ``check`` blocks its calling thread only."""

    def __init__(self, url: str, workers: int) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.url, self.workers = url, workers
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def check(self, lender_id: str, purpose: str, rules: Rules, suite: str, body: bytes) -> CheckedChunk | None:
        """The chunk checked in a worker (its InvalidInput raised here as it was there); None if the worker was lost
        (the caller checks the chunk itself; the next call starts fresh workers)."""
        executor = self._running()
        if executor is None:
            return None
        try:
            return executor.submit(_check, lender_id, purpose, rules, suite, body).result()
        except BrokenProcessPool:
            log.warning("a pool-check worker process was lost; this chunk is checked in the request's thread")
            with self._lock:
                if self._executor is executor:
                    self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)
            return None

    def warm(self) -> None:
        """Start every worker now (a spawned process imports the chain's code: about a second), not at the first chunk."""
        executor = self._running()
        if executor is None:
            return
        try:
            for future in [executor.submit(_ready) for _ in range(self.workers)]:
                future.result()
        except (BrokenProcessPool, RuntimeError, CancelledError):  # closed or lost meanwhile: the first chunk starts them
            log.info("the pool-check workers were not warmed (the chain stopped or a worker was lost)")

    def close(self) -> None:
        with self._lock:
            self._closed, executor, self._executor = True, self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _running(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._closed:
                return None
            if self._executor is None:
                self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_start_worker, initargs=(self.url, os.getpid()))
            return self._executor
