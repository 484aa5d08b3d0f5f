"""Verification jobs: court records kept in the judicial database and run on a small fixed pool.

A job's inputs are stored (as digests: file bytes are hashed on arrival, never kept) in chunks
before it is accepted; each chunk's verdicts are written as soon as they are known. A portal
process leases the jobs it runs (``owner`` + ``heartbeat_ms``); when it stops it lets them go, and
when it dies its lease goes stale — either way any portal on the same database resumes the job
at its first unchecked chunk. A restart or a second portal process loses no job, verdict or report.

Failed look-ups (tampered, unknown code, malformed) are budgeted per judge and minute, and each
chunk reserves budget for its items BEFORE they are looked up (refunding what did not fail):
items beyond the budget are not looked up and come back as ``not_checked``, so a big batch of
guessed codes cannot enumerate more than the budget.

With a service chain linked (``ClaimHolders``), each chunk's verified supervision deposits get their
claim's holder before the chunk is stored: the holder when the court verified, kept with the verdict.
A chunk whose holders could not be asked is counted in the job's tally (``holders_unavailable``), and
the job says so once; its verdicts are the same either way.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine

from service_kit.problems import InvalidInput, NotFound, RateLimited, TooLarge

from ..models import CourtFailure, PortalJob, PortalJobChunk
from ..verification import VERDICTS, Evidence, Verifier
from .accounts import log_verification
from .holders import ClaimHolders, HoldersUnavailable
from .limits import WindowBudget

__all__ = ["Job", "JobStore", "JobBoard", "MAX_ITEMS", "CHUNK", "FAILED_LOOKUPS_PER_MINUTE", "NOT_CHECKED", "ALL_VERDICTS",
           "HOLDERS_UNAVAILABLE"]

log = logging.getLogger(__name__)
MAX_ITEMS = 100_000
CHUNK = 5000  # items per stored chunk: one transaction of verdicts each
FAILED_LOOKUPS_PER_MINUTE = 20_000
WORKERS = 2
LEASE_SECONDS = 30.0
NOT_CHECKED = "not_checked"
ALL_VERDICTS = (*VERDICTS, NOT_CHECKED)
FAILED = ("tampered", "unknown_code", "malformed")
HOLDERS_UNAVAILABLE = "holders_unavailable"  # in a job's tally: chunks whose claim holders could not be asked
JOB = PortalJob.__table__  # type: ignore[attr-defined]
CHUNKS = PortalJobChunk.__table__  # type: ignore[attr-defined]
FAILURES = CourtFailure.__table__  # type: ignore[attr-defined]


def _dump(value: Any) -> str:
    """Stored inputs and verdicts as JSON text (msgspec: the same JSON, several times faster than the stdlib;
    the stdlib for what msgspec cannot hold, such as integers beyond 64 bits in a record)."""
    try:
        return msgspec.json.encode(value).decode()
    except (OverflowError, TypeError, msgspec.EncodeError):
        return json.dumps(value, ensure_ascii=False)


def _load(text: str) -> Any:
    try:
        return msgspec.json.decode(text)
    except (OverflowError, msgspec.DecodeError):
        return json.loads(text)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Job:
    """One job as stored; ``results`` is filled only when asked for (a progress poll does not read 100,000 verdicts)."""

    id: str
    judge: str
    case_id: str
    total: int
    done: int
    status: str
    tally: dict[str, int]
    error: str | None = None
    created_ms: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    results_from: int = 0  # the position of results[0] (a page of the verdicts, or all of them from 0)

    def counts(self) -> dict[str, int]:
        counts = {v: self.tally.get(v, 0) for v in VERDICTS}
        if self.tally.get(NOT_CHECKED):
            counts[NOT_CHECKED] = self.tally[NOT_CHECKED]
        return counts

    def view(self, offset: int, limit: int) -> dict[str, Any]:
        out: dict[str, Any] = {"job_id": self.id, "case_id": self.case_id, "status": self.status, "total": self.total,
                               "done": self.done, "counts": self.counts()}
        if self.tally.get(HOLDERS_UNAVAILABLE):
            out[HOLDERS_UNAVAILABLE] = True
        if self.status == "done":
            out["items"] = self.results[offset - self.results_from : offset - self.results_from + limit]
        if self.error:
            out["error"] = self.error
        return out


def _stored(item: Evidence) -> dict[str, Any]:
    """An input as kept: a file's bytes become their (salted) digest, everything else as given."""
    if item.content is not None:
        item = Evidence(item.code, digest=item.computed_digest(), path=item.path, line=item.line)
    return {"code": item.code, "digest": item.digest, "record": item.record, "salt": item.salt, "path": item.path, "line": item.line}


def _evidence(row: dict[str, Any]) -> Evidence:
    return Evidence(row["code"], row.get("digest"), None, row.get("record"), row.get("salt"), row.get("path"), row.get("line"))


def _count_failures(conn: Any, failures: list[tuple[str, str]]) -> None:
    """Tampered evidence per depositor and (Beijing) day, in the chunk's transaction: a lender's failures at court
    (the verdicts themselves never say whose entry a tampered item's code names)."""
    day = (_now_ms() + 8 * 3_600_000) // 86_400_000
    tally = Counter(failures)
    for (chain_id, lender_id), n in tally.items():
        where = (FAILURES.c.chain_id == chain_id, FAILURES.c.lender_id == lender_id, FAILURES.c.day == day)
        if conn.execute(FAILURES.update().where(*where).values(failures=FAILURES.c.failures + n)).rowcount == 0:
            conn.execute(FAILURES.insert().values(chain_id=chain_id, lender_id=lender_id, day=day, failures=n))


def court_failures(engine: Engine, since_day: int = 0) -> list[dict[str, Any]]:
    """Every (source chain, lender, day) with evidence judged tampered, and how many items."""
    with engine.connect() as conn:
        rows = conn.execute(select(FAILURES).where(FAILURES.c.day >= since_day).order_by(FAILURES.c.day)).all()
    return [{"chain_id": r.chain_id, "lender_id": r.lender_id, "day": r.day, "failures": r.failures} for r in rows]


class JobStore:
    """Jobs in the judicial database (tables portal_job and portal_job_chunk)."""

    def __init__(self, engine: Engine, read_engine: Engine | None = None) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine

    def create(self, judge: str, case_id: str, items: list[Evidence], owner: str | None) -> Job:
        job = Job(uuid.uuid4().hex, judge, case_id, len(items), 0, "queued", {}, created_ms=_now_ms())
        with self.engine.begin() as conn:
            conn.execute(JOB.insert().values(id=job.id, judge_id=judge, case_id=case_id, total=job.total, done=0, status=job.status,
                                             counts="{}", created_ms=job.created_ms, owner=owner, heartbeat_ms=_now_ms()))
            conn.execute(CHUNKS.insert(), [{"job_id": job.id, "chunk": n // CHUNK,
                                            "items": _dump([_stored(i) for i in items[n : n + CHUNK]])}
                                           for n in range(0, len(items), CHUNK)])
        return job

    def get(self, job_id: str, judge: str, results: bool = False, window: tuple[int, int] | None = None) -> Job:
        """The judge's own job (another judge's job is as absent as a made-up one). ``results``: all its verdicts
        so far; ``window`` (offset, limit): only the chunks holding that page, and only once the job is done
        (a progress poll reads no verdicts at all)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(JOB).where(JOB.c.id == job_id)).first()
            if row is None or row.judge_id != judge:
                raise NotFound("no such verification")
            job = Job(row.id, row.judge_id, row.case_id, row.total, row.done, row.status, json.loads(row.counts), row.error, row.created_ms)
            query = select(CHUNKS.c.results).where(CHUNKS.c.job_id == job_id, CHUNKS.c.results.is_not(None)).order_by(CHUNKS.c.chunk)
            if window is not None and job.status == "done" and window[1] > 0:
                first, last = window[0] // CHUNK, (window[0] + window[1] - 1) // CHUNK
                query = query.where(CHUNKS.c.chunk >= first, CHUNKS.c.chunk <= last)
                job.results_from = first * CHUNK
            elif not results:
                return job
            for chunk in conn.execute(query).scalars():
                job.results.extend(_load(chunk))
        return job

    def pending(self, job_id: str) -> list[int]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(CHUNKS.c.chunk).where(CHUNKS.c.job_id == job_id, CHUNKS.c.results.is_(None))
                                     .order_by(CHUNKS.c.chunk)).scalars())

    def inputs(self, job_id: str, chunk: int) -> list[Evidence]:
        with self.engine.connect() as conn:
            text = conn.execute(select(CHUNKS.c["items"]).where(CHUNKS.c.job_id == job_id, CHUNKS.c.chunk == chunk)).scalar_one()
        return [_evidence(r) for r in _load(text)]

    def judge_of(self, job_id: str) -> tuple[str, str, int]:
        with self.engine.connect() as conn:
            row = conn.execute(select(JOB.c.judge_id, JOB.c.case_id, JOB.c.total).where(JOB.c.id == job_id)).one()
        return row.judge_id, row.case_id, row.total

    def save_chunk(self, job_id: str, chunk: int, results: list[dict[str, Any]], owner: str,
                   failures: list[tuple[str, str]] | None = None, holders_unavailable: bool = False) -> bool:
        """Store a chunk's verdicts (and count its tampered items against their depositors, and the chunk if its claim
        holders could not be asked), if this process still holds the job (False: another portal took it over)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(JOB.c.counts, JOB.c.done, JOB.c.owner).where(JOB.c.id == job_id).with_for_update()).first()
            if row is None or row.owner != owner:
                return False
            tally = Counter(json.loads(row.counts))
            tally.update(r["verdict"] for r in results)
            if holders_unavailable:
                tally[HOLDERS_UNAVAILABLE] += 1
            conn.execute(CHUNKS.update().where(CHUNKS.c.job_id == job_id, CHUNKS.c.chunk == chunk)
                         .values(results=_dump(results)))
            _count_failures(conn, failures or [])
            conn.execute(JOB.update().where(JOB.c.id == job_id).values(
                counts=json.dumps(dict(tally), sort_keys=True), done=row.done + len(results), status="running", heartbeat_ms=_now_ms()))
        return True

    def finish(self, job_id: str, owner: str, status: str, error: str | None = None) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(JOB.update().where(JOB.c.id == job_id, JOB.c.owner == owner)
                                .values(status=status, error=error, owner=None, heartbeat_ms=_now_ms())).rowcount == 1

    def heartbeat(self, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(JOB.update().where(JOB.c.owner == owner, JOB.c.status.in_(("queued", "running")))
                         .values(heartbeat_ms=_now_ms()))

    def release(self, owner: str) -> None:
        """Let go of unfinished jobs (a clean stop): the next portal to look resumes them at once."""
        with self.engine.begin() as conn:
            conn.execute(JOB.update().where(JOB.c.owner == owner, JOB.c.status.in_(("queued", "running")))
                         .values(owner=None, heartbeat_ms=0))

    def claim_orphans(self, owner: str, lease_ms: int) -> list[str]:
        """Take over unfinished jobs nobody holds (or whose holder stopped renewing its lease)."""
        stale = _now_ms() - lease_ms
        with self.engine.connect() as conn:
            candidates = conn.execute(select(JOB.c.id, JOB.c.owner, JOB.c.heartbeat_ms).where(
                JOB.c.status.in_(("queued", "running")), or_(JOB.c.owner.is_(None), JOB.c.heartbeat_ms < stale))
                .order_by(JOB.c.created_ms)).all()
        claimed = []
        for job_id, old_owner, old_beat in candidates:
            with self.engine.begin() as conn:  # compare-and-set: of two portals looking at once, one wins
                owned = JOB.c.owner.is_(None) if old_owner is None else JOB.c.owner == old_owner
                if conn.execute(JOB.update().where(JOB.c.id == job_id, owned, JOB.c.heartbeat_ms == old_beat)
                                .values(owner=owner, heartbeat_ms=_now_ms())).rowcount == 1:
                    claimed.append(job_id)
        return claimed


class JobBoard:
    """Accepts jobs, runs them on a fixed pool of ``workers`` threads, and resumes orphaned ones."""

    def __init__(self, chain: Any, workers: int = WORKERS, failed_lookups_per_minute: int = FAILED_LOOKUPS_PER_MINUTE,
                 lease_seconds: float = LEASE_SECONDS, holders: ClaimHolders | None = None) -> None:
        self.chain = chain
        self.holders = holders
        self.verifier = Verifier(chain)
        self.store = JobStore(chain.store.engine)
        self.budget = WindowBudget(failed_lookups_per_minute)
        self.workers = workers
        self.lease_seconds = lease_seconds
        self.instance = uuid.uuid4().hex
        self._pool: ThreadPoolExecutor | None = None
        self._stopping = threading.Event()
        self._sweeper: threading.Thread | None = None
        # the inputs of jobs submitted here, until they run: no need to read back what was just stored
        # (a job resumed after a restart or by another portal reads its inputs from the database)
        self._submitted: dict[str, list[Evidence]] = {}
        self._submitted_lock = threading.Lock()

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="portal-job")
        self._resume()
        self._sweeper = threading.Thread(target=self._sweep, name="portal-job-lease", daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # a running job stops after its current chunk
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        self.store.release(self.instance)

    def _resume(self) -> None:
        for job_id in self.store.claim_orphans(self.instance, int(self.lease_seconds * 1000)):
            log.info("resuming verification job %s", job_id)
            self._schedule(job_id)

    def _sweep(self) -> None:
        while not self._stopping.wait(self.lease_seconds / 3):
            try:
                self.store.heartbeat(self.instance)
                self._resume()  # jobs of a portal that died
            except Exception as exc:  # the database is away for a moment: try again next round
                log.warning("job lease renewal failed: %s", exc)

    def _schedule(self, job_id: str) -> None:
        if self._pool is None:
            raise RuntimeError("the job board is not started")
        self._pool.submit(self._run, job_id)

    # --- requests --------------------------------------------------------------------------------

    def submit(self, who: str, case_id: str, items: list[Evidence]) -> Job:
        if len(items) > MAX_ITEMS:
            raise TooLarge(f"at most {MAX_ITEMS:,} items in one batch")
        if not items:
            raise InvalidInput("no evidence items")
        if self.budget.left(who) == 0:
            raise RateLimited("too many failed look-ups in the last minute; try again shortly")
        job = self.store.create(who, case_id, items, self.instance)
        with self._submitted_lock:
            self._submitted[job.id] = items
        self._schedule(job.id)
        return job

    def get(self, job_id: str, who: str, results: bool = False, window: tuple[int, int] | None = None) -> Job:
        return self.store.get(job_id, who, results, window)

    # --- work --------------------------------------------------------------------------------------

    def _run(self, job_id: str) -> None:
        try:
            judge, case_id, total = self.store.judge_of(job_id)
            with self._submitted_lock:
                submitted = self._submitted.pop(job_id, None)
            for chunk in self.store.pending(job_id):
                if self._stopping.is_set():
                    return  # released on stop; resumed by the next portal
                if submitted is not None:
                    items = submitted[chunk * CHUNK : (chunk + 1) * CHUNK]
                else:
                    items = self.store.inputs(job_id, chunk)
                verdicts, failures = self._check(judge, items)
                unavailable = not self._add_holders(verdicts)
                if not self.store.save_chunk(job_id, chunk, verdicts, self.instance, failures, unavailable):
                    return  # another portal holds the job now
            job = self.store.get(job_id, judge)
            if self.store.finish(job_id, self.instance, "done"):
                log_verification(self.chain.store.engine, judge, case_id, total, job.counts())
        except Exception as exc:  # the job reports it; the server goes on
            log.exception("verification job %s failed", job_id)
            self.store.finish(job_id, self.instance, "failed", f"{exc.__class__.__name__}: {exc}")

    def _add_holders(self, verdicts: list[dict[str, Any]]) -> bool:
        """Give each verified verdict from the linked supervision chain its claim's ``holder`` (null if the service chain
        does not know the index, or could not be asked); False when it could not be asked. Never raises: a verdict
        does not depend on the service chain."""
        if self.holders is None:
            return True
        ours = [v for v in verdicts if v["verdict"] == "verified" and v.get("supervision_chain") == self.holders.supervision_chain]
        if not ours:
            return True
        found: dict[int, dict[str, Any]] = {}
        asked = True
        try:
            found = self.holders.holders([v["supervision_index"] for v in ours])
        except HoldersUnavailable as exc:
            log.warning("claim holders unavailable: %s", exc)
            asked = False
        except Exception as exc:  # a fault in the asking: still no reason to fail the court's verdicts
            log.warning("claim holders unavailable (%s)", exc.__class__.__name__)
            asked = False
        for v in ours:
            v["holder"] = found.get(v["supervision_index"])
        return asked

    def _check(self, judge: str, items: list[Evidence]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        """Verdicts for a chunk, and the depositors of its tampered items: each slice reserves budget for all its items
        before they are looked up, and gets back what did not fail, so honest items never use the budget up and guessed
        codes cannot exceed it."""
        verdicts: list[dict[str, Any]] = []
        failures: list[tuple[str, str]] = []
        while len(verdicts) < len(items):
            granted, ticket = self.budget.reserve(judge, len(items) - len(verdicts))
            if not granted:
                break
            start = len(verdicts)
            found = self.verifier.verify(items[start : start + granted], with_bundles=False)
            verdicts += [v.to_dict() for v in found]
            failures += [v.depositor for v in found if v.depositor is not None]
            self.budget.refund(ticket, sum(1 for v in verdicts[start:] if v["verdict"] not in FAILED))
        for item in items[len(verdicts):]:
            skipped = {"code": item.code, "verdict": NOT_CHECKED,
                       "detail": f"not looked up: the limit of {self.budget.limit:,} failed look-ups a minute was reached"}
            skipped.update({k: v for k, v in (("path", item.path), ("line", item.line)) if v is not None})
            verdicts.append(skipped)
        return verdicts, failures
