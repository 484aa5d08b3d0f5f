"""The `fivechains` command as a person or a script uses it (real processes, real files)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

CHAIN = "supervision.cli.test/gz"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"fivechains {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_ledger_lifecycle_from_the_shell(tmp_path: Path) -> None:
    d = tmp_path / "ledger"
    init = json.loads(run("ledger", "init", "--data-dir", str(d), "--chain-id", CHAIN, "--json").stdout)
    assert init["vkey"].startswith(CHAIN + "+")
    assert stat.S_IMODE(os.stat(d / "signer.key").st_mode) == 0o600
    records = []
    for i in range(3):
        f = tmp_path / f"record-{i}.json"
        f.write_text(json.dumps({"loan": f"L{i}", "amount": 1000 + i}))
        records.append(f)
    appended = json.loads(run("ledger", "append", "--data-dir", str(d), *map(str, records), "--json").stdout)
    assert appended["first_index"] == 0 and appended["count"] == 3
    sealed = json.loads(run("ledger", "seal", "--data-dir", str(d), "--json").stdout)
    assert sealed == {**sealed, "sealed": True, "height": 0, "tree_size": 3}
    assert run("ledger", "checkpoint", "--data-dir", str(d)).stdout.startswith(f"{CHAIN}\n3\n")

    proof = tmp_path / "r1.tlog-proof"
    run("ledger", "prove", "1", "--data-dir", str(d), "--out", str(proof))
    ok = json.loads(run("ledger", "verify-proof", str(proof), "--entry", str(records[1]), "--vkey", init["vkey"], "--json").stdout)
    assert ok == {"ok": True, "origin": CHAIN, "index": 1, "tree_size": 3}
    wrong = run("ledger", "verify-proof", str(proof), "--entry", str(records[2]), "--vkey", init["vkey"], "--json", check=False)
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["ok"] is False

    audit = json.loads(run("ledger", "audit", "--data-dir", str(d), "--vkey", init["vkey"], "--json").stdout)
    assert audit["ok"] is True and audit["entries"] == 3
    with sqlite3.connect(d / "ledger.db") as conn:
        conn.execute("UPDATE ledger_entry SET data = x'00' WHERE idx = 2")
    failed = run("ledger", "audit", "--data-dir", str(d), "--json", check=False)
    assert failed.returncode == 1
    findings = json.loads(failed.stdout)["findings"]
    assert [(f["chain"], f["block"], f["entry"]) for f in findings] == [(CHAIN, 0, 2)]


def test_keys_generate_and_clear_errors(tmp_path: Path) -> None:
    out = json.loads(run("keys", "generate", "--out", str(tmp_path / "lender.key"), "--name", "lender.example/L1", "--json").stdout)
    assert Path(out["public_key"]).exists() and out["vkey"].startswith("lender.example/L1+")
    again = run("keys", "generate", "--out", str(tmp_path / "lender.key"), check=False)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr and "Traceback" not in again.stderr
    missing = run("ledger", "seal", "--data-dir", str(tmp_path / "nothing"), check=False)
    assert missing.returncode == 2 and "no ledger" in missing.stderr
    assert "append" in run("ledger", "--help").stdout


def test_demo_shows_the_ledger_working(tmp_path: Path) -> None:
    """The whole demo, one story across the five chains: deposits, a warning, a multi-head check, a pool pledged (a second
    pledge refused) and a loan sold, the court told who holds it, the audit of all five chains and a changed service entry named."""
    done = subprocess.run([sys.executable, "-m", "fivechains.cli", "demo", "--data-dir", str(tmp_path / "demo"), "--records", "600"],
                          capture_output=True, text=True, timeout=900, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "OK supervision.demo.fivechains/gz: 5 blocks, 600 entries" in out
    assert "FAILED" in out and "entry 300" in out
    assert "anchored" in out and "DEMO-JUDGE" in out and "demo-case.zip" in out
    chapters = ["risk-control chain 风控链", "credit chain 征信链", "service chain 服务链", "judicial chain 司法链", "regulator 监管"]
    assert [out.index(c) for c in chapters] == sorted(out.index(c) for c in chapters)
    assert "✓ OK 已验证" in out and "6 loan proofs reach its root (3 eligible)" in out  # the certificate and every proof, offline
    assert "back-filled: the contract was deposited 30.0 h after" in out and "overdue: 45 days past due" in out
    refusal = next(line for line in out.splitlines() if "409 already-encumbered" in line)
    assert "pledged, registered" in refusal and "it never names the first funder" in refusal and "F001" not in refusal.split("→")[1]
    assert "债权持有人 Claim holder: 广州某资产管理公司 Guangzhou Asset Management (B001) since" in out
    assert "the plaintiff L0001 Yue Xiu Online Lending no longer holds the claim" in out
    audits = [line for line in out.splitlines() if line.startswith("$ fivechains audit")]
    assert len(audits) == 3 and all("--service" in a for a in audits) and "full audit of all five chains" in out
    assert audits[0].endswith("→ OK") and audits[2].endswith("→ OK")
    assert re.search(r"→ FAILED: service\.fivechains\.local/gz-service-platform \(block \d+, entry \d+\): the entry was changed", audits[1])
    assert "the row is put back as it was (byte for byte)" in out
    assert out.index(audits[1]) < out.index("byte for byte") < out.index(audits[2])
    assert "/service/" in out and "service/regulator.token" in out
