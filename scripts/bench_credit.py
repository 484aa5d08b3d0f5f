"""Credit-chain benchmarks: the report feed into the loan book, and the multi-head check over HTTP.

1. Load. A deterministic synthetic feed (``--borrowers`` pseudonyms, random 64-hex; ``--loans`` loans over
   ``--lenders`` lenders; each loan a contract, a disbursement and 1–4 repayments, some overdue, some paid
   off; one consent per borrower, deposited before its first loan) is written as feed pages of 10,000 rows
   (JSON, as the supervision chain serves them), then read back page by page, decoded (``decode_page``) and
   applied (``LoanBook.apply``) on an in-process, started ``CreditChain`` (SQLite, WAL, synchronous=FULL, the
   sealer sealing as it goes). Ingest = reports / wall time of that loop; the steady rate is the last tenth
   of the pages. Target: ≥ 50,000 reports/s.
2. Check. The chain's API served by uvicorn in a thread of this process (loopback); ``--lenders`` lenders with
   Ed25519 keys; consents with deposit codes for ``--checks`` sampled borrowers; then ``--checks`` signed
   ``POST /v1/checks/multihead`` from ``--clients`` client threads (keep-alive, each request signed when
   sent). Targets: p50 < 5 ms, p99 < 20 ms.

Run through ``./scripts/bench credit``; ``--borrowers 20000 --loans 60000 --checks 500`` for a quick run.
``--write`` writes the section of BENCHMARKS.md (otherwise it is only printed); ``--json`` prints the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import http.client
import io
import itertools
import json
import os
import platform
import pstats
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import msgspec  # noqa: E402
from bench_report import machine_summary, results_table, write_section  # noqa: E402

from chain.encoding import b64encode  # noqa: E402
from chain.keys import generate_private_key, public_key_bytes  # noqa: E402
from credit_chain.api.deps import body_target  # noqa: E402
from credit_chain.config import CHINA_OFFSET_MS, DAY_MS, CreditConfig  # noqa: E402
from credit_chain.feed_rows import CreditPage, CreditReport, CreditRow, decode_page  # noqa: E402
from evidence.deposit_codes import new_code  # noqa: E402
from service_kit.party_auth import read_text  # noqa: E402
from service_kit.report_feed import FeedLender  # noqa: E402

INGEST_TARGET = 50_000  # reports/s
P50_TARGET_MS, P99_TARGET_MS = 5.0, 20.0
PAGE = 10_000
PURPOSE = "loan-application"
_encode_page = msgspec.json.Encoder().encode


# --- the synthetic feed -----------------------------------------------------------------------


def pseudonyms(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.randbytes(32).hex() for _ in range(count)]


def synthetic_feed(borrowers: list[str], loans: int, lenders: int, seed: int, now_ms: int) -> Iterator[CreditRow]:
    """Feed rows in ledger order: loans open one after another over two years; each loan's disbursement follows its
    contract, its repayments come ``spacing`` loans apart (so most are applied pages after the contract, to loans read
    back from the database), 45 % are paid off, 15 % have an overdue report. Each borrower's consent precedes its first loan."""
    rng = random.Random(seed)
    lender_ids = [f"L{n:04d}" for n in range(lenders)]
    spacing = max(200, loans // 100)
    horizon = loans + 5 * spacing
    start_ms, span_ms = now_ms - 730 * DAY_MS, 728 * DAY_MS
    seen = bytearray(len(borrowers))
    pending: dict[int, list[tuple[float, int, tuple]]] = {}  # bucket (of `spacing` loans) → (slot, seq, row spec)
    seq = index = 0

    def at(slot: float) -> int:
        return start_ms + int(slot * span_ms / horizon)

    def emit(bucket: int) -> Iterator[CreditRow]:
        nonlocal index
        for slot, _, (lender, kind, loan_id, report) in sorted(pending.pop(bucket, [])):
            event = at(slot)
            yield CreditRow(index, lender, kind, loan_id, event, event + 1500, rng.randbytes(32).hex(), report)
            index += 1

    def add(slot: float, spec: tuple) -> None:
        nonlocal seq
        pending.setdefault(int(slot // spacing), []).append((slot, seq, spec))
        seq += 1

    for i in range(loans):
        if i % spacing == 1 and i > 1:  # no slot of loan i or later (≥ i - 0.5) falls in the bucket before the last
            yield from emit(i // spacing - 1)
        b = rng.randrange(len(borrowers))
        borrower, lender = borrowers[b], lender_ids[rng.randrange(lenders)]
        kind = "enterprise" if b % 50 == 0 else "person"  # 2 % of borrowers are enterprises
        loan_id = f"LN-{i:09d}"
        if not seen[b]:
            seen[b] = 1
            day = dt.datetime.fromtimestamp((at(i) + CHINA_OFFSET_MS) / 1000, dt.UTC).date()  # Beijing date of the consent
            add(max(0.0, i - 0.5), (lender, "consent", f"APP-{b:08d}", CreditReport(borrower=borrower, purpose=PURPOSE, valid_from=day.isoformat(),
                                                                                    valid_to=(day + dt.timedelta(days=90)).isoformat())))
        principal = rng.randrange(10, 500) * 10_000  # ¥1,000 – ¥50,000, in fen
        add(i, (lender, "contract", loan_id, CreditReport(borrower=borrower, borrower_kind=kind, principal=principal)))
        add(i + 0.25, (lender, "disbursement", loan_id, CreditReport(amount=principal)))
        repayments, paid_off, overdue = rng.randint(1, 4), rng.random() < 0.45, rng.random() < 0.15
        repaid = 0
        for k in range(1, repayments + 1):
            slot = i + k * spacing + rng.random() * spacing / 2
            part = principal - repaid if paid_off and k == repayments else principal // (repayments + 1)
            repaid += part
            if overdue and k == 1:
                dpd = rng.choice((15, 35, 65, 95))
                add(slot - 0.1, (lender, "overdue", loan_id, CreditReport(days_past_due=dpd, amount_overdue=part)))
            add(slot, (lender, "repayment", loan_id, CreditReport(principal=part, amount=part + part // 20)))
    for bucket in sorted(pending):
        yield from emit(bucket)


def write_feed(path: Path, rows: Iterator[CreditRow]) -> tuple[int, int]:
    """Pages of ``PAGE`` rows as the supervision chain's feed serves them (JSON), length-prefixed; (pages, rows)."""
    pages = count = 0
    with path.open("wb") as f:
        page: list[CreditRow] = []
        for row in rows:
            page.append(row)
            if len(page) == PAGE:
                count += len(page)
                f.write(_framed(page))
                pages, page = pages + 1, []
        if page:
            count += len(page)
            f.write(_framed(page))
            pages += 1
    return pages, count


def _framed(page: list[CreditRow]) -> bytes:
    data = _encode_page(CreditPage(page[-1].index + 1, page[-1].index + 1, page))
    return struct.pack(">I", len(data)) + data


def read_feed(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while head := f.read(4):
            yield f.read(struct.unpack(">I", head)[0])


# --- 1. load ----------------------------------------------------------------------------------


def load(chain, feed: Path, total: int, progress: bool) -> dict:  # noqa: ANN001
    """Every page read, decoded and applied in turn; the figures of the whole loop and of its last tenth."""
    walls: list[float] = []
    decode_s = apply_s = 0.0
    counts: list[int] = []
    entries = opened = closed = skipped = 0
    started = time.perf_counter()
    report_every = max(1, (total // PAGE) // 20)
    for n, data in enumerate(read_feed(feed), start=1):
        t0 = time.perf_counter()
        page = decode_page(data)
        t1 = time.perf_counter()
        result = chain.book.apply(page.reports, page.next)
        t2 = time.perf_counter()
        decode_s, apply_s = decode_s + t1 - t0, apply_s + t2 - t1
        walls.append(t2 - t0)
        counts.append(len(page.reports))
        entries, opened, closed, skipped = (entries + result.entries, opened + result.loans_opened, closed + result.loans_closed,
                                            skipped + result.skipped)
        if progress and (n % report_every == 0):
            done = sum(counts)
            print(f"  {done:>12,} / {total:,} reports applied, {done / (t2 - started):>8,.0f}/s so far, this page {counts[-1] / walls[-1]:,.0f}/s",
                  file=sys.stderr, flush=True)
    wall = time.perf_counter() - started
    tail = max(1, len(walls) // 10)
    t = time.perf_counter()
    while chain.ledger.sealed_size() < chain.ledger.store.size():
        time.sleep(0.02)
    seal_lag = time.perf_counter() - t
    reports = sum(counts)
    return {"reports": reports, "pages": len(walls), "entries": entries, "loans_opened": opened, "loans_closed": closed, "skipped": skipped,
            "wall_s": round(wall, 2), "rate_per_s": round(reports / wall), "steady_rate_per_s": round(sum(counts[-tail:]) / sum(walls[-tail:])),
            "steady_pages": tail, "apply_only_rate_per_s": round(reports / apply_s), "decode_rate_per_s": round(reports / decode_s),
            "page_ms": {"p50": round(statistics.median(walls) * 1000, 1), "max": round(max(walls) * 1000, 1)},
            "seal_lag_s": round(seal_lag, 2), "ratio_to_target": round(reports / wall / INGEST_TARGET, 2)}


# --- 2. check ---------------------------------------------------------------------------------

SERVER = r'''
import cProfile, io, pstats, signal, sys, threading
from pathlib import Path
import uvicorn
from credit_chain.api import create_app
from credit_chain.service import CreditChain, CreditConfig
chain = CreditChain(CreditConfig(Path(sys.argv[1])))
chain.start()
if sys.argv[3] == "profile":  # chain.check under cProfile, one call at a time
    profile, lock, check = cProfile.Profile(), threading.Lock(), chain.check
    def profiled(*args, **kwargs):
        with lock:
            profile.enable()
            try:
                return check(*args, **kwargs)
            finally:
                profile.disable()
    chain.check = profiled
server = uvicorn.Server(uvicorn.Config(create_app(chain, manage_lifecycle=False), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning"))
signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))  # uvicorn raises it again once stopped: stop cleanly
try:
    server.run()
finally:
    chain.stop()
    if sys.argv[3] == "profile":
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue(), file=sys.stderr)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_checks(chain, borrowers: list[str], lenders: int, count: int, seed: int) -> tuple[dict, list[tuple[str, str, str]]]:  # noqa: ANN001
    """Lenders registered with Ed25519 keys; for ``count`` sampled borrowers a consent by a random lender, with its deposit
    code, as the feed and the judicial chain would have left it. (lender, borrower, code) per check."""
    rng = random.Random(seed)
    keys = {f"L{n:04d}": generate_private_key() for n in range(lenders)}
    chain.sync_lenders([FeedLender(lender, f"Bench lender {lender}", public_key_bytes(k.public_key()), True) for lender, k in keys.items()])
    today = dt.datetime.fromtimestamp((time.time() * 1000 + CHINA_OFFSET_MS) / 1000, dt.UTC).date()
    with chain.store.engine.connect() as conn:  # after every supervision index the feed used
        first = max(chain.book.position(), conn.exec_driver_sql("SELECT coalesce(max(idx), 0) FROM cr_consent").scalar_one()) + 1
    checks, rows = [], []
    for n, borrower in enumerate(rng.sample(borrowers, count)):
        lender, code = rng.choice(sorted(keys)), new_code()
        checks.append((lender, borrower, code))
        rows.append((first + n, lender, borrower, PURPOSE, (today - dt.timedelta(days=1)).isoformat(), (today + dt.timedelta(days=30)).isoformat(),
                     rng.randbytes(32).hex(), code))
    with chain.store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO cr_consent (idx, lender_id, borrower, purpose, valid_from, valid_to, digest, deposit_code) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return keys, checks


def drive(port: int, chain_id: str, keys: dict, checks: list[tuple[str, str, str]], clients: int,
          rate: float | None = None) -> tuple[list[float], float, int]:
    """Signed checks from ``clients`` threads on keep-alive connections: each sends its next check as soon as the last is
    answered, or (``rate``) the j-th check of the run at start + j / rate, its latency counted from then (open loop: a
    server falling behind shows as latency, not as a lower rate). (latencies in s, wall s, answers not 200)."""
    path = "/v1/checks/multihead"
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = time.perf_counter() + 0.05

    def run(first: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, bad = [], 0
        for j in range(first, len(checks), clients):
            lender, borrower, code = checks[j]
            body = json.dumps({"borrower": borrower, "consent_code": code, "purpose": PURPOSE}).encode()
            now, nonce = int(time.time() * 1000), uuid.uuid4().hex
            signature = keys[lender].sign(read_text(chain_id, lender, nonce, now, "POST", body_target(path, body)).encode())
            headers = {"Content-Type": "application/json", "X-Lender-Id": lender, "X-Timestamp": str(now), "X-Nonce": nonce,
                       "X-Signature": b64encode(signature)}
            if rate is None:
                t = time.perf_counter()
            else:
                t = start + j / rate
                if (wait := t - time.perf_counter()) > 0:
                    time.sleep(wait)
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            answer = response.read()
            mine.append(time.perf_counter() - t)
            if response.status != 200 or b'"query"' not in answer:
                bad += 1
                if bad == 1:
                    print(f"  check answered {response.status}: {answer[:300]!r}", file=sys.stderr)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start, errors[0]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_figures(latencies: list[float], wall: float, errors: int, clients: int, offered: float | None = None) -> dict:
    p50, p95, p99 = (quantile(latencies, q) * 1000 for q in (0.5, 0.95, 0.99))
    return {"clients": clients, "offered_per_s": offered, "checks": len(latencies), "errors": errors, "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
            "p99_ms": round(p99, 2), "max_ms": round(max(latencies) * 1000, 2), "rate_per_s": round(len(latencies) / wall),
            "p50_ratio_to_limit": round(p50 / P50_TARGET_MS, 2), "p99_ratio_to_limit": round(p99 / P99_TARGET_MS, 2),
            "met": p50 < P50_TARGET_MS and p99 < P99_TARGET_MS}


def serve_and_check(data_dir: Path, chain_id: str, keys: dict, checks: list[tuple[str, str, str]], args: argparse.Namespace) -> dict:
    """The chain served in its own process; warm-up, then one client, then ``--rate`` checks/s offered, then as fast as
    ``--clients`` threads go."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(data_dir), str(port), "profile" if args.profile_server else "-"],
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE if args.profile_server else None)
    cut = list(itertools.accumulate((args.warmup, args.sequential, args.paced, args.checks)))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the credit chain's server did not start") from None
                time.sleep(0.2)
        drive(port, chain_id, keys, checks[:cut[0]], args.clients)  # warm the server's caches and connections; not counted
        one = drive(port, chain_id, keys, checks[cut[0]:cut[1]], 1)
        paced = drive(port, chain_id, keys, checks[cut[1]:cut[2]], args.clients, rate=args.rate)
        many = drive(port, chain_id, keys, checks[cut[2]:cut[3]], args.clients)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, err = server.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    if args.profile_server and err:
        print("chain.check in the server, under cProfile (one call at a time):\n" + err.decode(errors="replace"), file=sys.stderr)
    return {"one_client": latency_figures(*one, 1), "paced": latency_figures(*paced, args.clients, args.rate),
            "concurrent": latency_figures(*many, args.clients)}


# --- the run ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--borrowers", type=int, default=1_000_000)
    parser.add_argument("--loans", type=int, default=3_000_000)
    parser.add_argument("--lenders", type=int, default=50)
    parser.add_argument("--checks", type=int, default=3_000, help="signed checks from --clients threads as fast as answered (last)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (keep-alive connections)")
    parser.add_argument("--sequential", type=int, default=1_000, help="checks from one client first (latency without queueing)")
    parser.add_argument("--paced", type=int, default=2_000, help="checks offered at --rate from --clients threads (open loop)")
    parser.add_argument("--rate", type=float, default=100.0, help="checks/s offered in the paced run")
    parser.add_argument("--warmup", type=int, default=200, help="checks before the measured ones (not counted)")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--workdir", type=Path, help="where the feed and the chain's database go (default: a temporary directory, removed)")
    parser.add_argument("--profile-load", action="store_true", help="cProfile the load; the top functions go to stderr")
    parser.add_argument("--profile-server", action="store_true", help="cProfile chain.check in the server (serialised); to stderr")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of the section")
    parser.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md (otherwise it is only printed)")
    parser.add_argument("--no-write", action="store_true", help=argparse.SUPPRESS)  # what `scripts/bench all --no-write` passes: the default
    args = parser.parse_args()
    if min(args.borrowers, args.loans, args.lenders, args.clients, args.checks, args.sequential, args.paced) < 1 or args.rate <= 0:
        parser.error("sizes, counts and --rate must be positive")
    consents = args.warmup + args.sequential + args.paced + args.checks
    if consents > args.borrowers:
        parser.error("--warmup + --sequential + --paced + --checks must not exceed --borrowers (one consent per sampled borrower)")

    from credit_chain.service import CreditChain

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fivechains-bench-credit-"))
    workdir.mkdir(parents=True, exist_ok=True)
    say = (lambda text: print(text, file=sys.stderr, flush=True))
    try:
        now_ms = int(time.time() * 1000)
        t = time.perf_counter()
        borrowers = pseudonyms(args.borrowers, args.seed)
        pages, total = write_feed(workdir / "feed.bin", synthetic_feed(borrowers, args.loans, args.lenders, args.seed + 1, now_ms))
        say(f"generated {total:,} reports ({pages:,} pages of {PAGE:,}) for {args.borrowers:,} borrowers and {args.loans:,} loans "
            f"in {time.perf_counter() - t:.0f} s")
        config = CreditConfig(workdir / "credit")
        chain = CreditChain(config)
        chain.start()
        try:
            profiler = cProfile.Profile() if args.profile_load else None
            if profiler:
                profiler.enable()
            ingest = load(chain, workdir / "feed.bin", total, progress=True)
            if profiler:
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
                say(out.getvalue())
            say(f"ingest: {ingest['reports']:,} reports in {ingest['wall_s']:.1f} s = {ingest['rate_per_s']:,}/s "
                f"(last {ingest['steady_pages']} pages {ingest['steady_rate_per_s']:,}/s); {ingest['entries']:,} entries, "
                f"sealed {ingest['seal_lag_s']:.1f} s after the last page")
            keys, checks = prepare_checks(chain, borrowers, args.lenders, consents, args.seed + 2)
        finally:
            chain.stop()
        db_bytes = sum(f.stat().st_size for f in (workdir / "credit").glob("credit.db*"))
        say(f"serving the chain ({db_bytes / 1e9:.1f} GB database); {args.warmup} warm-up checks, {args.sequential:,} from one client, "
            f"{args.paced:,} offered at {args.rate:g}/s, {args.checks:,} from {args.clients} clients as fast as answered …")
        checked = serve_and_check(config.data_dir, config.chain_id, keys, checks, args)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    figures = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                           "summary": machine_summary()},
               "sizes": {"borrowers": args.borrowers, "loans": args.loans, "lenders": args.lenders, "page": PAGE, "database_bytes": db_bytes},
               "ingest": {**ingest, "target_per_s": INGEST_TARGET, "met": ingest["rate_per_s"] >= INGEST_TARGET},
               "check": {**checked, "target_ms": {"p50": P50_TARGET_MS, "p99": P99_TARGET_MS}}}
    errors = sum(c["errors"] for c in checked.values())
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        body = section(figures, args)
        print(body)
        if args.write:
            write_section("credit", "Credit chain: report ingest and the multi-head check", body)
    if errors:
        sys.exit(f"{errors} checks were not answered 200 with a query entry")


def section(f: dict, args: argparse.Namespace) -> str:
    ing, check = f["ingest"], f["check"]

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    rows = [
        (f"Ingest: {ing['reports']:,} feed reports ({args.borrowers:,} borrowers, {args.loans:,} loans, {args.lenders} lenders; "
         f"{ing['entries']:,} entries) decoded and applied in pages of {PAGE:,}: all reports / wall time", f"{ing['rate_per_s']:,} reports/s",
         f"{ing['ratio_to_target']:.2f}× the target", "≥ 50,000 reports/s", met(ing["rate_per_s"] >= INGEST_TARGET)),
        (f"… the last {ing['steady_pages']} pages (the database at its fullest)", f"{ing['steady_rate_per_s']:,} reports/s",
         f"{ing['steady_rate_per_s'] / INGEST_TARGET:.2f}× the target", "≥ 50,000 reports/s", met(ing["steady_rate_per_s"] >= INGEST_TARGET)),
        ("… `LoanBook.apply` alone (without `decode_page`)", f"{ing['apply_only_rate_per_s']:,} reports/s",
         f"{ing['apply_only_rate_per_s'] / INGEST_TARGET:.2f}× the target", "(context)", ""),
    ]
    runs = (("one client, one check at a time", check["one_client"]),
            (f"{check['paced']['offered_per_s']:g} checks/s offered by {check['paced']['clients']} client threads (open loop)", check["paced"]),
            (f"{check['concurrent']['clients']} client threads, each as fast as answered", check["concurrent"]))
    for name, c in runs:
        rows += [
            (f"Multi-head check over HTTP, {name}: {c['checks']:,} checks, p50", f"{c['p50_ms']:.2f} ms", f"{c['p50_ratio_to_limit']:.2f}× of limit",
             "< 5 ms", met(c["p50_ms"] < P50_TARGET_MS)),
            (f"… p95 / p99 (answered {c['rate_per_s']:,} checks/s)", f"{c['p95_ms']:.2f} / {c['p99_ms']:.2f} ms",
             f"p99 {c['p99_ratio_to_limit']:.2f}× of limit", "p99 < 20 ms", met(c["p99_ms"] < P99_TARGET_MS)),
        ]
    return "\n".join([
        f"Command: `./scripts/bench credit` (borrowers={args.borrowers:,}, loans={args.loans:,}, lenders={args.lenders}, "
        f"checks={args.sequential:,}+{args.paced:,}+{args.checks:,}, rate={args.rate:g}/s, clients={args.clients}, seed={args.seed}); "
        f"SQLite (WAL, synchronous=FULL), {f['sizes']['database_bytes'] / 1e9:.1f} GB after the load",
        f"Machine: {f['machine']['summary']}",
        "",
        *results_table(rows),
        "",
        f"The feed is synthetic and deterministic (seed {args.seed}): each loan a contract, a disbursement and 1–4 repayments, 45 % paid off, "
        f"15 % with an overdue report; one consent per borrower before its first loan. The pages are read back as the supervision chain "
        f"serves them (JSON) and go through `decode_page` and `LoanBook.apply` on a started `CreditChain`; the sealer seals alongside "
        f"(the last entry was sealed {ing['seal_lag_s']:.1f} s after the last page). Each check is a signed `POST /v1/checks/multihead` "
        f"(Ed25519, signed before its clock starts) with the borrower's consent code, answered by `create_app` under uvicorn in its own "
        f"process on the loaded database, and appends its query entry durably; {args.warmup} warm-up checks are not counted.",
    ])


if __name__ == "__main__":
    main()
