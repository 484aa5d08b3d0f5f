"""The credit part of `fivechains demo` (征信链): a borrower with loans at three lenders applies at a fourth; the
fourth computes the borrower's pseudonym through the bureau (blinded), is refused without consent, deposits the
borrower's consent on the supervision chain, quotes its deposit code and gets the multi-head flag; the borrower's
own report then shows that query, and it verifies offline — all through the real services and commands."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from pathlib import Path

import httpx

from chain.keys import generate_keypair, load_private_key, public_key_bytes
from credit_chain.client import CreditClient
from evidence.deposit_codes import format_code
from evidence.digests import digest_json
from supervision_chain.client import DepositItem, LenderClient

from .demo_risk import LENDERS, _fc, _show
from .output import console

FOURTH = ("L0004", "Baiyun Digital Credit")
APPLICANT = "11010519491231002X"  # a resident ID number (GB 11643's own example): it never leaves the lenders' hands
PURPOSE = "贷款审批 loan application"


def _key(data_dir: Path, lender: str) -> Path:
    key_file = data_dir / f"lender-{lender}.key"
    if not key_file.exists():
        generate_keypair(key_file)
    return key_file


def run_credit_demo(data_dir: Path, system_dir: Path, url: str, credit: str) -> None:
    console.rule("[bold]credit chain 征信链[/] — pseudonyms by OPRF · consent on the chain · multi-head check · the borrower's own record")
    token = (system_dir / "supervision" / "regulator.token").read_text().strip()
    lender, name = FOURTH
    key_file = _key(data_dir, lender)
    public = base64.b64encode(public_key_bytes(load_private_key(key_file).public_key())).decode()
    httpx.post(url + "/v1/admin/lenders", headers={"Authorization": f"Bearer {token}"},
               json={"id": lender, "name": name, "licence": "GZ-2026-004", "public_key": public})
    for _ in range(200):  # the credit chain learns the new lender's key from the supervision feed within seconds
        with CreditClient(credit, lender_id=lender, key=load_private_key(key_file)) as client:
            try:
                client.pseudonyms([APPLICANT])
                break
            except Exception:  # noqa: BLE001 - not yet known to the credit chain
                time.sleep(0.1)
    now = int(time.time() * 1000)
    for n, other in enumerate(LENDERS):  # three earlier loans, each lender pseudonymising the same ID itself
        other_key = load_private_key(_key(data_dir, other))
        with CreditClient(credit, lender_id=other, key=other_key) as client:
            borrower = client.pseudonyms([APPLICANT])[0]
        report = {"principal": (n + 2) * 1_000_000, "rate_bp": 1800, "term_months": 12, "borrower_kind": "person", "borrower": borrower,
                  "schedule": [{"date": (dt.date.today() + dt.timedelta(days=365)).isoformat(), "amount": (n + 2) * 1_100_000}]}
        with LenderClient(url, other, other_key) as client:
            client.deposit([DepositItem(digest_json({"contract": other, "n": n}), "contract", f"CREDIT-DEMO-{other}", now - (40 - 10 * n) * 86_400_000,
                                        report=report)])
    console.print(f"borrower {APPLICANT[:6]}********{APPLICANT[-4:]} has loans at {', '.join(LENDERS.values())}; "
                  f"now applies at {name} ({lender}).", soft_wrap=True)
    server, key = ["--server", credit], ["--lender", lender, "--key", str(key_file)]
    shown = _fc("credit", "pseudonym", APPLICANT, *key, *server)
    _show(f"fivechains credit pseudonym {APPLICANT[:6]}… --lender {lender} --key …   (blinded: the bureau never sees the ID)", shown)
    with CreditClient(credit, lender_id=lender, key=load_private_key(key_file)) as client:
        borrower = client.pseudonyms([APPLICANT])[0]
    refused = _fc("credit", "check", borrower, "--consent", "0000-0000-0000-00", "--purpose", PURPOSE, *key, *server)
    console.print(f"a check without the borrower's consent → exit {refused.returncode}: "
                  f"{(refused.stdout + refused.stderr).strip().splitlines()[-1] if (refused.stdout + refused.stderr).strip() else ''}",
                  soft_wrap=True, highlight=False)
    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()
    consent = {"borrower": borrower, "purpose": PURPOSE, "valid_from": today.isoformat(), "valid_to": (today + dt.timedelta(days=30)).isoformat()}
    with LenderClient(url, lender, load_private_key(key_file)) as client:
        index = client.deposit([DepositItem(digest_json({"signed-consent": borrower, "at": now}), "consent", f"APP-{now}", now,
                                            report=consent)])["items"][0]["index"]
        code = client.wait_for([index], "anchored", timeout=60)[index]["deposit_code"]
    console.print(f"the borrower signs the consent (征信授权书); {lender} deposits it on the supervision chain → deposit code "
                  f"[bold]{format_code(code)}[/] from the judicial chain (a court can verify it)", soft_wrap=True)
    _show(f"fivechains credit check {borrower[:12]}… --consent {format_code(code)} --purpose '{PURPOSE}' --lender {lender} --key …",
          _fc("credit", "check", borrower, "--consent", code, "--purpose", PURPOSE, *key, *server))
    out = data_dir / "credit-report.json"
    _show(f"fivechains credit report --id {APPLICANT[:6]}… --data-dir {system_dir} --out {out.name}   (the bureau's desk, for the borrower)",
          _fc("credit", "report", "--id", APPLICANT, "--data-dir", str(system_dir), "--out", str(out), *server))
    _show(f"fivechains credit verify-report {out.name} --server {credit}", _fc("credit", "verify-report", str(out), *server))
    if out.exists():
        queries = json.loads(out.read_text())["queries"]
        console.print(f"the borrower's report lists {len(queries)} query(ies): "
                      + "; ".join(f"{q['lender_name']} for {q['purpose']!r} with consent {format_code(q['consent_code'])}" for q in queries),
                      soft_wrap=True, highlight=False)
    console.print(f"the bureau's pages: {credit}/credit/  (operator token in {system_dir / 'credit' / 'operator.token'})", soft_wrap=True)
