"""The credit bureau's OPRF (RFC 9497, ristretto255-SHA512): identifiers per second in batches.

Server: BlindEvaluate of ``--batch``-element batches in VOPRF mode with the one batched DLEQ proof per
batch (threads over the CPUs, as the service runs it, and on one thread), and in OPRF mode without a
proof. Client (a lender): Blind, then Finalize with the proof verified. Target: the server evaluates
≥ 5,000 identifiers/s in VOPRF mode in one process. A sample of outputs is checked against Evaluate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_report import machine_summary, results_table, write_section  # noqa: E402

from evidence import oprf  # noqa: E402
from evidence.borrower_ids import check_character_person, oprf_input, parse_person_id  # noqa: E402

TARGET = 5_000
T = TypeVar("T")


def identifiers(count: int) -> list[bytes]:
    """OPRF inputs of ``count`` distinct, valid resident identity numbers."""
    out = []
    for n in range(count):
        day, month, year, sequence = n % 28 + 1, n // 28 % 12 + 1, 1950 + n // 336 % 70, n // 23_520 % 1000
        prefix = f"110105{year:04d}{month:02d}{day:02d}{sequence:03d}"
        out.append(oprf_input(parse_person_id(prefix + check_character_person(prefix))))
    return out


def batches(items: list[T], size: int) -> list[list[T]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50_000, help="identifiers evaluated in each measure")
    parser.add_argument("--batch", type=int, default=1_000, help="blinded elements per BlindEvaluate call (one proof each)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (and write nothing)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args()
    if args.count < 1 or not 1 <= args.batch <= oprf.MAX_BATCH:
        parser.error(f"--count must be ≥ 1 and --batch 1 to {oprf.MAX_BATCH}")

    mode, key = oprf.MODE_VOPRF, oprf.generate_key(oprf.MODE_VOPRF)
    inputs = identifiers(args.count)
    blind_s, blinded = timed(lambda: [oprf.blind(x, mode) for x in inputs])
    elements = batches([b for _, b in blinded], args.batch)

    voprf_s, responses = timed(lambda: [oprf.blind_evaluate(key, chunk, mode=mode) for chunk in elements])
    voprf_1_s, _ = timed(lambda: [oprf.blind_evaluate(key, chunk, mode=mode, workers=1) for chunk in elements])
    oprf_key = oprf.generate_key(oprf.MODE_OPRF)
    oprf_s, _ = timed(lambda: [oprf.blind_evaluate(oprf_key, chunk, mode=oprf.MODE_OPRF) for chunk in elements])

    def finalize_all() -> list[bytes]:
        out: list[bytes] = []
        for j, (evaluated, proof) in enumerate(responses):
            lo = j * args.batch
            out += oprf.finalize(inputs[lo:lo + len(evaluated)], [r for r, _ in blinded[lo:lo + len(evaluated)]], elements[j], evaluated,
                                 mode=mode, public_key=key.public, proof=proof)
        return out

    finalize_s, outputs = timed(finalize_all)
    sample = range(0, args.count, max(1, args.count // 100))
    if any(outputs[i] != oprf.evaluate(key, inputs[i], mode) for i in sample):
        sys.exit("finalize(blind_evaluate(blind(x))) differs from evaluate(x)")

    rate = {"server_voprf": args.count / voprf_s, "server_voprf_one_thread": args.count / voprf_1_s, "server_oprf": args.count / oprf_s,
            "client_blind": args.count / blind_s, "client_finalize": args.count / finalize_s, "client_blind_finalize": args.count / (blind_s + finalize_s)}
    threads = oprf.default_workers(args.batch)
    if args.json:
        print(json.dumps({"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                                      "summary": machine_summary()},
                          "suite": oprf.SUITE, "count": args.count, "batch": args.batch, "server_threads": threads, "target_per_s": TARGET,
                          "rates_per_s": {k: round(v) for k, v in rate.items()}, "ratio_to_target": round(rate["server_voprf"] / TARGET, 2),
                          "met": rate["server_voprf"] >= TARGET}, indent=2))
        return

    def row(what: str, key: str, target: bool = False, ratio: bool = True) -> tuple[str, str, str, str, str]:
        r = rate[key]
        return (what, f"{r:,.0f} identifiers/s", f"{r / TARGET:.2f}× the target" if ratio else "", "≥ 5,000/s" if target else "(context)",
                ("met" if r >= TARGET else "NOT met") if target else "")

    rows = [
        row(f"Bureau: BlindEvaluate, VOPRF, {args.batch:,}-element batches, one DLEQ proof each ({threads} threads)", "server_voprf", True),
        row("… the same on one thread", "server_voprf_one_thread"),
        row(f"Bureau: BlindEvaluate, OPRF (no proof), {args.batch:,}-element batches", "server_oprf"),
        row("Lender: Blind + Finalize (VOPRF, batched proof verified), one thread", "client_blind_finalize", ratio=False),
    ]
    body = "\n".join([
        f"Command: `./scripts/bench oprf` (count={args.count:,}, batch={args.batch:,}); suite {oprf.SUITE}, libsodium through ctypes",
        f"Machine: {machine_summary()} ({platform.platform()}, {os.cpu_count()} CPUs)",
        "",
        *results_table(rows),
        "",
        f"Per identifier the bureau does two scalar multiplications (D = k·C, and d·C for the composite M) and one point "
        f"addition, each a libsodium call that decodes and encodes ristretto255; libsodium runs without the GIL, so a batch "
        f"is split over threads. Lender side: Blind {rate['client_blind']:,.0f}/s, Finalize {rate['client_finalize']:,.0f}/s.",
    ])
    print(body)
    if not args.no_write:
        write_section("oprf", "Credit bureau OPRF: borrower pseudonyms (RFC 9497 VOPRF)", body)


if __name__ == "__main__":
    main()
