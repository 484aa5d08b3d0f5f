"""Audit benchmarks (issues 8 and 16): a full audit of all five chains — a 1,000,000-entry supervision
chain, the judicial chain with its anchors, and the risk, credit and service chains with theirs — then
an incremental audit after 10,000 new entries.

The chains are built the real way: `fivechains up` (supervision, judicial, portal, and the risk, credit
and service chains, each enabled explicitly so no FIVECHAINS_*__ENABLED in the environment turns one
off) in a child process, a lender depositing signed 10,000-item batches over HTTP, every block anchored
over gRPC with mutual TLS. The risk, credit and service chains follow the supervision chain's feed; the
audits start once they have read all of it. Each audit is the `fivechains audit` command with
``--risk``, ``--credit`` and ``--service``, timed from process start to exit (reading every chain over
HTTP and the judicial chain over gRPC, as a regulator would).

Run through ``./scripts/bench audit`` (it writes its section; ``--no-write`` only prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import httpx  # noqa: E402
from bench_report import machine_summary, results_table, write_section  # noqa: E402
from bench_supervision import free_port, wait_up  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from chain.keys import public_key_bytes  # noqa: E402
from supervision_chain.client import DepositItem, LenderClient  # noqa: E402
from supervision_chain.registry import add_lender  # noqa: E402
from supervision_chain.service import SupervisionConfig, open_supervision_store  # noqa: E402

FOLLOWERS = ("risk", "credit", "service")  # the chains `fivechains up` starts beside supervision and judicial, audited with them
# the children see no FIVECHAINS_* setting of this shell (a port, a data directory, a chain turned off), and every chain is on
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("FIVECHAINS_") or k == "FIVECHAINS_ROOT"}, "PYTHONPATH": str(ROOT),
       **{f"FIVECHAINS_{kind.upper()}__ENABLED": "true" for kind in FOLLOWERS}}
BATCH = 10_000


def deposit(url: str, key: Ed25519PrivateKey, total: int, threads: int = 2) -> int:
    """Deposit ``total`` records in signed batches from a few clients; return the last index acknowledged."""
    batches = list(range(total // BATCH))
    last = [0]
    lock = threading.Lock()

    def work() -> None:
        with LenderClient(url, "L1", key, timeout=120) as client:
            while True:
                with lock:
                    if not batches:
                        return
                    b = batches.pop()
                now = int(time.time() * 1000)
                tag = uuid.uuid4().hex[:16]
                answer = client.deposit([DepositItem(f"{tag}{b:016x}{i:032x}", "repayment", f"loan-{b}-{i}", now - 3_600_000) for i in range(BATCH)])
                with lock:
                    last[0] = max(last[0], answer["items"][-1]["index"])

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return last[0]


def wait_anchored(url: str, key: Ed25519PrivateKey, index: int, timeout: float = 600) -> None:
    with LenderClient(url, "L1", key) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if client.status(index, wait=10)["status"] == "anchored":
                return
        raise RuntimeError(f"deposit {index} was not anchored within {timeout} s")


def wait_followers(ports: dict[str, int], data: Path, sealed: int, timeout: float = 900) -> float:
    """Until the risk, credit and service chains have read the supervision feed up to ``sealed``; the seconds waited."""
    tokens = {kind: (data / kind / "regulator.token").read_text().strip() for kind in FOLLOWERS}
    started = time.monotonic()
    while True:
        behind = {}
        for kind in FOLLOWERS:
            status = httpx.get(f"http://127.0.0.1:{ports[kind]}/v1/status", headers={"Authorization": f"Bearer {tokens[kind]}"}, timeout=30).json()
            position = status["feed"]["position"] if kind == "risk" else status["feed_position"]
            if position < sealed:
                behind[kind] = position
        if not behind:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the followers did not read the feed up to {sealed} within {timeout} s: {behind}")
        time.sleep(1)


def wait_healthy(port: int, up: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise RuntimeError("`fivechains up` exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_audit(args: list[str], up: subprocess.Popen) -> tuple[float, dict]:
    """The audit's wall time from process start to exit, and its report with the CPU time of the audit process and of
    `fivechains up` (the chains serving it) and the machine's load average before and after: on a shared machine the
    wall time says little without them."""
    load_before, cpu_before, up_before = os.getloadavg()[0], resource.getrusage(resource.RUSAGE_CHILDREN), process_cpu_s(up.pid)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "fivechains.cli", "audit", *args, "--json"], capture_output=True, text=True, env=ENV, timeout=900)
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"the audit failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    if not report["ok"] or any(kind not in report for kind in FOLLOWERS):
        raise RuntimeError(f"the audit did not cover all five chains cleanly: {done.stdout[-3000:]}")
    report["bench"] = {"cpu_s": round(cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime, 1),
                       "up_cpu_s": round(process_cpu_s(up.pid) - up_before, 1),
                       "load": (round(load_before, 2), round(os.getloadavg()[0], 2))}
    return elapsed, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md (the default)")
    parser.add_argument("--no-write", action="store_true", help="only print the section")
    parser.add_argument("--settle", type=float, default=30, help="seconds to wait after the deposits before the full audit")
    parser.add_argument("--note", action="append", help="a paragraph appended to the section (repeat)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-audit-"))
    data = workdir / "fc"
    ports = {kind: free_port() for kind in ("supervision", "judicial", "portal", *FOLLOWERS)}
    up = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "up", "--data-dir", str(data),
                           *[a for kind, port in ports.items() for a in (f"--{kind}-port", str(port))]],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        wait_up(ports["supervision"], up)
        for kind in FOLLOWERS:
            wait_healthy(ports[kind], up)
        url = f"http://127.0.0.1:{ports['supervision']}"
        key = Ed25519PrivateKey.generate()
        store = open_supervision_store(SupervisionConfig(data / "supervision"))
        add_lender(store.engine, "L1", "Bench Lending", "GZ-B", public_key_bytes(key.public_key()))
        store.close()
        print(f"depositing {args.entries:,} records …", flush=True)
        t = time.perf_counter()
        last = deposit(url, key, args.entries)
        wait_anchored(url, key, last)
        print(f"  deposited and anchored in {time.perf_counter() - t:.0f} s", flush=True)
        caught_up = wait_followers(ports, data, last + 1)
        print(f"  the risk, credit and service chains had read the feed {caught_up:.0f} s later", flush=True)
        subprocess.run([sys.executable, "-m", "fivechains.cli", "judicial", "certs", "--certs", str(data / "certs"), "--client", "regulator.bench"],
                       check=True, capture_output=True, env=ENV)
        jvkey = httpx.get(f"http://127.0.0.1:{ports['portal']}/v1/chain").json()["vkey"]
        audit = ["--supervision", url, "--judicial", f"127.0.0.1:{ports['judicial']}", "--certs", str(data / "certs"),
                 "--cert-name", "regulator.bench", "--judicial-vkey", jvkey, "--state", str(workdir / "state"),
                 *[a for kind in FOLLOWERS for a in (f"--{kind}", f"http://127.0.0.1:{ports[kind]}")]]
        time.sleep(args.settle)  # the deposit phase's own load passes first: the audit is timed alone
        print("full audit of the five chains …", flush=True)
        full_s, full = timed_audit(audit, up)
        print(f"  {full_s:.1f} s (CPU {full['bench']['cpu_s']:.1f} s + {full['bench']['up_cpu_s']:.1f} s serving, load {full['bench']['load'][0]:.2f} → {full['bench']['load'][1]:.2f}): "
              f"{full['supervision']['entries']:,} supervision and {full['judicial']['entries']:,} judicial entries; "
              + ", ".join(f"{kind} {full[kind]['entries']:,}" for kind in FOLLOWERS), flush=True)
        last = deposit(url, key, args.new, threads=1)
        wait_anchored(url, key, last)
        wait_followers(ports, data, last + 1)
        print("incremental audit …", flush=True)
        incr_s, incr = timed_audit(audit, up)
        print(f"  {incr_s:.2f} s for {incr['supervision']['checked_entries']:,} new entries", flush=True)
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=120)
        except subprocess.TimeoutExpired:
            up.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    def held(report: dict, kind: str) -> str:
        blocks = report[kind]["blocks"]
        return f"{kind} {report[kind]['entries']:,} entries in {blocks} block{'' if blocks == 1 else 's'}"

    others = "; ".join(held(full, kind) for kind in FOLLOWERS)
    rows = [
        (f"Full audit of all five chains: {full['supervision']['entries']:,} supervision entries ({full['supervision']['blocks']} blocks), "
         f"{full['judicial']['entries']:,} judicial entries ({full['judicial']['blocks']} blocks: the anchors of every chain), {others}; "
         f"every block of every chain replayed, every anchor matched (`fivechains audit` with `--risk --credit --service`, process start "
         f"to exit; {full['seconds']:.1f} s inside; CPU {full['bench']['cpu_s']:.1f} s in the audit process, "
         f"{full['bench']['up_cpu_s']:.1f} s in `fivechains up` serving it; load average "
         f"{full['bench']['load'][0]:.2f} before, {full['bench']['load'][1]:.2f} after)",
         f"{full_s:.1f} s", f"{full_s / 60:.2f}× of limit", "≤ 60 s", "met" if full_s <= 60 else "NOT met"),
        (f"Incremental audit: {incr['supervision']['checked_entries']:,} new supervision entries and "
         f"{incr['judicial']['checked_entries']:,} new judicial entries ("
         + ", ".join(f"{kind} {incr[kind]['checked_entries']:,}" for kind in FOLLOWERS) + f" new; {incr['seconds']:.2f} s inside; "
         f"CPU {incr['bench']['cpu_s']:.1f} s + {incr['bench']['up_cpu_s']:.1f} s; load average {incr['bench']['load'][0]:.2f} before, {incr['bench']['load'][1]:.2f} after)",
         f"{incr_s:.2f} s", f"{incr_s / 2:.2f}× of limit", "≤ 2 s", "met" if incr_s <= 2 else "NOT met"),
    ]
    body = "\n".join([f"Command: `./scripts/bench audit` (entries={args.entries:,}, new={args.new:,}; chains built through the HTTP API "
                      "and anchored over gRPC by `fivechains up` with all five chains on, default sealing 10k/500 ms, SQLite)",
                      f"Machine: {machine_summary()}", "", *results_table(rows), "",
                      "The deposits carry no reports (as in the issue 8 benchmark), so the risk, credit and service chains, which follow the "
                      "supervision chain's feed, read all of it but make no entry for it: they hold only the entries they make on their own "
                      f"({others} at the full audit), each anchored in the judicial chain and matched by the audit. The audits start once "
                      "the three have read the whole feed "
                      f"({caught_up:.0f} s after the last deposit was anchored) and {args.settle:g} s more, so nothing of this benchmark but the audit runs "
                      "while it is timed.",
                      *[f"\n{note}" for note in args.note or ()]])
    print(body)
    if not args.no_write:
        write_section("audit", "Regulator audit of all five chains (issues 8 and 16)", body)


if __name__ == "__main__":
    main()
