"""The credit benchmark runs end to end at a small size (so `./scripts/bench credit` cannot rot unnoticed), and the loan
book's fast documents are byte for byte what ``documents.new_document`` writes (RFC 8785) and open their entries."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from credit_chain.config import CreditConfig
from credit_chain.documents import check_opening, entry_of, new_document
from credit_chain.feed_rows import CreditReport, CreditRow
from credit_chain.loan_book import LoanBook, SubjectSeq
from credit_chain.service import CreditChain
from evidence.canonical_json import canonical_json

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import bench_credit  # noqa: E402

FIELDS = {"loanopened": ("lender_id", "loan_id", "principal", "supervision_index", "record_digest"),
          "overdue": ("lender_id", "loan_id", "days_past_due", "amount_overdue", "supervision_index", "record_digest"),
          "loanclosed": ("lender_id", "loan_id", "supervision_index", "record_digest")}


def test_bench_credit_small_run_reports_its_figures() -> None:
    before = (ROOT / "BENCHMARKS.md").read_bytes() if (ROOT / "BENCHMARKS.md").exists() else None
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_credit.py"), "--borrowers", "2000", "--loans", "5000", "--lenders", "8",
                          "--checks", "120", "--sequential", "40", "--paced", "60", "--rate", "60", "--warmup", "20", "--clients", "2",
                          "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout)
    ingest, check = figures["ingest"], figures["check"]
    assert figures["machine"]["cpu_count"] >= 1 and figures["sizes"]["loans"] == 5000
    assert ingest["reports"] > 5000 * 3 and ingest["loans_opened"] == 5000 and ingest["skipped"] == 0
    assert ingest["loans_closed"] > 0 and ingest["entries"] > ingest["loans_opened"] + ingest["loans_closed"]  # overdue entries too
    assert ingest["rate_per_s"] > 0 and ingest["steady_rate_per_s"] > 0 and abs(ingest["ratio_to_target"] - ingest["rate_per_s"] / 50_000) <= 0.006
    for c, n in ((check["one_client"], 40), (check["paced"], 60), (check["concurrent"], 120)):
        assert c["checks"] == n and c["errors"] == 0
        assert 0 < c["p50_ms"] <= c["p95_ms"] <= c["p99_ms"] <= c["max_ms"] and c["rate_per_s"] > 0
        # the ratios come from the unrounded latencies, the ms shown are rounded: equal to within the two roundings
        assert abs(c["p50_ratio_to_limit"] - c["p50_ms"] / 5) <= 0.006 and abs(c["p99_ratio_to_limit"] - c["p99_ms"] / 20) <= 0.006
    assert check["concurrent"]["clients"] == check["paced"]["clients"] == 2 and check["paced"]["offered_per_s"] == 60
    assert check["target_ms"] == {"p50": 5.0, "p99": 20.0}
    args = argparse.Namespace(borrowers=2000, loans=5000, lenders=8, checks=120, sequential=40, paced=60, rate=60.0, clients=2, seed=20, warmup=20)
    body = bench_credit.section(figures, args)
    assert "| Ingest: " in body and "reports/s" in body and "× the target" in body and "× of limit" in body
    assert body.count("| … p95 / p99") == 3 and "60 checks/s offered by 2 client threads (open loop)" in body
    assert ((ROOT / "BENCHMARKS.md").read_bytes() if before is not None else None) == before  # without --write nothing is written


def test_the_synthetic_feed_is_deterministic_and_in_ledger_order() -> None:
    now = int(time.time() * 1000)
    borrowers = bench_credit.pseudonyms(300, 1)
    a, b = list(bench_credit.synthetic_feed(borrowers, 500, 5, 2, now)), list(bench_credit.synthetic_feed(borrowers, 500, 5, 2, now))
    assert a == b and [r.index for r in a] == list(range(len(a)))
    kinds = {k: sum(r.record_type == k for r in a) for k in ("contract", "disbursement", "repayment", "overdue", "consent")}
    assert kinds["contract"] == kinds["disbursement"] == 500 and kinds["repayment"] >= 500 and kinds["overdue"] > 0
    assert 0 < kinds["consent"] <= 300
    first_seen: dict[str, str] = {}
    for r in a:  # a borrower's consent comes before its first contract
        if r.report.borrower:
            first_seen.setdefault(r.report.borrower, r.record_type)
    assert set(first_seen.values()) == {"consent"}
    assert a != list(bench_credit.synthetic_feed(borrowers, 500, 5, 3, now))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory):
    c = CreditChain(CreditConfig(tmp_path_factory.mktemp("credit-bench") / "data", seal_interval_ms=20))
    c.start()
    yield c
    c.stop()


def _documents_open_their_entries(c: CreditChain, first: int) -> int:
    with c.store.read_engine.connect() as conn:
        rows = conn.execute(text("SELECT idx, kind, subject, subject_seq, time_ms, document FROM cr_entry WHERE idx >= :first ORDER BY idx"),
                            {"first": first}).all()
    for idx, kind, subject, seq, time_ms, document in rows:
        body = json.loads(document)
        assert canonical_json(body).decode() == document  # RFC 8785
        fields = {k: body[k] for k in FIELDS[kind]}
        doc = new_document(kind, time_ms, {"subject": subject, "subject_seq": seq, **fields}, salt=body["salt"])
        assert doc.text == document and body["subject"] == subject and body["subject_seq"] == seq
        entry = c.ledger.entry(idx)
        assert entry == entry_of(doc, c.config.bureau_id)
        check_opening(entry, document)
    return len(rows)


def test_the_loan_books_documents_are_what_new_document_writes(chain: CreditChain) -> None:
    borrowers = bench_credit.pseudonyms(400, 7)
    rows = list(bench_credit.synthetic_feed(borrowers, 1500, 6, 8, int(time.time() * 1000)))
    first = chain.ledger.store.size()
    for n in range(0, len(rows), 1000):  # pages, so later pages repay and close loans read back from the database
        page = rows[n:n + 1000]
        chain.book.apply(page, page[-1].index + 1)
    kinds = {}
    with chain.store.read_engine.connect() as conn:
        kinds = dict(conn.exec_driver_sql("SELECT kind, count(*) FROM cr_entry WHERE idx >= ? GROUP BY kind", (first,)).all())
    assert kinds["loanopened"] == 1500 and kinds["loanclosed"] > 0 and kinds["overdue"] > 0
    assert _documents_open_their_entries(chain, first) == sum(kinds.values())


def test_values_json_must_escape_take_the_canonicaliser(chain: CreditChain) -> None:
    """Ids with quotes, backslashes, control or non-ASCII characters: the format strings step aside, the text is still RFC 8785."""
    t, start = int(time.time() * 1000) - 86_400_000, chain.book.position() + 10_000_000
    odd = [("贷款机构", 'L"1'), ("L\\2", "tab\there"), ("L3", "ünïcode/ok"), ("L%s", "%d%%")]
    rows = []
    for n, (lender, loan) in enumerate(odd):
        borrower = ("é" + "0" * 63) if n == 0 else bench_credit.pseudonyms(1, 100 + n)[0]
        base = start + 3 * n
        rows += [CreditRow(base, lender, "contract", loan, t, t + 1, "ab" * 32, CreditReport(borrower=borrower, principal=1000)),
                 CreditRow(base + 1, lender, "overdue", loan, t + 2, t + 3, "cd" * 32, CreditReport(days_past_due=31, amount_overdue=10)),
                 CreditRow(base + 2, lender, "repayment", loan, t + 4, t + 5, "ef" * 32, CreditReport(principal=1000, amount=1010))]
    first = chain.ledger.store.size()
    result = chain.book.apply(rows, start + len(rows))
    assert (result.loans_opened, result.loans_closed, result.entries) == (4, 4, 12)
    assert _documents_open_their_entries(chain, first) == 12


@pytest.mark.postgres
def test_the_loan_book_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """The portable path (COPY, executemany updates, chunked lookups): the same loans and documents as SQLite's."""
    borrowers = bench_credit.pseudonyms(200, 9)
    rows = list(bench_credit.synthetic_feed(borrowers, 600, 4, 10, int(time.time() * 1000)))
    books = {}
    for name, url in (("sqlite", None), ("postgresql", pg_url)):
        c = CreditChain(CreditConfig(tmp_path / name, db_url=url, seal_interval_ms=20))
        c.start()
        try:
            first = c.ledger.store.size()
            for n in range(0, len(rows), 500):
                page = rows[n:n + 500]
                c.book.apply(page, page[-1].index + 1)
            assert _documents_open_their_entries(c, first) > 600
            with c.store.read_engine.connect() as conn:
                books[name] = (sorted(tuple(r) for r in conn.exec_driver_sql(
                    "SELECT lender_id, loan_id, borrower, principal, outstanding, closed_ms, dpd, worst_dpd, on_time, late, contract_idx, "
                    "entry_idx - (SELECT min(entry_idx) FROM cr_loan) FROM cr_loan")),
                    sorted(tuple(r) for r in conn.exec_driver_sql("SELECT borrower, kind, entries FROM cr_subject")),
                    conn.exec_driver_sql("SELECT count(*) FROM cr_overdue").scalar_one(), c.book.position())
        finally:
            c.stop()
    assert books["sqlite"] == books["postgresql"]


@pytest.mark.parametrize("bureau_id", ["GZ-CREDIT-BUREAU", "GZ credit %s %d bureau", '征信 "bureau"', "back\\slash"])
def test_entries_are_entry_of_whatever_the_bureau_is_called(bureau_id: str) -> None:
    book = LoanBook(None, None, bureau_id, SubjectSeq(None), threading.Lock())  # type: ignore[arg-type]
    subject, digest = "ab" * 32, "cd" * 32
    events = [("loanopened", 1_700_000_000_000, subject, 1, ("L1", "LN-1", 500_000, 7, digest)),
              ("overdue", 1_700_000_000_001, subject, 2, ("L1", "LN-1", 31, 1000, 8, digest)),
              ("loanclosed", 1_700_000_000_002, subject, 3, ("L1", "LN-1", 9, digest))]
    docs, entries = book._documents(events)
    for (kind, time_ms, _, seq, f), (_, _, _, _, document), entry in zip(events, docs, entries, strict=True):
        body = json.loads(document)
        doc = new_document(kind, time_ms, {"subject": subject, "subject_seq": seq, **dict(zip(FIELDS[kind], f))}, salt=body["salt"])
        assert doc.text == document and entry_of(doc, bureau_id) == entry
