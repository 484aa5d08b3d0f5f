"""The judicial chain goes down under load: deposits keep being accepted and sealed, anchors
queue, and after the restart every deposit ends with exactly one deposit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.keys import public_key_bytes
from chain_sql import open_store
from evidence.deposit_codes import is_valid
from judicial_chain.certs import ensure_consortium
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.registry import add_lender
from supervision_chain.service import DEFAULT_CHAIN_ID, SupervisionConfig, open_supervision_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import ROOT, SupervisionServer, free_port  # noqa: E402


def _judicial(data_dir: Path, certs: Path, port: int) -> subprocess.Popen:
    log = open(data_dir.parent / "judicial.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "fivechains.cli", "judicial", "serve", "--data-dir", str(data_dir),
                             "--certs", str(certs), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def test_outage_of_the_judicial_chain_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    certs, jdir, sdir = tmp_path / "certs", tmp_path / "judicial", tmp_path / "supervision"
    sdir.mkdir()
    ensure_consortium(certs, [DEFAULT_CHAIN_ID])
    jport = free_port()
    sv = SupervisionServer(sdir, "--seal-interval-ms", "100", "--judicial", f"127.0.0.1:{jport}", "--certs", str(certs)).start()
    key = Ed25519PrivateKey.generate()
    store = open_supervision_store(SupervisionConfig(sdir))
    add_lender(store.engine, "L1", "Lender One", "GZ-1", public_key_bytes(key.public_key()))
    store.close()
    vkey = httpx.get(sv.url + "/v1/chain").json()["vkey"]
    subprocess.run([sys.executable, "-m", "fivechains.cli", "judicial", "source", "add", DEFAULT_CHAIN_ID, "--vkey", vkey,
                    "--data-dir", str(jdir), "--create"], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    judicial = _judicial(jdir, certs, jport)
    acked: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        with LenderClient(sv.url, "L1", key) as c:
            n = 0
            while not stop.is_set() and n < 400:
                items = [DepositItem(f"{worker:08x}{n:08x}{k:048x}", "repayment", f"w{worker}-{n}", int(time.time() * 1000)) for k in range(10)]
                answer = c.deposit(items)
                with lock:
                    acked.extend(i["index"] for i in answer["items"])
                n += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(2)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.5)
        _stop(judicial)  # the judicial chain goes away under load
        down_at = len(acked)
        time.sleep(3)
        assert len(acked) > down_at, "deposits must keep being accepted while the judicial chain is down"
        with LenderClient(sv.url, "L1", key) as c:
            assert c.status(max(acked), wait=10)["status"] in {"sealed", "anchored"}  # and sealed
        judicial = _judicial(jdir, certs, jport)
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        with LenderClient(sv.url, "L1", key) as c:
            views = c.wait_for(sorted(acked), "anchored", timeout=60)
        codes = [views[i]["deposit_code"] for i in sorted(acked)]
        assert all(views[i]["status"] == "anchored" for i in acked)
        assert all(is_valid(code) for code in codes) and len(set(codes)) == len(acked)
    finally:
        stop.set()
        sv.stop()
        if judicial.poll() is None:
            _stop(judicial)
    # exactly one judicial entry per deposit: nothing lost, nothing anchored twice
    jstore = open_store(jdir / "judicial.db")
    try:
        assert jstore.size() == len(acked)
    finally:
        jstore.close()
