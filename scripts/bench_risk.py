"""Risk-chain indicator benchmarks (issue 14): a full recompute of every indicator over 1,000,000 reports
(100 lenders, 365 days), its ratio to a bare columnar scan of the same rows in the same run, and the
incremental update for one block of 10,000 new reports.

The reports are synthetic and deterministic (``risk_chain.synthetic``, fixed seed). The block is the
last 10,000 reports in ledger order of one generated table, held back from the full recompute, so it
is what a real sealed block looks like: recent events from every lender plus a few late reports.

Run through ``./scripts/bench risk``; ``--reports 20000 --block 1000 --no-write`` for a quick check.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_report import machine_summary, results_table, write_section  # noqa: E402

from risk_chain.indicators import INDICATORS, RiskIndicators  # noqa: E402
from risk_chain.synthetic import synthetic_reports  # noqa: E402

SCAN = ("SELECT count(*), sum(idx), sum(event_ms), sum(deposit_ms), count(lender_id), count(record_type), count(loan_id), "
        "count(borrower), sum(amount), sum(principal), sum(rate_bp), sum(days_past_due), count(channel) FROM reports")


def timed(fn, repeat: int) -> float:  # noqa: ANN001
    """Median seconds of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--lenders", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--block", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    t = time.perf_counter()
    table = synthetic_reports(args.lenders, args.days, args.reports + args.block, seed=14)
    base, block = table.slice(0, args.reports), table.slice(args.reports)
    print(f"generated {table.num_rows:,} reports in {time.perf_counter() - t:.1f} s", flush=True)

    risk = RiskIndicators()
    risk.recompute(base)
    scan_s = timed(lambda: risk.db.execute(SCAN).fetchall(), args.repeat * 3)
    full_s = timed(lambda: risk.recompute(), args.repeat)
    rows_out = risk.results().num_rows
    print(f"full recompute {full_s:.2f} s ({rows_out:,} lender-days × {len(INDICATORS)} indicators); bare scan {scan_s * 1000:.0f} ms", flush=True)

    incr = []
    for _ in range(args.repeat):
        risk.recompute(base)
        t = time.perf_counter()
        risk.add_block(block)
        incr.append(time.perf_counter() - t)
    incr_s = statistics.median(incr)
    print(f"incremental block of {block.num_rows:,}: {incr_s * 1000:.0f} ms", flush=True)

    rows = [
        (f"Full recompute of every indicator ({len(INDICATORS)}) for {args.reports:,} reports, {args.lenders} lenders, {args.days} days "
         f"({rows_out:,} lender-days)", f"{full_s:.2f} s", f"{full_s / 10:.2f}× of limit", "≤ 10 s", "met" if full_s <= 10 else "NOT met"),
        ("Bare columnar scan of the same rows (DuckDB SUM/COUNT over every column), same run", f"{scan_s * 1000:.0f} ms",
         f"full recompute = {full_s / scan_s:.0f}× the scan", "(reference)", ""),
        (f"Incremental update for one block of {block.num_rows:,} reports (the last in ledger order)", f"{incr_s * 1000:.0f} ms",
         f"{incr_s / 0.3:.2f}× of limit", "≤ 300 ms", "met" if incr_s <= 0.3 else "NOT met"),
    ]
    body = "\n".join([f"Command: `./scripts/bench risk` (reports={args.reports:,}, lenders={args.lenders}, days={args.days}, block={args.block:,}, "
                      f"repeat={args.repeat}; synthetic reports, seed 14; DuckDB in process, fed Arrow tables)",
                      f"Machine: {machine_summary()}", "", *results_table(rows)])
    print(body)
    if not args.no_write:
        write_section("risk", "Risk-chain indicators (issue 14)", body)


if __name__ == "__main__":
    main()
