"""Service-chain benchmarks (issue 16): checking a pool of loans end to end, and the pledge registry.

Set-up (not timed). An in-process, started ``ServiceChain`` (SQLite in a temporary directory, WAL,
synchronous=FULL; no judicial anchoring, no feed URL) with one lender (``sync_lenders``, as the feed would
register it) and one funder (``add_party``). Its deposit mirror is fed the lender's anchored deposits directly
(``mirror.apply`` in pages of 10,000 rows, as ``follow_once`` stores a feed page): ``--loans`` loans, each a
contract, a disbursement and two repayments, every record a JSON object whose digest is the SHA-256 of its RFC
8785 text, with a fresh deposit code; events minutes apart, each deposited 1.5 s after it (nothing back-filled).
The chain's API (``create_app``) is served by uvicorn in a thread of this process on loopback; the lender and
the funder are ``ServiceClient`` instances in the main thread, every request signed (Ed25519) when sent.

1. Pool check. Timed over HTTP: ``new_pool`` → ``add_loans`` of every loan (records sent as their canonical
   texts, chunks of 5,000) → ``certify``. Target: ≤ 10 s for 100,000 loans (400,000 records). The floor, in the
   same run: SHA-256 of the 400,000 records' bytes, the leaf hashes and the pool's tree over the 100,000 leaves,
   and every loan's inclusion proof checked against the certificate's root (``chain.merkle.check_inclusion``;
   the proofs fetched once beforehand, not timed). Afterwards every loan must be eligible, the certificate must
   verify and every proof must reach its root (so the figure cannot come from a broken path).
2. Registry, one loan. ``--singles`` certified single-loan pools and as many second pools of the same loans
   (set up in process, not timed); then, from one client, each registration (``propose`` + ``accept``; accept
   alone) and each refusal (``propose`` of the second pool, whose loan is pledged by then → 409
   already-encumbered). Target: p99 < 10 ms.
3. Registry, a pool. The 100,000-loan pool of 1 registered (propose + accept timed) and a second pool of the
   same loans, certified before the first was registered, refused (propose → 409). Target: ≥ 50,000 loans/s.

Run through ``./scripts/bench service``; ``--loans 10000 --singles 100`` for a quick run. ``--write`` writes the
section of BENCHMARKS.md (otherwise it is only printed); ``--json`` prints the figures (``--render FILE`` turns them into
the section later, with ``--note`` paragraphs); ``--profile`` profiles, after the timed runs and in process,
``ServiceChain.add_loans`` on one chunk and a refusal and a registration, and puts the top functions in the notes.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import gc
import hashlib
import io
import json
import os
import platform
import pstats
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_report import machine_summary, results_table, write_section  # noqa: E402

from chain.keys import generate_private_key, public_key_bytes  # noqa: E402
from chain.merkle import check_inclusion, leaf_hash  # noqa: E402
from evidence.canonical_json import canonical_json  # noqa: E402
from evidence.deposit_codes import new_code  # noqa: E402
from service_chain.certificate import verify_certificate  # noqa: E402
from service_chain.client import ServiceClient, ServiceError  # noqa: E402
from service_chain.config import MAX_CHUNK_LOANS  # noqa: E402
from service_chain.deposit_mirror import FeedReport, FeedRow  # noqa: E402
from service_chain.pool_tree import PoolTree  # noqa: E402
from service_chain.registry import release_text, terms_text  # noqa: E402
from service_kit.report_feed import FeedLender  # noqa: E402

POOL_LIMIT_S = 10.0  # a pool of 100,000 loans checked end to end
POOL_LIMIT_LOANS = 100_000
P99_LIMIT_MS = 10.0  # one loan's registration or refusal
RATE_LIMIT = 50_000  # loans/s registered or refused in a pool
PAGE = 10_000  # feed rows per mirror.apply
LENDER, FUNDER = "L0001", "F001"


# --- the lender's deposits --------------------------------------------------------------------


class Book:
    """The lender's loans: each as a pool carries it (records as canonical texts with their codes), the feed rows
    the supervision chain gave for them, and the records' bytes."""

    def __init__(self) -> None:
        self.rows: list[FeedRow] = []
        self.loans: list[dict[str, Any]] = []  # pool_loan shapes, in order
        self.records: list[bytes] = []  # every record's canonical bytes, in feed order
        self.digests: dict[str, str] = {}  # record digest → loan id

    def add(self, prefix: str, count: int, seed: int, start_ms: int, span_ms: int) -> list[dict[str, Any]]:
        """``count`` loans opened one after another over ``span_ms`` from ``start_ms`` (each disbursed a second after its
        contract), every loan's first repayment over the next ``span_ms``, every second one over the next (so a loan's
        records lie far apart in the feed, as a lender's real-time deposits do). The loans' pool entries, in order."""
        rng = random.Random(seed)
        step = max(1, span_ms // max(1, count))
        plan: list[tuple[int, int, str, dict[str, Any], FeedReport]] = []  # (phase, n, type, report, feed report)
        claims = []
        for n in range(count):
            principal = rng.randrange(10, 500) * 10_000  # ¥1,000 – ¥50,000 in fen
            rate = rng.randrange(600, 2400)
            first, second = principal // 10, principal // 8
            interest = principal * rate // 120_000
            plan += [(0, n, "contract", {"principal": principal, "rate_bp": rate, "term_months": 12, "borrower_kind": "person",
                                         "borrower": rng.randbytes(32).hex()}, FeedReport(principal=principal, rate_bp=rate)),
                     (1, n, "disbursement", {"amount": principal}, FeedReport(amount=principal)),
                     (2, n, "repayment", {"principal": first, "interest": interest, "amount": first + interest},
                      FeedReport(principal=first, amount=first + interest)),
                     (3, n, "repayment", {"principal": second, "interest": interest, "amount": second + interest},
                      FeedReport(principal=second, amount=second + interest))]
            claims.append(principal - first - second)
        plan.sort(key=lambda p: (max(0, p[0] - 1), p[1], p[0]))  # contracts and disbursements interleaved, then repayments 1, then 2
        entries: list[list[dict[str, str]]] = [[] for _ in range(count)]
        for phase, n, kind, report, feed in plan:
            loan_id = f"{prefix}-{n:07d}"
            group = max(0, phase - 1)
            event = start_ms + group * span_ms + n * step + (1000 if phase == 1 else 0)  # the feed's order is the events' order
            text = canonical_json({"lender": LENDER, "loan": loan_id, "type": kind, "event_ms": event, "report": report})
            digest = hashlib.sha256(text).hexdigest()
            code = new_code()
            self.rows.append(FeedRow(len(self.rows), LENDER, kind, loan_id, event, event + 1500, digest, feed, code))
            self.records.append(text)
            self.digests[digest] = loan_id
            entries[n].append({"deposit_code": code, "canonical": text.decode()})
        loans = [{"loan_id": f"{prefix}-{n:07d}", "claimed_outstanding_fen": claims[n], "records": entries[n]} for n in range(count)]
        self.loans += loans
        return loans


def feed(chain: Any, rows: list[FeedRow]) -> float:  # noqa: ANN401
    """The rows stored as the mirror stores feed pages; the rows per second."""
    t = time.perf_counter()
    for n in range(0, len(rows), PAGE):
        page = rows[n:n + PAGE]
        chain.mirror.apply(page, page[-1].index + 1)
    return len(rows) / (time.perf_counter() - t)


def body(loans: list[dict[str, Any]]) -> bytes:
    return json.dumps({"loans": loans}, ensure_ascii=False, separators=(",", ":")).encode()


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(chain: Any) -> tuple[Any, threading.Thread, str]:  # noqa: ANN401
    import uvicorn

    from service_chain.api import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(chain, manage_lifecycle=False), host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, name="service-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service chain's server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


class Timed:
    """The chain's methods behind the timed routes wrapped (on the instance; the routes look them up there), so each
    request's own server work is timed beside its round trip."""

    NAMES = ("add_loans", "certify", "propose", "accept", "pool")

    def __init__(self, chain: Any) -> None:  # noqa: ANN401
        self.times: dict[str, list[float]] = {name: [] for name in self.NAMES}
        for name in self.NAMES:
            setattr(chain, name, self._wrap(getattr(chain, name), self.times[name]))

    def __getattr__(self, name: str) -> list[float]:
        try:
            return self.__dict__["times"][name]
        except KeyError:
            raise AttributeError(name) from None

    @staticmethod
    def _wrap(fn: Any, into: list[float]) -> Any:  # noqa: ANN401
        def timed(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                into.append(time.perf_counter() - t)
        return timed


def profiled(top: int, fn: Any, *args: Any) -> tuple[float, list[str]]:  # noqa: ANN401
    """``fn(*args)`` under cProfile (an exception it raises is expected and dropped): its wall time with the profiler and
    the ``top`` functions by own time."""
    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.enable()
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 — a refusal is what is profiled
        pass
    finally:
        profiler.disable()
    wall = time.perf_counter() - t
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    lines = []
    for (file, line, name), (_, calls, own, cum, _) in sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]:  # type: ignore[attr-defined]
        where = f"{Path(file).name}:{line}({name})" if line else name
        lines.append(f"`{where}`: {own:.3f} s own ({own / total:.0%}), {cum:.3f} s with callees, {calls:,} calls")
    return wall, lines


# --- 1. the pool check ------------------------------------------------------------------------


def check_pool(lender: ServiceClient, loans: list[dict[str, Any]]) -> dict[str, Any]:
    """new_pool → add_loans (chunks of 5,000, two in flight as the SDK sends them) → certify over HTTP; the client's
    figures, the pool id and the certificate (the server's own times are added by ``with_server_times``)."""
    marks: list[float] = []
    t0 = time.perf_counter()
    pool_id = lender.new_pool("financing", FUNDER)
    t1 = time.perf_counter()
    verdicts = lender.add_loans(pool_id, loans, progress=lambda done: marks.append(time.perf_counter()), chunk=MAX_CHUNK_LOANS)
    t2 = time.perf_counter()
    cert = lender.certify(pool_id)
    t3 = time.perf_counter()
    chunks = [b - a for a, b in zip([t1, *marks[:-1]], marks, strict=True)]
    eligible = sum(v["eligible"] for v in verdicts)
    if eligible != len(loans):
        bad = next(v for v in verdicts if not v["eligible"])
        raise AssertionError(f"{len(loans) - eligible} loans are not eligible, e.g. {bad['loan_id']}: {bad['exceptions']}")
    return {"pool_id": pool_id, "certificate": cert["certificate"], "vkey": cert["vkey"],
            "figures": {"loans": len(loans), "records": sum(len(v["records"]) for v in loans), "end_to_end_s": round(t3 - t0, 3),
                        "new_pool_s": round(t1 - t0, 4), "upload_check_s": round(t2 - t1, 3), "certify_s": round(t3 - t2, 3),
                        "chunks": len(chunks), "chunk_loans": MAX_CHUNK_LOANS, "in_flight": 2,
                        "chunk_s": {"p50": round(statistics.median(chunks), 3), "max": round(max(chunks), 3)},
                        "loans_per_s": round(len(loans) / (t3 - t0))}}


def with_server_times(a: dict[str, Any], timed: Timed, first: int, say: Any) -> dict[str, Any]:  # noqa: ANN401
    """The pool check's figures with the server's own times of its chunks (``timed.add_loans[first:]``) and certify."""
    server = timed.add_loans[first:]
    f = a["figures"]
    f["certify_server_s"] = round(timed.certify[-1], 3)
    f["chunk_server_s"] = {"p50": round(statistics.median(server), 3), "max": round(max(server), 3), "sum": round(sum(server), 3)}
    say(f"  pool {a['pool_id']}: {f['loans']:,} loans checked and certified in {f['end_to_end_s']:.2f} s "
        f"(upload+check {f['upload_check_s']:.2f} s in {f['chunks']} chunks, certify {f['certify_s']:.2f} s)")
    return a


def fetch_proofs(lender: ServiceClient, pool_id: str, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < count:
        out += lender.proofs(pool_id, start=len(out), limit=10_000)["proofs"]
    return out


def floor(records: list[bytes], proofs: list[dict[str, Any]], root: bytes) -> dict[str, Any]:
    """The local work a pool check cannot avoid: hash the pool's records, hash the leaves and build the tree, check every
    loan's inclusion proof against the root. Proofs are decoded first (not timed)."""
    decoded = [(p["leaf"].encode(), p["index"], p["size"], [base64.b64decode(h) for h in p["inclusion_proof"]]) for p in proofs]
    t0 = time.perf_counter()
    digests = [hashlib.sha256(r).digest() for r in records]
    t1 = time.perf_counter()
    leaves = [leaf_hash(leaf) for leaf, _, _, _ in decoded]
    tree = PoolTree(leaves)
    t2 = time.perf_counter()
    if tree.root() != root:
        raise AssertionError("the tree rebuilt from the proofs' leaves does not have the certificate's root")
    for (_, index, size, path), lh in zip(decoded, leaves, strict=True):
        check_inclusion(lh, index, size, path, root)
    t3 = time.perf_counter()
    assert len(digests) == len(records)
    return {"s": round(t3 - t0, 3), "record_sha256_s": round(t1 - t0, 3), "tree_s": round(t2 - t1, 3), "inclusion_s": round(t3 - t2, 3)}


def verify_pool(book: Book, loans: list[dict[str, Any]], cert: str, vkey: str, proofs: list[dict[str, Any]], sample: int, seed: int) -> None:
    """The certificate verifies and counts every loan as eligible; each proof's leaf is its loan's, eligible, with the
    records' digests and codes as deposited; a sample of proofs passes ``verify_certificate`` in full."""
    c, _ = verify_certificate(cert, vkey)
    if c.loans != len(loans) or c.eligible != len(loans) or c.outstanding != sum(v["claimed_outstanding_fen"] for v in loans):
        raise AssertionError(f"the certificate counts {c.loans} loans, {c.eligible} eligible, {c.outstanding} fen outstanding")
    if len(proofs) != len(loans):
        raise AssertionError(f"{len(proofs)} proofs for {len(loans)} loans")
    for loan, proof in zip(loans, proofs, strict=True):
        leaf = json.loads(proof["leaf"])
        if leaf["loan_id"] != loan["loan_id"] or not leaf["eligible"] or leaf["exceptions"]:
            raise AssertionError(f"leaf {proof['index']} is not {loan['loan_id']} eligible: {proof['leaf'][:300]}")
        if [(r["deposit_code"], book.digests[r["digest"]]) for r in leaf["records"]] != \
                [(r["deposit_code"], loan["loan_id"]) for r in loan["records"]]:
            raise AssertionError(f"leaf {proof['index']}'s records are not {loan['loan_id']}'s deposits")
    for proof in random.Random(seed).sample(proofs, min(sample, len(proofs))):
        verify_certificate(cert, vkey, proof)


def profile_add_loans(chain: Any, loans: list[dict[str, Any]], top: int) -> tuple[float, list[str]]:  # noqa: ANN401
    """``ServiceChain.add_loans`` in process on one chunk (a fresh open pool; not certified) under cProfile."""
    pool_id = chain.create_pool(LENDER, "financing", FUNDER)["pool_id"]
    return profiled(top, chain.add_loans, LENDER, pool_id, body(loans[:MAX_CHUNK_LOANS]))


def profile_registry(chain: Any, lender: ServiceClient, lender_key: Any, funder_key: Any, registered: str, first: str, second: str,  # noqa: ANN401
                     single: tuple[str, str], top: int) -> dict[str, tuple[float, list[str]]]:
    """In process, after the timed runs: a single-loan pool's pledge (``single``: its registration and pool) released,
    proposed again and its ``accept`` profiled; the refusal of the second big pool again (``ServiceChain.propose`` →
    DoublePledge); then the first big pool's pledge released, proposed again and its ``accept`` profiled (so every pool
    ends pledged as before)."""
    amount, term = 10_000_000_000, 36
    out = {}
    chain.release(FUNDER, single[0], funder_key.sign(release_text(chain.config.chain_id, single[0]).encode()))
    rid = f"R-profile-one-{time.perf_counter_ns()}"
    terms = lender.terms(lender.pool(single[1]), rid, 1_000_000, 12)
    chain.propose(LENDER, single[1], rid, 1_000_000, 12, lender_key.sign(terms_text(terms).encode()))
    out["accept_one"] = profiled(top, chain.accept, FUNDER, rid, funder_key.sign(terms_text(terms).encode()))
    rid = f"R-profile-refusal-{time.perf_counter_ns()}"
    terms = lender.terms(lender.pool(second), rid, amount, term)
    out["propose_refused"] = profiled(top, chain.propose, LENDER, second, rid, amount, term, lender_key.sign(terms_text(terms).encode()))
    chain.release(FUNDER, registered, funder_key.sign(release_text(chain.config.chain_id, registered).encode()))
    rid = f"R-profile-accept-{time.perf_counter_ns()}"
    terms = lender.terms(lender.pool(first), rid, amount, term)
    chain.propose(LENDER, first, rid, amount, term, lender_key.sign(terms_text(terms).encode()))
    out["accept"] = profiled(top, chain.accept, FUNDER, rid, funder_key.sign(terms_text(terms).encode()))
    return out


# --- 2 and 3. the registry --------------------------------------------------------------------


def http_floor(client: ServiceClient, count: int) -> dict[str, Any]:
    """The transport's floor in this set-up: ``count`` round trips of ``GET /healthz`` (no signature, no database) from the
    same client on the same keep-alive connection."""
    times = []
    for _ in range(count):
        t = time.perf_counter()
        client.http.get("/healthz").raise_for_status()
        times.append(time.perf_counter() - t)
    return latencies(times)


def durable_commits(path: Path, count: int) -> dict[str, Any]:
    """The disk's floor for a registration, which appends an entry durably: ``count`` commits of one small row to a scratch
    SQLite database beside the chain's (WAL, synchronous=FULL, as the chain's store)."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, v BLOB)")
        times = []
        for i in range(count):
            t = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?, ?)", (i, os.urandom(200)))
            conn.execute("COMMIT")
            times.append(time.perf_counter() - t)
    finally:
        conn.close()
    return latencies(times)


def single_pools(chain: Any, loans: list[dict[str, Any]]) -> list[tuple[str, str]]:  # noqa: ANN401
    """For each loan two certified pools holding only it (in process; not timed): (first, second)."""
    pairs = []
    for loan in loans:
        ids = []
        for _ in range(2):
            pool_id = chain.create_pool(LENDER, "financing", FUNDER)["pool_id"]
            result = chain.add_loans(LENDER, pool_id, body([loan]))
            if result["eligible"] != 1:
                raise AssertionError(f"single-loan pool of {loan['loan_id']}: {result['loans'][0]['exceptions']}")
            chain.certify(LENDER, pool_id)
            ids.append(pool_id)
        pairs.append((ids[0], ids[1]))
    return pairs


def propose_post(lender: ServiceClient, pool: dict[str, Any], amount: int, term: int) -> dict[str, Any]:
    """``POST /v1/registrations`` for a pool already read (``GET /v1/pools/ID``), its terms built and signed as the SDK does."""
    rid = f"R-{pool['pool_id']}-{time.perf_counter_ns()}"
    terms = lender.terms(pool, rid, amount, term)
    return lender._send("POST", "/v1/registrations", {"registration_id": rid, "pool_id": pool["pool_id"], "amount_fen": amount,
                                                      "term_months": term, "lender_signature": lender._sign(terms_text(terms))})


def refused(what: str, call: Any, *args: Any) -> None:  # noqa: ANN401
    """``call(*args)`` must be answered 409 already-encumbered."""
    try:
        call(*args)
    except ServiceError as exc:
        if exc.status == 409 and exc.slug == "already-encumbered":
            return
        raise
    raise AssertionError(f"{what} was registered although its loans are pledged")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latencies(values: list[float]) -> dict[str, Any]:
    p50, p99 = quantile(values, 0.5) * 1000, quantile(values, 0.99) * 1000
    return {"n": len(values), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "max_ms": round(max(values) * 1000, 2),
            "p99_ratio_to_limit": round(p99 / P99_LIMIT_MS, 2), "met": p99 < P99_LIMIT_MS}


def register_singles(lender: ServiceClient, funder: ServiceClient, pairs: list[tuple[str, str]], warmup: int) -> dict[str, Any]:
    """Each loan's first pool registered (propose + accept), then its second pool refused, one client, one at a time (the
    server's own times of the accept and of the refused POST are added by ``singles_server_times``)."""
    propose_s, accept_s, both_s, refusal_s, refusal_post_s = [], [], [], [], []
    for n, (first, second) in enumerate(pairs):
        t0 = time.perf_counter()
        registration = lender.propose(first, 1_000_000, 12)
        t1 = time.perf_counter()
        done = funder.accept(registration)
        t2 = time.perf_counter()
        if done["state"] != "registered":
            raise AssertionError(f"registration of {first}: {done['state']}")
        t3 = time.perf_counter()
        refused(second, lender.propose, second, 1_000_000, 12)
        t4 = time.perf_counter()
        pool = lender.pool(second)
        t5 = time.perf_counter()
        refused(second, propose_post, lender, pool, 1_000_000, 12)
        t6 = time.perf_counter()
        if n >= warmup:
            propose_s.append(t1 - t0)
            accept_s.append(t2 - t1)
            both_s.append(t2 - t0)
            refusal_s.append(t4 - t3)
            refusal_post_s.append(t6 - t5)
    return {"pools": len(pairs) - warmup, "last": [registration["registration_id"], pairs[-1][0]], "warmup": warmup, "propose_accept": latencies(both_s), "propose": latencies(propose_s),
            "accept": latencies(accept_s), "refusal": latencies(refusal_s), "refusal_post": latencies(refusal_post_s)}


def singles_server_times(one: dict[str, Any], timed: Timed, accepts: int, proposes: int) -> dict[str, Any]:
    """The server's own time of each counted accept and refused POST: per pair one accept and three proposes (the
    registered one, the SDK's refused one, the refused POST), counted from ``accepts`` and ``proposes``."""
    warmup = one["warmup"]
    accept = timed.accept[accepts:][warmup:]
    refusal = timed.propose[proposes:][2::3][warmup:]
    return {**one, "accept_server": latencies(accept), "refusal_server": latencies(refusal)}


def register_pool(lender: ServiceClient, funder: ServiceClient, first: str, second: str, loans: int) -> dict[str, Any]:
    """The whole pool registered (propose + accept, as the SDK does them: read the pool, post the proposal, accept), then a
    second pool of the same loans refused (read it, post → 409)."""
    t0 = time.perf_counter()
    pool = lender.pool(first)
    t1 = time.perf_counter()
    registration = propose_post(lender, pool, 10_000_000_000, 36)
    t2 = time.perf_counter()
    done = funder.accept(registration)
    t3 = time.perf_counter()
    if done["state"] != "registered" or json.loads(done["terms"])["loans"] != loans:
        raise AssertionError(f"registration of the pool: {done['state']}, terms {done['terms'][:300]}")
    t4 = time.perf_counter()
    other = lender.pool(second)
    t5 = time.perf_counter()
    refused(second, propose_post, lender, other, 10_000_000_000, 36)
    t6 = time.perf_counter()
    register_s, refusal_s = t3 - t0, t6 - t4
    return {"loans": loans, "register_s": round(register_s, 3), "read_pool_s": round(t1 - t0, 3), "propose_post_s": round(t2 - t1, 3),
            "accept_s": round(t3 - t2, 3), "registration_id": registration["registration_id"],
            "register_per_s": round(loans / register_s), "register_ratio": round(loans / register_s / RATE_LIMIT, 2),
            "refusal_s": round(refusal_s, 3), "refusal_read_pool_s": round(t5 - t4, 3),
            "refusal_post_s": round(t6 - t5, 3),
            "refusal_per_s": round(loans / refusal_s), "refusal_ratio": round(loans / refusal_s / RATE_LIMIT, 2),
            "met": loans / register_s >= RATE_LIMIT and loans / refusal_s >= RATE_LIMIT}


def pool_server_times(many: dict[str, Any], timed: Timed) -> dict[str, Any]:
    """``register_pool``'s figures with the server's own times (its last two pool reads, proposes, and its accept)."""
    return {**many, "accept_server_s": round(timed.accept[-1], 3), "read_pool_server_s": round(timed.pool[-2], 3),
            "propose_server_s": round(timed.propose[-2], 3), "refusal_server_s": round(timed.propose[-1], 3),
            "refusal_read_pool_server_s": round(timed.pool[-1], 3)}


# --- the clients, in their own process ----------------------------------------------------------

_CLIENTS: dict[str, ServiceClient] = {}  # in the clients' process: "lender" and "funder"


def _start_clients(url: str, lender_key_file: str, funder_key_file: str) -> None:
    from chain.keys import load_private_key

    _CLIENTS["lender"] = ServiceClient(url, lender_id=LENDER, key=load_private_key(lender_key_file))
    _CLIENTS["funder"] = ServiceClient(url, party_id=FUNDER, key=load_private_key(funder_key_file))
    for client in _CLIENTS.values():
        client.chain_id  # noqa: B018 — learnt once, before any clock starts


def _as_lender(fn: Any, *args: Any) -> Any:  # noqa: ANN401
    return fn(_CLIENTS["lender"], *args)


def _as_both(fn: Any, *args: Any) -> Any:  # noqa: ANN401
    return fn(_CLIENTS["lender"], _CLIENTS["funder"], *args)


def warm_up(lender: ServiceClient, loans: list[dict[str, Any]]) -> None:
    """The server's first requests (imports, caches) and the client's connection, not counted."""
    warm = lender.new_pool("financing", FUNDER)
    lender.add_loans(warm, loans)
    lender.certify(warm)


class Clients:
    """The lender and the funder in a process of their own, as they are in use (another firm's machines): their signing
    and JSON do not wait for the server's interpreter lock, nor the server for theirs; they still share the 2 cores."""

    def __init__(self, url: str, workdir: Path, lender_key: Any, funder_key: Any) -> None:  # noqa: ANN401
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from chain.keys import write_private_key

        files = [workdir / "lender.key", workdir / "funder.key"]
        for path, key in zip(files, (lender_key, funder_key), strict=True):
            write_private_key(path, key)
        self._process = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_clients,
                                            initargs=(url, *map(str, files)))

    def lender(self, fn: Any, *args: Any) -> Any:  # noqa: ANN401
        return self._process.submit(_as_lender, fn, *args).result()

    def both(self, fn: Any, *args: Any) -> Any:  # noqa: ANN401
        return self._process.submit(_as_both, fn, *args).result()

    def close(self) -> None:
        self._process.shutdown(wait=True)


# --- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, say: Any) -> dict[str, Any]:  # noqa: ANN401
    from service_chain.service import ServiceChain, ServiceConfig

    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-service-"))
    try:
        now = int(time.time() * 1000)
        book = Book()
        t = time.perf_counter()
        pool_loans = book.add("LN", args.loans, args.seed, now - 6 * 3_600_000, 3_600_000)  # over 3 hours, ending 3 hours ago
        singles = book.add("SL", args.singles + args.warmup, args.seed + 1, now - 2 * 3_600_000, 600_000)  # 30 minutes, an hour ago
        say(f"made {len(book.rows):,} deposits ({args.loans:,} + {args.singles + args.warmup:,} loans) in {time.perf_counter() - t:.1f} s")
        chain = ServiceChain(ServiceConfig(workdir / "service"))
        chain.start()
        server = None
        try:
            lender_key, funder_key = generate_private_key(), generate_private_key()
            chain.sync_lenders([FeedLender(LENDER, "Bench lender 贷款机构", public_key_bytes(lender_key.public_key()), True)])
            chain.add_party(FUNDER, "Bench funder 资金方", "funder", public_key_bytes(funder_key.public_key()))
            rate = feed(chain, book.rows)
            say(f"mirrored {len(book.rows):,} deposits at {rate:,.0f} rows/s (pages of {PAGE:,})")
            timed = Timed(chain)
            gc.collect()
            gc.freeze()  # the bench's own book (the records, rows and loans it sends) is not the server's: keep it out of its collections
            server, thread, url = serve(chain)
            clients = Clients(url, workdir, lender_key, funder_key)
            with ServiceClient(url, lender_id=LENDER, key=lender_key) as lender:  # this process's own, for what is not timed
                chain.warm_workers()  # as `fivechains service serve` does once the chain has started
                clients.lender(warm_up, singles[:300])
                say(f"pool check: {args.loans:,} loans over HTTP …")
                first = len(timed.add_loans)
                a = with_server_times(clients.lender(check_pool, pool_loans), timed, first, say)
                proofs = fetch_proofs(lender, a["pool_id"], args.loans)
                cert_root = verify_certificate(a["certificate"], a["vkey"])[0].root
                low = floor(book.records[:4 * args.loans], proofs, cert_root)  # the pool's loans came first, 4 records each
                verify_pool(book, pool_loans, a["certificate"], a["vkey"], proofs, args.verify_sample, args.seed)
                say(f"  floor {low['s']:.2f} s (records {low['record_sha256_s']:.2f}, tree {low['tree_s']:.2f}, proofs {low['inclusion_s']:.2f}); "
                    f"every loan eligible, the certificate and {len(proofs):,} proofs verify")
                say("a second pool of the same loans (to be refused) …")
                first = len(timed.add_loans)
                b = with_server_times(clients.lender(check_pool, pool_loans), timed, first, say)
                profiles = {"add_loans": profile_add_loans(chain, pool_loans, args.profile_top)} if args.profile else {}
                commits = durable_commits(workdir / "commits.db", args.singles)
                transport = clients.lender(http_floor, args.singles)
                say(f"registry: {args.singles + args.warmup:,} pairs of single-loan pools (set-up, in process) …")
                pairs = single_pools(chain, singles)
                accepts, proposes = len(timed.accept), len(timed.propose)
                one = singles_server_times(clients.both(register_singles, pairs, args.warmup), timed, accepts, proposes)
                say(f"  accept p50 {one['accept']['p50_ms']:.2f} ms p99 {one['accept']['p99_ms']:.2f} ms; refusal p50 "
                    f"{one['refusal']['p50_ms']:.2f} ms p99 {one['refusal']['p99_ms']:.2f} ms")
                many = pool_server_times(clients.both(register_pool, a["pool_id"], b["pool_id"], args.loans), timed)
                say(f"  pool: registered {many['register_per_s']:,} loans/s, refused {many['refusal_per_s']:,} loans/s")
                clients.close()
                if args.profile:
                    profiles.update(profile_registry(chain, lender, lender_key, funder_key, many["registration_id"], a["pool_id"], b["pool_id"],
                                                     tuple(one["last"]), args.profile_top))
                overview = chain.overview()
                if overview["loans_pledged"] != args.loans + args.singles + args.warmup:
                    raise AssertionError(f"{overview['loans_pledged']} loans pledged, expected {args.loans + args.singles + args.warmup}")
        finally:
            if server is not None:
                server.should_exit = True
                thread.join(timeout=30)
            chain.stop()
        db_bytes = sum(f.stat().st_size for f in (workdir / "service").glob("service.db*"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    e2e = a["figures"]["end_to_end_s"]
    pool = {**a["figures"], "floor": low, "ratio_to_limit": round(e2e / POOL_LIMIT_S * (POOL_LIMIT_LOANS / args.loans), 2),
            "ratio_to_floor": round(e2e / low["s"], 1), "limit_s": POOL_LIMIT_S,
            "scaled_limit_s": round(POOL_LIMIT_S * args.loans / POOL_LIMIT_LOANS, 3), "met": e2e <= POOL_LIMIT_S * args.loans / POOL_LIMIT_LOANS,
            "verified": {"eligible": args.loans, "proofs_checked": len(proofs), "proofs_verified_in_full": min(args.verify_sample, len(proofs))},
            "second_pool": b["figures"]}
    figures: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(), "summary": machine_summary()},
        "sizes": {"loans": args.loans, "records": len(book.records), "singles": args.singles, "warmup": args.warmup, "seed": args.seed,
                  "database_bytes": db_bytes,
                  "mirror_rows_per_s": round(rate)},
        "pool_check": pool, "registry_one": {**one, "durable_commit": commits, "http_floor": transport}, "registry_pool": many}
    if profiles:
        figures["profile"] = {name: {"wall_s": round(wall, 3), "top": top} for name, (wall, top) in profiles.items()}
        figures["profile"]["add_loans"]["chunk_loans"] = min(MAX_CHUNK_LOANS, args.loans)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=100_000, help="loans in the pool (4 records each)")
    parser.add_argument("--singles", type=int, default=500, help="single-loan registrations and refusals timed")
    parser.add_argument("--warmup", type=int, default=20, help="single-loan registrations and refusals before the timed ones")
    parser.add_argument("--verify-sample", type=int, default=200, help="proofs also checked with verify_certificate in full")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--profile", action="store_true", help="after the timed runs, cProfile in process ServiceChain.add_loans on one chunk, "
                        "a big pool's refused propose and its accept; the top functions go in the notes")
    parser.add_argument("--profile-top", type=int, default=12, help=argparse.SUPPRESS)
    parser.add_argument("--note", action="append", help="a paragraph appended to the section's notes (repeat)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of the section")
    parser.add_argument("--render", type=Path, metavar="FIGURES", help="no run: the section from figures saved with --json (with --note, --write)")
    parser.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md (otherwise it is only printed)")
    parser.add_argument("--no-write", action="store_true", help=argparse.SUPPRESS)  # what `scripts/bench all --no-write` passes: the default
    args = parser.parse_args()
    if min(args.loans, args.singles, args.verify_sample) < 1 or args.warmup < 0:
        parser.error("--loans, --singles and --verify-sample must be positive, --warmup not negative")
    say = (lambda text: print(text, file=sys.stderr, flush=True))
    if args.render:
        figures = json.loads(args.render.read_text())
        for name in ("loans", "singles", "warmup", "seed"):
            setattr(args, name, figures["sizes"][name])
    else:
        figures = run(args, say)
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
    else:
        text = section(figures, args)
        print(text)
        if args.write:
            write_section("service", "Service chain: pool check and the pledge registry (issue 16)", text)


def section(f: dict[str, Any], args: argparse.Namespace) -> str:
    p, one, many = f["pool_check"], f["registry_one"], f["registry_pool"]

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    scaled = "" if args.loans == POOL_LIMIT_LOANS else f" (scaled: {p['scaled_limit_s']:g} s for {args.loans:,})"
    low = p["floor"]
    rows = [
        (f"Pool check end to end over HTTP: {p['loans']:,} loans ({p['records']:,} records) — `new_pool`, `add_loans` in "
         f"{p['chunks']} chunks of {p['chunk_loans']:,}, `certify`", f"{p['end_to_end_s']:.2f} s",
         f"{p['ratio_to_limit']:.2f}× of limit; {p['ratio_to_floor']:.1f}× the floor", f"≤ 10 s per 100,000 loans{scaled}", met(p["met"])),
        (f"… upload + check per chunk of {p['chunk_loans']:,} (p50 / max; of which `ServiceChain.add_loans` p50 / max)",
         f"{p['chunk_s']['p50']:.3f} / {p['chunk_s']['max']:.3f} s", f"server {p['chunk_server_s']['p50']:.3f} / {p['chunk_server_s']['max']:.3f} s",
         "(breakdown)", ""),
        (f"… all chunks; `certify` (tree over {p['loans']:,} leaves, signed note, entry); `new_pool`",
         f"{p['upload_check_s']:.2f} s; {p['certify_s']:.3f} s; {p['new_pool_s'] * 1000:.1f} ms",
         f"server {p['chunk_server_s']['sum']:.2f} s; {p['certify_server_s']:.3f} s", "(breakdown)", ""),
        (f"Floor, same run: SHA-256 of the {p['records']:,} records, leaf hashes and the tree over {p['loans']:,} leaves, every loan's "
         "inclusion proof checked against the root (local, proofs fetched beforehand)", f"{low['s']:.3f} s",
         f"{low['record_sha256_s']:.3f} + {low['tree_s']:.3f} + {low['inclusion_s']:.3f} s", "(floor)", ""),
        (f"A second pool of the same {p['second_pool']['loans']:,} loans, same path (before the first is registered)",
         f"{p['second_pool']['end_to_end_s']:.2f} s", f"{p['second_pool']['end_to_end_s'] / POOL_LIMIT_S * POOL_LIMIT_LOANS / args.loans:.2f}× of limit",
         "(repeat)", ""),
    ]
    for key, name in (("accept", "Registration of a single-loan pool: `accept` (the funder's signature; the entry appended, the loan encumbered)"),
                      ("propose_accept", "… `propose` + `accept` (the SDK's propose reads the pool, then posts)"),
                      ("refusal", "Refusal of a second pool of a pledged loan: SDK `propose` → 409 already-encumbered"),
                      ("refusal_post", "… the `POST /v1/registrations` alone → 409")):
        c = one[key]
        server = one.get({"accept": "accept_server", "refusal_post": "refusal_server"}.get(key, ""))
        inside = f" (server p50 / p99 {server['p50_ms']:.2f} / {server['p99_ms']:.2f} ms)" if server else ""
        rows.append((f"{name}; {c['n']:,} loans, one client, p50 / p99{inside}", f"{c['p50_ms']:.2f} / {c['p99_ms']:.2f} ms",
                     f"p99 {c['p99_ratio_to_limit']:.2f}× of limit", "p99 < 10 ms", met(c["met"])))
    c, h = one["durable_commit"], one["http_floor"]
    rows += [(f"For scale: a bare durable SQLite commit of one small row on this disk (WAL, synchronous=FULL, as the chain's store); "
              f"{c['n']:,} commits, p50 / p99", f"{c['p50_ms']:.2f} / {c['p99_ms']:.2f} ms", "", "(floor)", ""),
             (f"For scale: `GET /healthz` (no signature, no database) from the same client, {h['n']:,} round trips, p50 / p99",
              f"{h['p50_ms']:.2f} / {h['p99_ms']:.2f} ms", "", "(floor)", "")]
    rows += [
        (f"Registration of the {many['loans']:,}-loan pool as the SDK does it: read the pool {many['read_pool_s']:.3f} s (server "
         f"{many['read_pool_server_s']:.3f}) + `POST /v1/registrations` {many['propose_post_s']:.3f} s (server {many['propose_server_s']:.3f}) + "
         f"the funder's `accept` {many['accept_s']:.3f} s (server {many['accept_server_s']:.3f})",
         f"{many['register_per_s']:,} loans/s", f"{many['register_ratio']:.2f}× the target", "≥ 50,000 loans/s",
         met(many["register_per_s"] >= RATE_LIMIT)),
        (f"Refusal of a second {many['loans']:,}-loan pool of the same loans (certified before the first was registered): read the pool "
         f"{many['refusal_read_pool_s']:.3f} s (server {many['refusal_read_pool_server_s']:.3f}) + `POST` → 409 {many['refusal_post_s']:.3f} s "
         f"(server {many['refusal_server_s']:.3f})", f"{many['refusal_per_s']:,} loans/s", f"{many['refusal_ratio']:.2f}× the target",
         "≥ 50,000 loans/s", met(many["refusal_per_s"] >= RATE_LIMIT)),
    ]
    lines = [
        f"Command: `./scripts/bench service` (loans={args.loans:,}, singles={args.singles:,}, warmup={args.warmup}, seed={args.seed}); "
        f"SQLite (WAL, synchronous=FULL), {f['sizes']['database_bytes'] / 1e6:,.0f} MB at the end",
        f"Machine: {f['machine']['summary']}",
        "",
        *results_table(rows),
        "",
        f"The chain runs in this process (`ServiceChain` started, no judicial anchoring, no feed URL); its mirror was fed "
        f"{f['sizes']['records']:,} anchored deposits directly (`mirror.apply`, pages of {PAGE:,}, {f['sizes']['mirror_rows_per_s']:,} rows/s): "
        f"per loan a contract, a disbursement and two repayments, each a JSON record whose digest is the SHA-256 of its RFC 8785 text, "
        f"each with its own deposit code, deposited 1.5 s after the event. The API (`create_app`) is served by uvicorn in a thread of the "
        f"same process on loopback; the lender and the funder are `ServiceClient`s in the main thread (every request signed with Ed25519 "
        f"when sent, records sent as their canonical texts), so client and server share the GIL and the 2 cores. After the pool check every "
        f"loan came back eligible, the certificate verified, every leaf named its loan's deposits and codes, all "
        f"{p['verified']['proofs_checked']:,} inclusion proofs reached the root and {p['verified']['proofs_verified_in_full']} "
        f"went through `verify_certificate` in full; at the end {many['loans'] + one['pools'] + one['warmup']:,} loans were pledged. "
        f"The single-loan pools ({one['pools'] + one['warmup']:,} pairs) were made in process before the clock; the first "
        f"{one['warmup']} registrations are not counted.",
    ]
    if "profile" in f:
        pr = f["profile"]
        what = {"add_loans": f"`ServiceChain.add_loans` on one chunk of {pr['add_loans']['chunk_loans']:,} loans (a fresh pool)",
                "propose_refused": f"`ServiceChain.propose` of the second {many['loans']:,}-loan pool, refused again",
                "accept": f"`ServiceChain.accept` of the first {many['loans']:,}-loan pool (released and proposed again first)",
                "accept_one": "`ServiceChain.accept` of a single-loan pool (released and proposed again first)"}
        for name, p_ in pr.items():
            lines += ["", f"Profile, in process after the timed runs: {what[name]} under cProfile ({p_['wall_s']:.3f} s with the profiler); "
                          "top functions by own time:", "", *[f"- {line}" for line in p_["top"]]]
    for note in args.note or ():
        lines += ["", note]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
