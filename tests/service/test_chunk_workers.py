"""Pool chunks checked in worker processes, and chunks sent together stored in their lender's order.

A worker's verdicts must be the request thread's, exception for exception; a malformed chunk is refused the same way
and writes nothing; a lost worker costs nothing but time; chunks numbered by ``position`` are stored in that order
whichever is checked first, and one whose turn cannot come is refused; a pledge registered while a chunk was being
checked is seen in its verdicts."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import msgspec
import pytest

from chain.keys import generate_private_key, public_key_bytes
from evidence.canonical_json import canonical_json
from evidence.deposit_codes import new_code
from service_chain.chunk_order import ChunkOrder
from service_chain.client import pool_loan, record_entry
from service_chain.config import ServiceConfig
from service_chain.deposit_mirror import FeedReport, FeedRow
from service_chain.registry import terms_text
from service_chain.service import PoolState, ServiceChain, Viewer
from service_kit.problems import InvalidInput
from service_kit.report_feed import FeedLender

NOW = int(time.time() * 1000)
MINUTE = 60_000
LOANS = 60


def _book(n: int) -> tuple[list[FeedRow], list[dict]]:
    """``n`` loans of lender L1 (contract, disbursement, a repayment); every 7th quotes a wrong code, every 11th carries a
    record never deposited, every 13th claims the wrong outstanding — so the verdicts differ from loan to loan."""
    rows, loans = [], []
    for k in range(n):
        loan_id, records = f"LN-{k:03d}", []
        for kind, report in (("contract", FeedReport(principal=100_000, rate_bp=1200)), ("disbursement", FeedReport(amount=100_000)),
                             ("repayment", FeedReport(principal=30_000, amount=31_000))):
            record = {"loan": loan_id, "type": kind, "pad": "x" * 200}
            code = new_code()
            i = len(rows)
            rows.append(FeedRow(i, "L1", kind, loan_id, NOW - 10 * MINUTE + i, NOW - 10 * MINUTE + i + 500,
                                hashlib.sha256(canonical_json(record)).hexdigest(), report, code))
            records.append(record_entry(record, new_code() if k % 7 == 3 and kind == "disbursement" else code))
        if k % 11 == 5:
            records.append(record_entry({"loan": loan_id, "type": "repayment", "forged": True}, new_code()))
        loans.append(pool_loan(loan_id, 70_001 if k % 13 == 4 else 70_000, records))
    return rows, loans


def _body(loans: list[dict], position: int | None = None) -> bytes:
    return json.dumps({"loans": loans, **({} if position is None else {"position": position})}).encode()


def _chain(path: Path, workers: int) -> ServiceChain:
    chain = ServiceChain(ServiceConfig(path, seal_interval_ms=20, check_workers=workers, worker_min_bytes=1))
    chain.start()
    lender, funder = generate_private_key(), generate_private_key()
    chain.sync_lenders([FeedLender("L1", "Lender One", public_key_bytes(lender.public_key()), True)])
    chain.add_party("F1", "Funder One", "funder", public_key_bytes(funder.public_key()))
    chain.keys = (lender, funder)  # type: ignore[attr-defined]
    return chain


@pytest.fixture(scope="module")
def book() -> tuple[list[FeedRow], list[dict]]:
    return _book(LOANS)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, book: tuple[list[FeedRow], list[dict]]):
    """Two chains fed the same deposits: one checks every chunk in a worker process, one in the request's thread."""
    rows, _ = book
    chains = (_chain(tmp_path_factory.mktemp("workers") / "service", 1), _chain(tmp_path_factory.mktemp("inline") / "service", 0))
    for chain in chains:
        chain.mirror.apply(rows, len(rows))
    yield chains
    for chain in chains:
        chain.stop()


def _leaves(chain: ServiceChain, pool_id: str) -> list[dict]:
    from service_chain.tables import PoolLoan

    table = PoolLoan.__table__  # type: ignore[attr-defined]
    with chain.store.read_engine.connect() as conn:
        leaves = [msgspec.json.decode(r[0]) for r in conn.execute(table.select().with_only_columns(table.c.leaf)
                                                                   .where(table.c.pool_id == pool_id).order_by(table.c.seq))]
    for leaf in leaves:
        leaf.pop("salt")
    return leaves


def test_a_worker_gives_the_request_threads_verdicts(pair, book) -> None:
    (workers, inline), (_, loans) = pair, book
    answers, leaves = [], []
    for chain in (workers, inline):
        pool = chain.create_pool("L1", "financing", "F1")["pool_id"]
        answers.append(chain.add_loans("L1", pool, _body(loans)))
        leaves.append(_leaves(chain, pool))
    assert answers[0]["loans"] == answers[1]["loans"] and leaves[0] == leaves[1]
    assert multiprocessing.active_children(), "the chunk was checked in a worker process"
    codes = {e["code"] for v in answers[0]["loans"] for e in v["exceptions"]}
    assert {"wrong-code", "unknown-record", "claim-mismatch"} <= codes and 0 < answers[0]["eligible"] < LOANS
    assert [leaf["loan_id"] for leaf in leaves[0]] == [loan["loan_id"] for loan in loans]
    pool = workers.pool(Viewer("lender", "L1"), answers[0]["pool_id"])
    assert (pool["loans"], pool["eligible"]) == (LOANS, answers[0]["eligible"])


@pytest.mark.parametrize("body, says", [
    (b"{not json", "not JSON"),
    (json.dumps({"loans": [{"loan_id": "LN-1", "claimed_outstanding_fen": -1, "records": [{"deposit_code": "X", "canonical": "{}"}]}]}).encode(),
     "must not be negative"),
    (json.dumps({"loans": [{"loan_id": "bad id!", "claimed_outstanding_fen": 1, "records": [{"deposit_code": "X", "canonical": "{}"}]}]}).encode(),
     "loan_id must be"),
    (json.dumps({"loans": [{"loan_id": "LN-1", "claimed_outstanding_fen": 1, "records": [{"deposit_code": "X"}]}]}).encode(), "exactly one of"),
])
def test_a_malformed_chunk_is_refused_by_a_worker_as_in_the_thread(pair, body: bytes, says: str) -> None:
    details = []
    for chain in pair:
        pool = chain.create_pool("L1", "financing", "F1")["pool_id"]
        with pytest.raises(InvalidInput) as refused:
            chain.add_loans("L1", pool, body)
        details.append(refused.value.detail)
        assert chain.pool(Viewer("lender", "L1"), pool)["loans"] == 0  # nothing written
    assert details[0] == details[1] and says in details[0]


def test_a_lost_worker_costs_a_chunk_its_worker_not_its_answer(pair, book) -> None:
    workers, (_, loans) = pair[0], book
    pool = workers.create_pool("L1", "financing", "F1")["pool_id"]
    workers.add_loans("L1", pool, _body(loans[:10]))
    before = multiprocessing.active_children()
    assert before
    for process in before:
        os.kill(process.pid, signal.SIGKILL)
    for process in before:
        process.join(timeout=10)
    answer = workers.add_loans("L1", pool, _body(loans[10:20]))  # the pool's workers are gone: checked here instead
    assert answer["added"] == 10
    answer = workers.add_loans("L1", pool, _body(loans[20:30]))  # and the next chunk starts fresh workers
    assert answer["added"] == 10
    after = multiprocessing.active_children()
    assert after and not {p.pid for p in after} & {p.pid for p in before}
    assert [leaf["loan_id"] for leaf in _leaves(workers, pool)] == [loan["loan_id"] for loan in loans[:30]]


def test_chunks_sent_together_are_stored_in_their_order(pair, book) -> None:
    """A later chunk checked first waits for the one before it: the pool holds the loans in the order sent."""
    workers, (_, loans) = pair[0], book
    pool = workers.create_pool("L1", "financing", "F1")["pool_id"]
    slow, fast = loans[:40], loans[40:45]
    results: dict[str, object] = {}
    check = workers._check_chunk  # noqa: SLF001 — slowed for the first chunk only, so the second is checked first
    first_checked = threading.Event()

    def slowed(lender_id: str, purpose: str, body: bytes):  # noqa: ANN202
        checked = check(lender_id, purpose, body)
        if checked.position == 0:
            assert first_checked.wait(30)
            time.sleep(0.3)  # the second chunk is waiting for its turn by now
        else:
            first_checked.set()
        return checked

    workers._check_chunk = slowed  # type: ignore[method-assign]
    try:
        threads = [threading.Thread(target=lambda name=name, body=body: results.__setitem__(name, workers.add_loans("L1", pool, body)))
                   for name, body in (("first", _body(slow, 0)), ("second", _body(fast, 40)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        del workers._check_chunk
    assert {name: r["added"] for name, r in results.items()} == {"first": 40, "second": 5}  # type: ignore[index]
    assert [leaf["loan_id"] for leaf in _leaves(workers, pool)] == [loan["loan_id"] for loan in slow + fast]


def test_a_chunk_whose_turn_cannot_come_is_refused(pair, book) -> None:
    workers, (_, loans) = pair[0], book
    pool = workers.create_pool("L1", "financing", "F1")["pool_id"]
    with pytest.raises(PoolState) as refused:
        workers.add_loans("L1", pool, _body(loans[5:10], position=5))  # nothing before it is on its way
    assert "goes after 5 loans" in refused.value.detail and "holds 0" in refused.value.detail
    workers.add_loans("L1", pool, _body(loans[:5], position=0))
    with pytest.raises(PoolState):
        workers.add_loans("L1", pool, _body(loans[10:12], position=0))  # the pool has passed position 0
    assert workers.add_loans("L1", pool, _body(loans[5:10], position=5))["added"] == 5
    assert [leaf["loan_id"] for leaf in _leaves(workers, pool)] == [loan["loan_id"] for loan in loans[:10]]


def test_a_pledge_registered_during_the_check_is_in_the_verdicts(pair, book) -> None:
    """The registry is read again under the write lock: a loan pledged while its chunk was checked is not eligible."""
    workers, (_, loans) = pair[0], book
    lender, funder = workers.keys  # type: ignore[attr-defined]
    clean = [loan for n, loan in enumerate(loans) if n % 7 != 3 and n % 11 != 5 and n % 13 != 4][:6]
    pool = workers.create_pool("L1", "financing", "F1")["pool_id"]
    check = workers._check_chunk  # noqa: SLF001 — a pledge of the first loan lands between the check and the store

    def then_pledged(lender_id: str, purpose: str, body: bytes):  # noqa: ANN202
        checked = check(lender_id, purpose, body)
        workers._check_chunk = check  # type: ignore[method-assign] — the other pool's own chunk is checked plainly
        other = workers.create_pool("L1", "financing", "F1")["pool_id"]
        workers.add_loans("L1", other, _body(clean[:1]))
        workers.certify("L1", other)
        from service_chain.tables import Pool

        with workers.store.read_engine.connect() as conn:
            row = conn.execute(Pool.__table__.select().where(Pool.__table__.c.id == other)).one()  # type: ignore[attr-defined]
        terms = workers._terms(row, "R-during", 50_000, 6)  # noqa: SLF001 — the terms both sign, as the chain builds them
        workers.propose("L1", other, "R-during", 50_000, 6, lender.sign(terms_text(terms).encode()))
        workers.accept("F1", "R-during", funder.sign(terms_text(terms).encode()))
        return checked

    workers._check_chunk = then_pledged  # type: ignore[method-assign]
    try:
        answer = workers.add_loans("L1", pool, _body(clean))
    finally:
        del workers._check_chunk
    verdicts = {v["loan_id"]: [e["code"] for e in v["exceptions"]] for v in answer["loans"]}
    assert verdicts[clean[0]["loan_id"]] == ["pledged"] and all(not codes for codes in list(verdicts.values())[1:])
    assert answer["eligible"] == len(clean) - 1


def test_chunk_order_alone() -> None:
    """The turn-taking without a chain: a waiter proceeds when the pool reaches its position, gives up when nothing
    still here can bring it there, or when the pool is past it."""
    order, held = ChunkOrder(patience_s=30), [0]
    outcome: list[bool] = []
    with order.arriving("P"):  # the first chunk, being checked
        waiter = threading.Thread(target=lambda: outcome.append(_wait(order, "P", 5, held)))
        waiter.start()
        time.sleep(0.2)
        assert waiter.is_alive() and not outcome  # it waits while the first is here and not waiting
        held[0] = 5  # the first chunk stored
    waiter.join(timeout=10)
    assert outcome == [True]
    assert _wait(order, "P", 9, held) is False  # alone: nothing can fill the gap
    assert _wait(order, "P", 3, held) is False  # the pool is past it
    with order.arriving("P"):
        failing = threading.Thread(target=lambda: outcome.append(_wait(order, "P", 7, held)))
        failing.start()
        time.sleep(0.2)
    failing.join(timeout=10)  # the chunk before it left without storing anything
    assert outcome == [True, False]


def _wait(order: ChunkOrder, pool: str, position: int, held: list[int]) -> bool:
    with order.arriving(pool):
        return order.wait_turn(pool, position, lambda: held[0])


def test_rows_without_a_stored_leaf_hash_certify_the_same_tree(pair, book) -> None:
    """A pool whose loans were checked before leaf hashes were stored (migration 0002 leaves them empty) is certified
    over the hashes of its leaves; every proof reaches the certified root either way."""
    from sqlalchemy import update

    from chain.merkle import leaf_hash
    from service_chain.certificate import verify_certificate, verify_proof
    from service_chain.pool_tree import PoolTree
    from service_chain.tables import PoolLoan

    inline, (_, loans) = pair[1], book
    table = PoolLoan.__table__  # type: ignore[attr-defined]
    pool = inline.create_pool("L1", "financing", "F1")["pool_id"]
    inline.add_loans("L1", pool, _body(loans[:9]))
    with inline.store.read_engine.connect() as conn:
        stored = conn.execute(table.select().with_only_columns(table.c.leaf, table.c.leaf_hash).where(table.c.pool_id == pool)
                              .order_by(table.c.seq)).all()
    assert all(h == leaf_hash(leaf.encode(), inline.suite) for leaf, h in stored)
    with inline.store.engine.begin() as conn:
        conn.execute(update(table).where(table.c.pool_id == pool, table.c.seq % 2 == 0).values(leaf_hash=None))
    cert = inline.certify("L1", pool)
    checked, _ = verify_certificate(cert["certificate"], inline.vkey)
    assert checked.root == PoolTree([leaf_hash(leaf.encode(), inline.suite) for leaf, _ in stored], inline.suite).root()
    inline._trees.clear()  # noqa: SLF001 — the proofs' tree rebuilt from the table, not the one kept at certify
    proofs = inline.proofs(Viewer("lender", "L1"), pool, start=0, limit=100)["proofs"]
    assert [verify_proof(checked, p)["loan_id"] for p in proofs] == [loan["loan_id"] for loan in loans[:9]]


def test_workers_end_with_the_chains_process_even_on_kill_9(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = ("import json, multiprocessing, sys, time\n"
              "from service_chain.chunk_workers import ChunkWorkers\n"
              "if __name__ == '__main__':\n"
              f"    w = ChunkWorkers('sqlite:///{tmp_path / 'db.sqlite'}', 2)\n"
              "    w.warm()\n"
              "    print(json.dumps([p.pid for p in multiprocessing.active_children()]), flush=True)\n"
              "    time.sleep(120)\n")
    (tmp_path / "served.py").write_text(script)
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, str(tmp_path / "served.py")], stdout=subprocess.PIPE, text=True, cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root)})
    try:
        pids = json.loads(parent.stdout.readline())  # type: ignore[union-attr]
        assert len(pids) == 2
    finally:
        parent.kill()
        parent.wait(timeout=10)
    deadline = time.monotonic() + 15
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
    assert not alive, f"workers {alive} outlived their chain"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"
