"""SM2 beside Ed25519 (issue 18), measured in the same run: signatures per second (sign, verify) of each
suite, and signed 1,000-item batch deposits over HTTP on an SM2 + SM3 supervision chain (SM2 lender) vs an
Ed25519 + SHA-256 one (Ed25519 lender). Target: the SM2 chain takes ≥ 0.7× the Ed25519 chain's records/s.

Reuses scripts/bench_supervision.py's helpers (server start, signed bodies, the HTTP blast)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_report import machine_summary, results_table, write_section  # noqa: E402
from bench_supervision import blast, free_port, signed_bodies, stop, wait_up  # noqa: E402

from chain.keys import PrivateKey, generate_private_key, public_key_bytes  # noqa: E402
from supervision_chain.registry import add_lender  # noqa: E402
from supervision_chain.service import SupervisionConfig, open_supervision_store  # noqa: E402

MESSAGE = b"supervision.fivechains.local/gz\nL1\nnonce\n1767225600000\n1000\n" + bytes(32).hex().encode() + b"\n"


def signature_rates(key_type: str, seconds: float) -> tuple[float, float]:
    """(signs/s, verifies/s) of one key on a request-text-sized message, each for about ``seconds``."""
    key = generate_private_key(key_type)
    public = key.public_key()
    signature = key.sign(MESSAGE)
    rates = []
    for op in (lambda: key.sign(MESSAGE), lambda: public.verify(signature, MESSAGE)):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(50):
                op()
            n += 50
        rates.append(n / elapsed)
    return rates[0], rates[1]


def batch_rate(workdir: Path, suite: str, records: int) -> float:
    """Records/s of signed 1,000-item batch deposits into a fresh chain of ``suite`` by a lender of the same key type."""
    data_dir = workdir / suite
    key: PrivateKey = generate_private_key(suite)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "supervision", "serve", "--data-dir", str(data_dir), "--port", str(port),
                             "--suite", suite], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_up(port, proc)
        store = open_supervision_store(SupervisionConfig(data_dir))
        add_lender(store.engine, "L1", "Bench Lender", "GZ-BENCH", public_key_bytes(key.public_key()))
        store.close()
        bodies = signed_bodies(f"http://127.0.0.1:{port}", key, "L1", max(1, records // 1000), 1000, suite)  # type: ignore[arg-type]
        result = blast(port, bodies, processes=1, threads=4)
    finally:
        stop(proc)
    return len(bodies) * 1000 / result["elapsed"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000, help="records per chain, in signed 1,000-item batches")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per signature measurement")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args()
    signatures = {t: signature_rates(t, args.seconds) for t in ("ed25519", "sm2")}
    workdir = Path(tempfile.mkdtemp(prefix="fivechains-bench-sm2-"))
    try:
        rates = {suite: batch_rate(workdir, suite, args.records) for suite in ("ed25519", "sm2")}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    (ed_sign, ed_verify), (sm_sign, sm_verify) = signatures["ed25519"], signatures["sm2"]
    ratio = rates["sm2"] / rates["ed25519"]
    rows = [
        ("Ed25519 sign / verify (cryptography, OpenSSL)", f"{ed_sign:,.0f} / {ed_verify:,.0f} per s", "1.00×", "(baseline)", ""),
        ("SM2 sign / verify (GmSSL via gmssl-pyx, SM3 with the default user id)", f"{sm_sign:,.0f} / {sm_verify:,.0f} per s",
         f"{sm_sign / ed_sign:.2f}× / {sm_verify / ed_verify:.2f}×", "(ratio)", ""),
        (f"Batch deposits, Ed25519 + SHA-256 chain ({args.records:,} records in signed 1,000-item batches, 4 connections)",
         f"{rates['ed25519']:,.0f} records/s", "1.00×", "(baseline)", ""),
        ("Batch deposits, SM2 + SM3 chain (SM2 lender), same run", f"{rates['sm2']:,.0f} records/s", f"{ratio:.2f}×", "≥ 0.7×",
         "met" if ratio >= 0.7 else "NOT met"),
    ]
    body = "\n".join([
        f"Command: `./scripts/bench sm2` (records={args.records:,} per chain); clients share the cores with the server",
        f"Machine: {machine_summary()}",
        "",
        *results_table(rows),
        "",
        "A batch costs one lender signature check and one receipt signature, so the suites differ mostly in the tree hash "
        "(SM3 vs SHA-256 over every leaf and node) and the sealer's block and checkpoint signatures.",
    ])
    if args.no_write:
        print(body)
    else:
        write_section("sm2", "SM2 + SM3 vs Ed25519 + SHA-256 (issue 18)", body)


if __name__ == "__main__":
    main()
