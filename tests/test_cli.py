"""The `fivechains` command as a person or a script uses it (real processes, real files)."""

from __future__ import annotations

import json
import os
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
    out = run("demo", "--data-dir", str(tmp_path / "demo"), "--records", "600").stdout
    assert "OK supervision.demo.fivechains/gz: 5 blocks, 600 entries" in out
    assert "FAILED" in out and "entry 300" in out
    assert "anchored" in out and "DEMO-JUDGE" in out and "demo-case.zip" in out
