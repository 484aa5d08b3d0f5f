"""Verification jobs are court records: they survive a portal restart and are shared by every
portal on the same database; they run on a fixed pool; failed look-ups are paid for up front."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from judicial_chain.portal.accounts import add_judge
from judicial_chain.portal.jobs import CHUNK, JobStore
from judicial_chain.service import JudicialChain, JudicialConfig
from judicial_chain.verification import Evidence

from .portal_server import Portal, anchor_some, wait_done

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = "0000-0000-0000-00"  # well-formed, never issued


@pytest.fixture
def court(tmp_path: Path):
    """A judicial chain with four anchored deposits (digests 0…3) and a judge; yields (data_dir, codes, auth)."""
    data_dir = tmp_path / "judicial"
    codes = anchor_some(data_dir, tmp_path / "source.db")
    chain = JudicialChain(JudicialConfig(data_dir))
    try:
        judge = add_judge(chain.store.engine, "J1", "Judge One")
    finally:
        chain.close()
    return data_dir, codes, {"Authorization": f"Bearer {judge.token}"}


def _items(codes: list[str]) -> list[dict[str, str]]:
    return [{"code": codes[0], "digest": f"{0:064x}"}, {"code": codes[1], "digest": f"{9:064x}"},
            {"code": UNKNOWN, "digest": f"{1:064x}"}]


def test_a_job_and_its_reports_survive_a_restart_and_a_second_portal_sees_them(court, tmp_path) -> None:
    data_dir, codes, auth = court
    first = Portal(data_dir).start()
    try:
        job_id = httpx.post(first.url + "/v1/verifications", json={"case_id": "(2026)粤0192民初9号", "items": _items(codes)},
                            headers=auth).json()["job_id"]
        before = wait_done(first.url, job_id, auth)
        csv_before = httpx.get(f"{first.url}/v1/verifications/{job_id}/report.csv", headers=auth).text
    finally:
        first.stop()
    assert before["counts"]["verified"] == 1 and before["counts"]["tampered"] == 1 and before["counts"]["unknown_code"] == 1

    again = Portal(data_dir).start()  # a restart: a new app on the same database
    try:
        after = httpx.get(f"{again.url}/v1/verifications/{job_id}", headers=auth).json()
        assert after == before
        assert httpx.get(f"{again.url}/v1/verifications/{job_id}/report.csv", headers=auth).text == csv_before
        report = httpx.get(f"{again.url}/v1/verifications/{job_id}/report.html", headers=auth)
        assert report.status_code == 200 and "(2026)粤0192民初9号" in report.text and "数据不一致 tampered" in report.text
        bundle = httpx.get(f"{again.url}/v1/verifications/{job_id}/items/0/bundle", headers=auth)
        assert bundle.status_code == 200 and bundle.text

        # a second portal process on the same database sees the job too
        port = _free_port()
        log = open(tmp_path / "second-portal.log", "ab")
        second = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "judicial", "portal", "--data-dir", str(data_dir),
                                   "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_up(url, second)
            assert httpx.get(f"{url}/v1/verifications/{job_id}", headers=auth).json() == before
            submitted = httpx.post(url + "/v1/verifications", json={"case_id": "second", "items": _items(codes)}, headers=auth).json()
            done_there = wait_done(url, submitted["job_id"], auth)
            assert httpx.get(f"{again.url}/v1/verifications/{submitted['job_id']}", headers=auth).json() == done_there
        finally:
            second.terminate()
            second.wait(timeout=30)
    finally:
        again.stop()


def test_an_interrupted_job_is_resumed_on_start(court) -> None:
    """A job whose portal died mid-way (stored inputs, half its verdicts, a stale lease) is finished by the next portal."""
    data_dir, codes, auth = court
    chain = JudicialChain(JudicialConfig(data_dir))
    try:
        store = JobStore(chain.store.engine)
        items = [Evidence(codes[0], digest=f"{0:064x}")] * CHUNK + [Evidence(UNKNOWN, digest=f"{1:064x}")] * 5
        job = store.create("J1", "interrupted", items, owner="dead-portal")
        # the dead portal got as far as the first chunk, then stopped renewing its lease
        assert store.save_chunk(job.id, 0, [{"code": codes[0], "verdict": "verified"}] * CHUNK, "dead-portal")
        with chain.store.engine.begin() as conn:
            from judicial_chain.portal.jobs import JOB

            conn.execute(JOB.update().where(JOB.c.id == job.id).values(heartbeat_ms=0))
    finally:
        chain.close()
    portal = Portal(data_dir).start()
    try:
        view = wait_done(portal.url, job.id, auth)
    finally:
        portal.stop()
    assert view["status"] == "done" and view["done"] == CHUNK + 5
    assert view["counts"]["verified"] == CHUNK and view["counts"]["unknown_code"] == 5
    assert [i["verdict"] for i in view["items"][CHUNK:]] == ["unknown_code"] * 5


def test_jobs_run_on_a_bounded_pool(court) -> None:
    data_dir, codes, auth = court
    portal = Portal(data_dir, workers=2).start()
    peak, stop = [0], threading.Event()

    def busy() -> int:  # threads other than the ones serving requests (anyio's worker threads) and this watcher
        return sum(1 for t in threading.enumerate() if t.name not in ("AnyIO worker thread", "watcher"))

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], busy())
            time.sleep(0.002)

    try:
        baseline = busy()
        watcher = threading.Thread(target=watch, name="watcher")
        watcher.start()
        body = {"case_id": "many", "items": [{"code": codes[0], "digest": f"{0:064x}"}] * 8000}
        with httpx.Client(base_url=portal.url, headers=auth, timeout=60) as http:
            jobs = [http.post("/v1/verifications", json=body).json()["job_id"] for _ in range(10)]
        views = [wait_done(portal.url, j, auth) for j in jobs]
        stop.set()
        watcher.join()
    finally:
        portal.stop()
    assert all(v["status"] == "done" and v["counts"]["verified"] == 8000 for v in views)
    assert peak[0] - baseline <= 2, (baseline, peak[0])  # the two pool workers; not one thread per job


def test_a_big_batch_of_unknown_codes_cannot_spend_more_than_the_budget(court) -> None:
    """100,000 guessed codes against a budget of 20,000 failed look-ups a minute: 20,000 are looked up, no more."""
    data_dir, codes, auth = court
    portal = Portal(data_dir).start()  # the default budget: 20,000 a minute
    try:
        items = [{"code": UNKNOWN, "digest": f"{1:064x}"}] * 100_000
        job = httpx.post(portal.url + "/v1/verifications", json={"case_id": "guess", "items": items}, headers=auth, timeout=120)
        assert job.status_code == 202, job.text
        view = wait_done(portal.url, job.json()["job_id"], auth, timeout=300)
        assert view["counts"]["unknown_code"] == 20_000 and view["counts"]["not_checked"] == 80_000
        assert all(i["verdict"] == "not_checked" and "limit" in i["detail"] for i in view["items"][20_000:])
        # the budget is spent: the next batch is refused up front
        refused = httpx.post(portal.url + "/v1/verifications", json={"case_id": "more", "items": _items(codes)}, headers=auth)
        assert refused.status_code == 429 and refused.headers["content-type"].startswith("application/problem+json")
    finally:
        portal.stop()


def test_successful_look_ups_do_not_spend_the_budget(court) -> None:
    """The reservation is refunded for items that matched: a large honest batch is checked in full."""
    data_dir, codes, auth = court
    portal = Portal(data_dir, failed_lookups_per_minute=10).start()
    try:
        items = [{"code": codes[n % 4], "digest": f"{n % 4:064x}"} for n in range(5000)] + [{"code": UNKNOWN, "digest": f"{1:064x}"}] * 30
        job = httpx.post(portal.url + "/v1/verifications", json={"case_id": "honest", "items": items}, headers=auth).json()
        view = wait_done(portal.url, job["job_id"], auth)
    finally:
        portal.stop()
    assert view["counts"]["verified"] == 5000 and view["counts"]["unknown_code"] == 10 and view["counts"]["not_checked"] == 20


def test_a_page_of_verdicts_is_read_from_the_chunks_that_hold_it(court) -> None:
    """offset/limit across chunk boundaries give exactly that slice of the whole list (a progress poll reads none)."""
    data_dir, codes, auth = court
    portal = Portal(data_dir).start()
    try:
        items = [{"code": codes[n % 4], "digest": f"{n % 4:064x}", "path": f"item-{n}"} for n in range(2 * CHUNK + 500)]
        job = httpx.post(portal.url + "/v1/verifications", json={"case_id": "pages", "items": items}, headers=auth).json()["job_id"]
        everything = wait_done(portal.url, job, auth)["items"]
        assert [i["path"] for i in everything] == [f"item-{n}" for n in range(len(items))]
        for offset, limit in ((0, 1), (CHUNK - 10, 20), (CHUNK, CHUNK), (2 * CHUNK + 499, 5), (len(items), 3), (7, len(items))):
            page = httpx.get(f"{portal.url}/v1/verifications/{job}", params={"offset": offset, "limit": limit}, headers=auth).json()
            assert page["items"] == everything[offset : offset + limit], (offset, limit)
        bundle = httpx.get(f"{portal.url}/v1/verifications/{job}/items/{CHUNK + 3}/bundle", headers=auth)
        assert bundle.status_code == 200 and "tlog-proof" in bundle.text.splitlines()[0]
    finally:
        portal.stop()


def _free_port() -> int:
    from servers import free_port

    return free_port()


def _wait_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the second portal exited"
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the second portal did not come up")


def test_the_web_pages_do_not_import_the_api() -> None:
    """Jobs and reports live in their own modules: api.py imports web.py, never the other way round (no import circle)."""
    import ast

    portal = ROOT / "judicial_chain" / "portal"
    for name in ("web.py", "jobs.py", "report.py", "security.py", "limits.py", "accounts.py", "evidence_input.py"):
        for node in ast.walk(ast.parse((portal / name).read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("api", "judicial_chain.portal.api"), f"{name} imports the api module"
