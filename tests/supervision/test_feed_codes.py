"""Deposit codes in the regulator's feed, on a supervision chain anchoring into a real judicial chain.

Every feed row carries its deposit code (null until its block is anchored); ``anchored=true`` stops a page at
the anchored tree size, so a reader that quotes codes never sees a row whose code is still to come. The judicial
chain is stopped half-way so that sealed and anchored sizes differ; every consumer's decoder reads the new page.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credit_chain.feed_rows import decode_consent, decode_page
from judicial_chain.certs import ensure_consortium
from risk_chain.feed import FeedClient
from service_kit.report_feed import ReportFeed
from supervision_chain.api.routes.feed import reports_page
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.service import DEFAULT_CHAIN_ID

from .conftest import register
from .test_reports_feed import REPORTS, digest, feed, now_ms, wait_sealed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import ROOT, SupervisionServer, free_port  # noqa: E402


def _judicial(data_dir: Path, certs: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(data_dir.parent / "judicial.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "fivechains.cli", "judicial", "serve", "--data-dir", str(data_dir),
                             "--certs", str(certs), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _unique_keys(text: bytes) -> dict[str, Any]:
    """The JSON object, refusing a key given twice (json.loads would keep the last silently)."""
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        assert len(keys) == len(set(keys)), f"a key given twice: {keys}"
        return dict(items)
    return json.loads(text, object_pairs_hook=pairs)


@dataclass
class Anchoring:
    sv: SupervisionServer
    key: Ed25519PrivateKey
    judicial: subprocess.Popen[bytes]
    jdir: Path
    certs: Path
    jport: int

    def restart_judicial(self) -> None:
        self.judicial = _judicial(self.jdir, self.certs, self.jport)


@pytest.fixture
def anchoring(tmp_path: Path) -> Iterator[Anchoring]:
    certs, jdir, sdir = tmp_path / "certs", tmp_path / "judicial", tmp_path / "supervision"
    sdir.mkdir()
    ensure_consortium(certs, [DEFAULT_CHAIN_ID])
    jport = free_port()
    sv = SupervisionServer(sdir, "--seal-interval-ms", "100", "--judicial", f"127.0.0.1:{jport}", "--certs", str(certs)).start()
    vkey = httpx.get(sv.url + "/v1/chain").json()["vkey"]
    subprocess.run([sys.executable, "-m", "fivechains.cli", "judicial", "source", "add", DEFAULT_CHAIN_ID, "--vkey", vkey,
                    "--data-dir", str(jdir), "--create"], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    running = Anchoring(sv, register(sdir, "L1"), _judicial(jdir, certs, jport), jdir, certs, jport)
    try:
        yield running
    finally:
        sv.stop()
        _stop(running.judicial)


def _items(prefix: str, t: int) -> list[DepositItem]:
    return [DepositItem(digest(f"{prefix}-{kind}"), kind, f"loan-{prefix}-{kind}", t, report=report) for kind, report in REPORTS.items()] + \
           [DepositItem(digest(f"{prefix}-plain"), "repayment", f"loan-{prefix}-plain", t)]  # no report: not in the feed


def test_codes_come_back_into_the_feed_and_anchored_pages_stop_at_the_anchored_size(anchoring: Anchoring) -> None:
    sv, t = anchoring.sv, now_ms() - 1000
    with LenderClient(sv.url, "L1", anchoring.key) as client:
        first = client.deposit(_items("a", t))["items"]
        views = client.wait_for([i["index"] for i in first], "anchored", timeout=60)
        _stop(anchoring.judicial)  # from here blocks are sealed but not anchored
        second = client.deposit(_items("b", t))["items"]
        sealed = wait_sealed(sv, second[-1]["index"] + 1)
        assert client.status(second[0]["index"])["status"] == "sealed"
    codes = {i: v["deposit_code"] for i, v in views.items()}

    everything = feed(sv)
    page = _unique_keys(everything.content)
    anchored_size = page["anchored_size"]
    assert max(codes) < anchored_size <= second[0]["index"] and page["sealed_size"] == sealed and page["next"] == sealed
    assert any(r["index"] >= anchored_size for r in page["reports"])  # the second batch: sealed, not anchored
    for row in page["reports"]:  # codes below the anchored size, as stored (upper case, no hyphens); null above it
        if row["index"] < anchored_size:
            assert row["deposit_code"] == codes[row["index"]] and row["deposit_code"] == row["deposit_code"].upper()
        else:
            assert row["deposit_code"] is None and "deposit_code" in row

    only = feed(sv, anchored="true").json()
    assert only["anchored_size"] == anchored_size and only["sealed_size"] == sealed and only["next"] == anchored_size
    assert only["reports"] == [r for r in page["reports"] if r["index"] < anchored_size]
    assert all(r["deposit_code"] for r in only["reports"])
    assert feed(sv, anchored="true", start=anchored_size).json() == {"sealed_size": sealed, "anchored_size": anchored_size,
                                                                      "next": anchored_size, "reports": []}
    assert feed(sv, anchored="false").json() == page

    # paging with next and anchored=true covers each anchored report once, and stops at the anchored size
    seen, start = [], 0
    for _ in range(20):  # bounded: 6 anchored reports at 2 a page
        part = feed(sv, anchored="true", start=start, limit=2).json()
        seen += [r["index"] for r in part["reports"]]
        assert part["next"] == (part["reports"][-1]["index"] + 1 if len(part["reports"]) == 2 else anchored_size)
        if len(part["reports"]) < 2:
            break
        start = part["next"]
    assert seen == [r["index"] for r in only["reports"]]

    # the consent by its code: one row, exactly one deposit_code, the code asked for
    consent = first[list(REPORTS).index("consent")]["index"]  # the items are deposited in REPORTS' order
    answer = feed(sv, f"/v1/feed/consents/{codes[consent].lower()}")
    assert answer.status_code == 200, answer.text
    row = _unique_keys(answer.content)
    assert row["deposit_code"] == codes[consent] and row["index"] == consent and row["record_type"] == "consent"
    assert row == next(r for r in page["reports"] if r["index"] == consent)
    assert decode_consent(answer.content).deposit_code == codes[consent]

    # every consumer decodes the page: the shared client, the risk chain's Arrow table, the credit chain's rows
    with ReportFeed(sv.url, sv.token) as reader:
        assert _unique_keys(reader.page_bytes(0, 10_000, anchored=True)) == only
        assert _unique_keys(reader.page_bytes(0)) == page
    with FeedClient(sv.url, sv.token) as risk:
        table_page = risk.page(0)
        assert table_page.table["idx"].to_pylist() == [r["index"] for r in page["reports"]] and table_page.sealed_size == sealed
    credit = decode_page(everything.content)
    assert [(r.index, r.deposit_code) for r in credit.reports] == [(r["index"], r["deposit_code"]) for r in page["reports"]]

    # the judicial chain back: the queued blocks are anchored and the anchored size reaches the sealed size
    anchoring.restart_judicial()
    with LenderClient(sv.url, "L1", anchoring.key) as client:
        client.wait_for([i["index"] for i in second], "anchored", timeout=60)
    deadline = time.monotonic() + 30
    while (late := feed(sv, anchored="true").json())["anchored_size"] < sealed and time.monotonic() < deadline:  # bounded
        time.sleep(0.1)
    assert late["anchored_size"] == late["sealed_size"] == late["next"]
    assert [r["index"] for r in late["reports"]] == [r["index"] for r in page["reports"]] and all(r["deposit_code"] for r in late["reports"])


def test_a_chain_with_nothing_anchored_has_anchored_size_zero_and_empty_anchored_pages(server, client) -> None:
    client.deposit([DepositItem(digest("x"), "overdue", "loan-x", now_ms() - 1000, report=REPORTS["overdue"])])
    sealed = wait_sealed(server, 1)
    page = feed(server).json()
    assert page["anchored_size"] == 0 and [r["deposit_code"] for r in page["reports"]] == [None]
    assert feed(server, anchored="true").json() == {"sealed_size": sealed, "anchored_size": 0, "next": 0, "reports": []}


def test_the_page_formats_codes_the_same_on_both_paths() -> None:
    report = '{"amount_overdue":1,"days_past_due":1}'
    rows = [(3, "L1", "overdue", "loan-1", 5, 9, digest(1), "cd" * 32, None, report, "Z9CDMJPGEDG68A"),
            (4, "L1", "overdue", "loan-2", 6, 9, digest(2), "ef" * 32, '{"k":1}', report, None)]
    odd = [*rows, (5, 'L"2', "overdue", "loan\\3", 7, 9, digest(3), "01" * 32, None, report, None)]
    for page in (rows, odd):
        answer = _unique_keys(reports_page(page, 10, 10, 4))
        assert (answer["sealed_size"], answer["anchored_size"], answer["next"]) == (10, 4, 10)
        assert [(r["index"], r["lender_id"], r["deposit_code"], r.get("metadata")) for r in answer["reports"]] == \
               [(r[0], r[1], r[10], None if r[8] is None else json.loads(r[8])) for r in page]
