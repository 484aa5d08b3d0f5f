"""A lender goes from `keys generate` to receipts with the CLI alone, as the README shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from supervision_chain.records import canonical_json, digest_bytes


def fc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=180)
    if check and proc.returncode != 0:
        raise AssertionError(f"fivechains {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_keys_to_receipts(tmp_path: Path, server) -> None:
    key = tmp_path / "lender.key"
    fc("keys", "generate", "--out", str(key))
    fc("regulator", "lender", "add", "L0001", "--name", "Yue Xiu Lending", "--licence", "GZ-2026-001",
       "--pubkey", str(key) + ".pub", "--server", server.url, "--token-file", str(server.data_dir / "regulator.token"))
    listed = json.loads(fc("regulator", "lender", "list", "--data-dir", str(server.data_dir), "--json").stdout)
    assert [lender["id"] for lender in listed] == ["L0001"]

    records = tmp_path / "records"
    (records / "contracts").mkdir(parents=True)
    (records / "contracts" / "loan-17.pdf").write_bytes(b"%PDF-1.7 a loan contract")
    (records / "contracts" / "loan-18.pdf").write_bytes(b"%PDF-1.7 another contract")
    lines = tmp_path / "repayments.jsonl"
    lines.write_text("\n".join(json.dumps({"loan_id": f"loan-{i}", "amount": 100 * i, "record_type": "repayment"}) for i in range(3)) + "\n")

    out = tmp_path / "receipts.json"
    result = fc("lender", "deposit", str(records), str(lines), "--server", server.url, "--lender", "L0001",
                "--key", str(key), "--out", str(out), "--record-type", "contract", "--json")
    assert json.loads(result.stdout)["deposited"] == 5
    receipts = json.loads(out.read_text())
    items = receipts["items"]
    assert len(items) == 5 and len(receipts["receipts"]) == 1
    assert sorted(i["index"] for i in items) == [0, 1, 2, 3, 4]
    pdf = next(i for i in items if i["path"].endswith("loan-17.pdf"))
    assert pdf["digest"] == digest_bytes(b"%PDF-1.7 a loan contract", pdf["salt"]) and pdf["status"] == "pending"
    line = next(i for i in items if i.get("line") == 2)
    assert line["record_type"] == "repayment" and line["loan_id"] == "loan-1"
    assert line["digest"] == digest_bytes(canonical_json({"loan_id": "loan-1", "amount": 100, "record_type": "repayment"}), line["salt"])
    # receipts.json keeps each item's commitment salt: with the loan id it opens the public entry's commitment
    import httpx

    from evidence.supervision_entry import parse_supervision_entry
    from supervision_chain.records import Item, commitment

    assert all(len(i["commitment_salt"]) == 64 and i["commitment_salt"] != i["salt"] for i in items)
    import time

    for _ in range(100):  # sealed within 500 ms; bounded wait
        entries = httpx.get(f"{server.url}/v1/entries", params={"start": 0, "end": 5}).json()["entries"]
        if len(entries) == 5:
            break
        time.sleep(0.1)
    public = parse_supervision_entry(next(e for e in entries if e["index"] == line["index"])["data"].encode())
    opened = Item(line["digest"], line["record_type"], line["loan_id"], line["event_time_ms"], line["commitment_salt"])
    assert commitment(opened).hex() == public.commitment

    # --wait needs deposit codes from the judicial chain: with none linked yet it times out, exit 1
    waited = fc("lender", "deposit", str(lines), "--server", server.url, "--lender", "L0001", "--key", str(key),
                "--out", str(tmp_path / "r2.json"), "--wait", "--timeout", "2", check=False)
    assert waited.returncode == 1 and json.loads((tmp_path / "r2.json").read_text())["items"][0]["status"] == "sealed"

    refused = fc("lender", "deposit", str(lines), "--server", server.url, "--lender", "NOBODY", "--key", str(key), check=False)
    assert refused.returncode == 2 and "401" in refused.stderr and "Traceback" not in refused.stderr
