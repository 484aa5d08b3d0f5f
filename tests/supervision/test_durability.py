"""202 means on disk: SIGKILL the server under load, restart it, find every acknowledged item."""

from __future__ import annotations

import threading
import time

from chain.audit import audit_ledger
from chain_sql import open_store
from supervision_chain.client import DepositItem, LenderClient


def test_sigkill_under_load_loses_no_acknowledged_deposit(server, lenders) -> None:
    acked: dict[int, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        with LenderClient(server.url, "L1", lenders["L1"], retries=0, timeout=10) as c:
            n = 0
            while not stop.is_set() and n < 2000:
                items = [DepositItem(f"{worker:08x}{n:08x}{k:048x}", "repayment", f"w{worker}-{n}", int(time.time() * 1000)) for k in range(20)]
                try:
                    answer = c.deposit(items)
                except Exception:
                    return  # the server died mid-request: that request was not acknowledged
                with lock:
                    for item in answer["items"]:
                        acked[item["index"]] = item["digest"]
                n += 1

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 1500 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL, mid-stream
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) >= 1500, "not enough load before the kill"

    server.start()
    try:
        with LenderClient(server.url, "L1", lenders["L1"]) as c:
            for index in sorted(acked)[:: max(1, len(acked) // 200)]:  # a spread of them, over the API
                assert c.status(index)["digest"] == acked[index]
            last = max(acked)
            assert c.status(last, wait=10)["status"] == "sealed"  # the restarted sealer seals the backlog
    finally:
        server.stop()
    # every acknowledged item, and nothing half-written: entries and deposit rows agree, the ledger audits clean
    store = open_store(server.data_dir / "supervision.db")
    try:
        entries = {e.index: e.data for e in store.iter_entries()}
        for index, digest in acked.items():
            assert f'"digest":"{digest}"' in entries[index].decode()
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT count(*), coalesce(max(idx) + 1, 0) FROM sv_deposit").one()
        assert tuple(rows) == (len(entries), len(entries))
        report = audit_ledger(store)
        assert report.ok, report.findings
    finally:
        store.close()
