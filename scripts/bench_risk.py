"""Risk-chain indicator benchmarks (issue 14): a full recompute of every indicator over 1,000,000 reports
(100 lenders, 365 days), its ratio to a bare columnar scan of the same rows in the same run, and the
incremental update for a block of 10,000 new reports: the median of 5 consecutive blocks.

The reports are synthetic and deterministic (``risk_chain.synthetic``, fixed seed). The blocks are the
last 5 x 10,000 reports in ledger order of one generated table, held back from the full recompute, so
they are what real sealed blocks look like: recent events from every lender plus a few late reports,
each block moving the last day forward. After them the figures are compared with a full recompute of
every report (they must be identical).

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
    parser.add_argument("--blocks", type=int, default=5, help="consecutive blocks timed (the median is reported)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    t = time.perf_counter()
    table = synthetic_reports(args.lenders, args.days, args.reports + args.blocks * args.block, seed=14)
    base = table.slice(0, args.reports)
    blocks = [table.slice(args.reports + i * args.block, args.block) for i in range(args.blocks)]
    print(f"generated {table.num_rows:,} reports in {time.perf_counter() - t:.1f} s", flush=True)

    risk = RiskIndicators()
    risk.recompute(base)
    scan_s = timed(lambda: risk.db.execute(SCAN).fetchall(), args.repeat * 3)
    full_s = timed(lambda: risk.recompute(), args.repeat)
    rows_out = risk.results().num_rows
    print(f"full recompute {full_s:.2f} s ({rows_out:,} lender-days × {len(INDICATORS)} indicators); bare scan {scan_s * 1000:.0f} ms", flush=True)

    incr = []  # on top of the recompute just timed
    for block in blocks:
        t = time.perf_counter()
        risk.add_block(block)
        incr.append(time.perf_counter() - t)
    incr_s = statistics.median(incr)
    print(f"incremental blocks of {args.block:,}: " + ", ".join(f"{x * 1000:.0f}" for x in incr) + f" ms (median {incr_s * 1000:.0f} ms)",
          flush=True)
    full = RiskIndicators()
    full.recompute(table)
    same = risk.results().equals(full.results())
    print(f"figures after the blocks {'equal' if same else 'DIFFER FROM'} a full recompute of all {table.num_rows:,} reports", flush=True)

    rows = [
        (f"Full recompute of every indicator ({len(INDICATORS)}) for {args.reports:,} reports, {args.lenders} lenders, {args.days} days "
         f"({rows_out:,} lender-days)", f"{full_s:.2f} s", f"{full_s / 10:.2f}× of limit", "≤ 10 s", "met" if full_s <= 10 else "NOT met"),
        ("Bare columnar scan of the same rows (DuckDB SUM/COUNT over every column), same run", f"{scan_s * 1000:.0f} ms",
         f"full recompute = {full_s / scan_s:.0f}× the scan", "(reference)", ""),
        (f"Incremental update for one block of {args.block:,} reports, block arrival to updated figures: median of {args.blocks} "
         f"consecutive blocks (each {', '.join(f'{x * 1000:.0f}' for x in incr)} ms)", f"{incr_s * 1000:.0f} ms",
         f"{incr_s / 0.3:.2f}× of limit", "≤ 300 ms", "met" if incr_s <= 0.3 else "NOT met"),
        (f"Figures after those blocks compared with a full recompute of all {table.num_rows:,} reports", "identical" if same else "DIFFERENT",
         "", "identical", "met" if same else "NOT met"),
    ]
    body = "\n".join([f"Command: `./scripts/bench risk` (reports={args.reports:,}, lenders={args.lenders}, days={args.days}, block={args.block:,}, "
                      f"blocks={args.blocks}, repeat={args.repeat}; synthetic reports, seed 14; DuckDB in process, fed Arrow tables)",
                      f"Machine: {machine_summary()}", "", *results_table(rows)])
    print(body)
    if not args.no_write:
        write_section("risk", "Risk-chain indicators (issue 14)", body)
    if not same:
        sys.exit("the incremental figures differ from a full recompute")


if __name__ == "__main__":
    main()
