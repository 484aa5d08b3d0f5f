"""Fault runs (issue 9), the longer versions of tests/faults: real processes on loopback, a
fault injected under continuous deposits, then the checks (nothing acknowledged lost, nothing
duplicated, service resumed by itself, the audit passes). Writes docs/FAULTS.md.

    python scripts/faults.py [judicial] [postgres] [disk] [sealer] [--quick] [--no-write]

Scenarios (all by default):
  judicial  the judicial chain SIGKILLed and kept down 60 s, then restarted; `fivechains audit` after
  postgres  PostgreSQL restarted (pg_ctl restart -m fast) 3 times under load, the API process kept
  disk      the supervision data directory on a 64 MiB tmpfs, filled up for 20 s, then freed
  sealer    the elected sealer worker of `serve --workers 2` (PostgreSQL) SIGKILLed mid-block, 3 times

PostgreSQL scenarios use the cluster of FIVECHAINS_TEST_PG_URL (a fresh database per scenario);
without it the script starts a throw-away cluster with scripts/lib/postgres.sh and stops it after.
The disk scenario needs to mount a tmpfs (root); it is recorded as skipped where it cannot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests/faults before this file: both are "faults"

from faults.harness import (  # noqa: E402
    CannotInject,
    PostgresControl,
    Result,
    disk_full,
    judicial_outage,
    markdown_rows,
    postgres_restart,
    sealer_kill,
)
from servers import fresh_database  # noqa: E402

sys.path.append(str(ROOT / "scripts"))
from bench_pg_workers import pg_settings  # noqa: E402
from bench_report import machine_summary  # noqa: E402

PG_VAR = "FIVECHAINS_TEST_PG_URL"
SCENARIOS = ("judicial", "postgres", "disk", "sealer")
OUT = ROOT / "docs" / "FAULTS.md"


def run(name: str, workdir: Path, quick: bool) -> Result:
    admin_url = os.environ.get(PG_VAR, "")
    if name == "judicial":
        return judicial_outage(workdir, down_s=10 if quick else 60, sig=signal.SIGKILL, before_s=2 if quick else 5, after_s=2 if quick else 5)
    if name == "disk":
        return disk_full(workdir, size_mb=64, full_s=3 if quick else 20, after_s=2 if quick else 5)
    with fresh_database(admin_url) as db_url:
        if name == "postgres":
            try:
                control = PostgresControl(admin_url)
            except CannotInject as exc:
                return Result("PostgreSQL restarted under load", skipped=str(exc))
            return postgres_restart(workdir, db_url, control, restarts=1 if quick else 3, between_s=3 if quick else 10)
        return sealer_kill(workdir, db_url, kills=1 if quick else 3, between_s=5 if quick else 10)


def with_throwaway_cluster() -> int:
    """Run this script again under a throw-away PostgreSQL (scripts/lib/postgres.sh), then remove it."""
    script = f'source scripts/lib/postgres.sh && pg_start && [ -n "${{{PG_VAR}:-}}" ] || exit 3; python scripts/faults.py "$@"; s=$?; pg_stop; exit $s'
    return subprocess.call(["bash", "-c", script, "faults", *sys.argv[1:]], cwd=ROOT)


def report(results: list[Result], command: str, database: str) -> str:
    lines = [
        "# Fault runs",
        "",
        "Written by `scripts/faults.py` (issue 9, item 4); the suite runs shorter versions of the same scenarios",
        "(`tests/faults`, and the sealer kill in `tests/supervision/test_postgres_workers.py`). Every run: real",
        "`fivechains` processes on loopback, client threads depositing signed 20-item batches continuously (a batch",
        "is sent again, same body and Idempotency-Key, until it is acknowledged), one fault injected, then the checks:",
        "",
        "* **lost**: acknowledged (202) deposits not in the ledger at the index their receipt named;",
        "* **duplicated**: digests stored more than once (the indexes must also be 0..n-1, one deposit row per entry);",
        "* **refused**: answers other than 202, each a 5xx `application/problem+json` (a 500 or any other answer fails the run);",
        "* **time to resume**: measured, not a target — judicial: from the restart until every deposit acknowledged",
        "  before it has its deposit code; PostgreSQL and disk: from the database back / space freed to the next",
        "  acknowledged deposit (the longest over the faults); sealer: from the kill until another worker sealed",
        "  what was pending at the kill (the longest);",
        "* **audit**: `chain.audit.audit_ledger` over the stored rows, everything sealed; for the judicial run also",
        "  `fivechains audit` of both chains as a regulator (exit 0, `ok: true`) and one judicial entry and one",
        "  unique deposit code per deposit.",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine_summary()}",
        "",
        f"Database: {database}",
        "",
        *markdown_rows(results),
        "",
        "Notes on method:",
        "",
        "* The PostgreSQL cluster is the test suite's (`fsync=off`). `pg_ctl restart -m fast` is a clean shutdown, so the",
        "  PostgreSQL run shows the service's side (connections lost, refused as 503, reconnected, the sealer lock taken",
        "  again, the API process kept), not PostgreSQL's own crash durability.",
        "* Disk full: the tmpfs holds the SQLite database and its WAL. For about a second after the filler is written,",
        "  deposits are still acknowledged, in space the database files already held (SQLite reuses WAL and free pages);",
        "  they are in the ledger like every other. Then every deposit is refused with 503 `chain-unavailable`",
        "  problem+json (not 507) until the space is freed.",
        "* Judicial outage: the supervision chain sends its outbox one sealed block per `Anchor` call (blocks of",
        "  100 ms of deposits here) and retries with back-off up to 5 s, so after the restart the time to resume is",
        "  mostly the catch-up of the backlog, at the rate shown below.",
        "* Sealer kill: the killed worker's in-flight requests end as connection errors; the client sends the same",
        "  body and Idempotency-Key again, and the other worker answers.",
        "",
        "## Figures per scenario",
        "",
    ]
    for r in results:
        lines.append(f"**{r.scenario}** ({r.fault or 'not run'})" + (f": skipped — {r.skipped}" if r.skipped else ""))
        lines.append("")
        for key, value in r.figures.items():
            lines.append(f"* {key}: {value}")
        for problem in r.problems:
            lines.append(f"* PROBLEM: {problem}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="the suite's shorter faults (10 s judicial outage, one restart, one kill)")
    parser.add_argument("--no-write", action="store_true", help=f"print the results, do not write {OUT.relative_to(ROOT)}")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}: choose from {', '.join(SCENARIOS)}")
    chosen = [s for s in SCENARIOS if s in args.scenarios] or list(SCENARIOS)
    if {"postgres", "sealer"} & set(chosen) and not os.environ.get(PG_VAR):
        sys.exit(with_throwaway_cluster())
    database = pg_settings(os.environ[PG_VAR]) if os.environ.get(PG_VAR) else "no PostgreSQL scenario run"
    results = []
    for name in chosen:
        workdir = Path(tempfile.mkdtemp(prefix=f"fivechains-faults-{name}-"))
        print(f"{name} …", flush=True)
        t = time.monotonic()
        try:
            result = run(name, workdir, args.quick)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        status = "skipped: " + result.skipped if result.skipped else ("ok" if result.ok else f"PROBLEMS: {result.problems}")
        print(f"  {status} ({time.monotonic() - t:.0f} s) {result.figures}", flush=True)
        results.append(result)
    command = "python scripts/faults.py" + (" " + " ".join(args.scenarios) if args.scenarios else "") + (" --quick" if args.quick else "")
    body = report(results, command, database)
    print(body)
    if not args.no_write:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(body)
        print(f"wrote {OUT.relative_to(ROOT)}")
    sys.exit(0 if all(r.ok or r.skipped for r in results) else 1)


if __name__ == "__main__":
    main()
