"""The report feed (issue 14): reports per second from the supervision chain to the risk chain.

A real `fivechains supervision serve` (SQLite, durable) holds ``--reports`` deposits with typed reports
(the risk scenario's mix, deposited through the SDK in signed 1,000-item batches); the risk chain's feed
client then pages through all of them over HTTP, as the service does: (1) pages read and turned into the
Arrow table the indicators take, (2) the same plus the indicators brought up to date page by page
(``RiskIndicators.add_block``), i.e. the risk chain's whole ingest. Target: ≥ 50,000 reports/s for (1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_report import machine_summary, results_table, write_section  # noqa: E402
from bench_supervision import free_port, stop, wait_up  # noqa: E402

from chain.keys import generate_private_key, public_key_bytes  # noqa: E402
from evidence.digests import digest_json  # noqa: E402
from risk_chain.feed import FeedClient  # noqa: E402
from risk_chain.indicators import RiskIndicators  # noqa: E402
from risk_chain.scenario import history  # noqa: E402
from supervision_chain.client import DepositItem, LenderClient  # noqa: E402
from supervision_chain.registry import add_lender  # noqa: E402
from supervision_chain.service import SupervisionConfig, open_supervision_store  # noqa: E402

TARGET = 50_000


def deposit(url: str, reports: int) -> None:
    """``reports`` items with reports, from the scenario's mix, by 8 lenders in signed 1,000-item batches (4 at a time)."""
    template = history(int(time.time() * 1000))
    keys = {f"B{n:03d}": generate_private_key() for n in range(8)}
    data_dir = Path(os.environ["BENCH_FEED_DIR"])
    store = open_supervision_store(SupervisionConfig(data_dir))
    for lender, key in keys.items():
        add_lender(store.engine, lender, f"Bench {lender}", "GZ-BENCH", public_key_bytes(key.public_key()))
    store.close()
    batches = []
    for b in range(reports // 1000):
        lender = f"B{b % 8:03d}"
        rows = [template[(b * 1000 + i) % len(template)] for i in range(1000)]
        batches.append((lender, [DepositItem(digest_json({"n": b * 1000 + i}), r.record_type, f"{r.loan_id}-{b}", r.event_time_ms, report=r.report)
                                 for i, r in enumerate(rows)]))

    def send(batch: tuple[str, list[DepositItem]]) -> None:
        with LenderClient(url, batch[0], keys[batch[0]]) as client:
            client.deposit(batch[1])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, batches))


def read_all(url: str, token: str, with_indicators: bool) -> tuple[int, float]:
    figures = RiskIndicators() if with_indicators else None
    count, start, position = 0, time.perf_counter(), 0
    with FeedClient(url, token) as feed:
        while True:
            page = feed.page(position, 10_000)
            if figures is not None and page.count:
                figures.add_block(page.table)
            count += page.count
            if page.count < 10_000:
                break
            position = page.next
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=300_000, help="reports deposited, then read through the feed")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-feed-"))
    data_dir = workdir / "sv"
    os.environ["BENCH_FEED_DIR"] = str(data_dir)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "supervision", "serve", "--data-dir", str(data_dir), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(port, proc)
        started = time.perf_counter()
        deposit(url, args.reports)
        deposit_s = time.perf_counter() - started
        token = (data_dir / "regulator.token").read_text().strip()
        while FeedClient(url, token).page(0, 1).sealed_size < args.reports:
            time.sleep(0.2)
        runs = [read_all(url, token, False) for _ in range(3)]
        count, feed_s = min(runs, key=lambda r: r[1])
        _, ingest_s = read_all(url, token, True)
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    feed_rate, ingest_rate = count / feed_s, count / ingest_s
    rows = [
        (f"Feed: {count:,} reports paged over HTTP into the indicators' Arrow table (best of 3)", f"{feed_rate:,.0f} reports/s",
         f"{feed_rate / TARGET:.2f}× the target", "≥ 50,000 reports/s", "met" if feed_rate >= TARGET else "NOT met"),
        ("Ingest: the same, and the indicators brought up to date page by page (add_block)", f"{ingest_rate:,.0f} reports/s",
         f"{ingest_rate / feed_rate:.2f}× the feed alone", "(ratio)", ""),
        ("For scale: depositing them (signed 1,000-item batches with reports, 4 connections, durable)",
         f"{args.reports / deposit_s:,.0f} reports/s", "", "", ""),
    ]
    body = "\n".join([
        f"Command: `./scripts/bench feed` (reports={args.reports:,}); the reader shares the 2 cores with the server",
        f"Machine: {machine_summary()}",
        "",
        *results_table(rows),
        "",
        "The server writes each page from the stored canonical report texts in one indexed range query; the reader decodes a "
        "page with msgspec and fills the Arrow columns in one pass.",
    ])
    if args.no_write:
        print(body)
    else:
        write_section("feed", "Report feed: supervision chain → risk chain (issue 14)", body)


if __name__ == "__main__":
    main()
