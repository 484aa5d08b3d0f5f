"""The service benchmark runs end to end at a small size (so `./scripts/bench service` cannot rot unnoticed), and its
synthetic deposits are what the pool check expects: each record's digest is the SHA-256 of its RFC 8785 text."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

from evidence.canonical_json import canonical_json
from evidence.deposit_codes import is_valid

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import bench_service  # noqa: E402


def test_bench_service_small_run_reports_its_figures() -> None:
    before = (ROOT / "BENCHMARKS.md").read_bytes() if (ROOT / "BENCHMARKS.md").exists() else None
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_service.py"), "--loans", "200", "--singles", "20", "--warmup", "2",
                          "--verify-sample", "50", "--json"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout)
    pool, one, many = figures["pool_check"], figures["registry_one"], figures["registry_pool"]
    assert figures["machine"]["cpu_count"] >= 1 and figures["sizes"]["loans"] == 200 and figures["sizes"]["records"] == 4 * 222
    assert pool["loans"] == 200 and pool["records"] == 800 and pool["chunks"] == 1
    assert pool["verified"] == {"eligible": 200, "proofs_checked": 200, "proofs_verified_in_full": 50}
    assert 0 < pool["upload_check_s"] <= pool["end_to_end_s"] and 0 < pool["certify_s"] <= pool["end_to_end_s"]
    assert 0 < pool["chunk_server_s"]["sum"] <= pool["upload_check_s"] and pool["floor"]["s"] > 0
    assert abs(pool["ratio_to_limit"] - pool["end_to_end_s"] / 10 * 100_000 / 200) <= 0.3  # the figures are rounded after the ratios
    assert abs(pool["ratio_to_floor"] - pool["end_to_end_s"] / pool["floor"]["s"]) <= 0.2 * pool["ratio_to_floor"] + 0.1
    assert pool["second_pool"]["loans"] == 200
    assert one["pools"] == 20 and one["warmup"] == 2
    for key in ("accept", "propose_accept", "propose", "refusal", "refusal_post", "accept_server", "refusal_server"):
        c = one[key]
        assert c["n"] == 20 and 0 < c["p50_ms"] <= c["p99_ms"] <= c["max_ms"] and abs(c["p99_ratio_to_limit"] - c["p99_ms"] / 10) <= 0.01
    assert many["loans"] == 200 and many["register_s"] > 0 and many["refusal_s"] > 0
    assert 200 / (many["register_s"] + 0.0005) - 1 <= many["register_per_s"] <= 200 / max(many["register_s"] - 0.0005, 1e-9) + 1  # s rounded to ms
    assert abs(many["refusal_ratio"] - many["refusal_per_s"] / 50_000) <= 0.01
    args = argparse.Namespace(loans=200, singles=20, warmup=2, seed=16, note=["A note."])
    body = bench_service.section(figures, args)
    assert "| Pool check end to end over HTTP: 200 loans (800 records)" in body and "× the floor" in body and "× of limit" in body
    assert body.count("p99 < 10 ms") == 4 and body.count("≥ 50,000 loans/s") == 2 and "(scaled: 0.02 s for 200)" in body
    assert body.rstrip().endswith("A note.") and "Profile" not in body
    assert ((ROOT / "BENCHMARKS.md").read_bytes() if before is not None else None) == before  # without --write nothing is written


def test_the_synthetic_deposits_are_what_a_lender_would_have_deposited() -> None:
    book = bench_service.Book()
    now = int(time.time() * 1000)
    loans = book.add("LN", 30, 1, now - 3_600_000, 600_000)
    book.add("SL", 5, 2, now - 1_800_000, 60_000)
    assert [r.index for r in book.rows] == list(range(35 * 4)) and len(book.records) == len(book.rows)
    by_loan: dict[str, list] = {}
    for row, text in zip(book.rows, book.records, strict=True):
        assert hashlib.sha256(text).hexdigest() == row.digest and canonical_json(json.loads(text)) == text
        assert is_valid(row.deposit_code) and row.deposit_time_ms - row.event_time_ms == 1500 and row.event_time_ms < now - 60_000
        by_loan.setdefault(row.loan_id, []).append(row)
    for loan in loans:
        rows = by_loan[loan["loan_id"]]
        assert [r.record_type for r in rows] == ["contract", "disbursement", "repayment", "repayment"]
        assert [(e["deposit_code"], hashlib.sha256(e["canonical"].encode()).hexdigest()) for e in loan["records"]] == \
            [(r.deposit_code, r.digest) for r in rows]
        principal = rows[0].report.principal
        assert rows[1].report.amount == principal and rows[0].report.rate_bp <= 2400
        assert loan["claimed_outstanding_fen"] == principal - rows[2].report.principal - rows[3].report.principal > 0
    assert book.rows[0].loan_id == "LN-0000000" and book.rows[2].loan_id == "LN-0000001"  # contracts and disbursements first
    assert [r.event_time_ms for r in book.rows[:120]] == sorted(r.event_time_ms for r in book.rows[:120])  # the feed's order is the events'
    assert {r.record_type for r in book.rows[60:90]} == {"repayment"}
