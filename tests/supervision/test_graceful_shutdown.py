"""SIGTERM under load: requests in flight are answered, and everything acknowledged is sealed
before the process exits (sealing is set far off, so only the graceful stop can seal it)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from chain.audit import audit_ledger
from chain_sql import open_store
from supervision_chain.client import DepositItem, LenderClient

from .conftest import SupervisionServer, register


def test_sigterm_finishes_requests_and_seals_what_was_acknowledged(tmp_path: Path) -> None:
    data_dir = tmp_path / "supervision"
    data_dir.mkdir()
    server = SupervisionServer(data_dir, "--seal-interval-ms", "3600000", "--seal-entries", "1000000").start()
    key = register(data_dir, "L1")
    acked: dict[int, str] = {}
    lock, stop = threading.Lock(), threading.Event()

    def load(worker: int) -> None:
        with LenderClient(server.url, "L1", key, retries=0, timeout=30) as client:
            n = 0
            while not stop.is_set() and n < 500:
                items = [DepositItem(f"{worker:08x}{n:08x}{k:048x}", "repayment", f"w{worker}-{n}", int(time.time() * 1000)) for k in range(50)]
                try:
                    answer = client.deposit(items)
                except (httpx.ConnectError, httpx.RemoteProtocolError):
                    return  # refused before it was read (the server stopped listening): not acknowledged
                with lock:
                    acked.update((item["index"], item["digest"]) for item in answer["items"])
                n += 1

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 2000 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.process.send_signal(signal.SIGTERM)  # graceful: stop listening, finish what is in flight, seal, close
    code = server.process.wait(timeout=60)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert code in (0, -signal.SIGTERM) and len(acked) >= 2000  # (uvicorn re-raises the signal once it has shut down)

    store = open_store(data_dir / "supervision.db")
    try:
        sealed = store.latest_block().tree_size
        assert sealed == store.size() >= max(acked) + 1  # nothing acknowledged was left unsealed
        stored = {e.index: e.data for e in store.entries(0, sealed)}
        assert all(f'"digest":"{digest}"'.encode() in stored[index] for index, digest in acked.items())
        assert audit_ledger(store).ok
    finally:
        store.close()
