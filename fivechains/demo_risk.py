"""The risk-control part of `fivechains demo` (风控链): lenders report four months of loans, one drifts into red,
the warning is explained and recomputed, the lender answers with its key, the regulator closes it, and the
court verifies the warning by its deposit code — all through the real services and commands."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from chain.keys import generate_keypair, load_private_key, public_key_bytes
from evidence.digests import digest_json
from risk_chain.scenario import history
from supervision_chain.client import DepositItem, LenderClient

from .output import console

LENDERS = {"L0001": "Yue Xiu Online Lending", "L0002": "Pearl River Micro Credit", "L0003": "Tianhe Quick Loans"}


def _fc(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A command as the user would type it; its tables as wide as the demo's own terminal (at least 120 columns)."""
    env = {**os.environ, "COLUMNS": str(max(console.width, 120))}
    return subprocess.run([sys.executable, "-m", "fivechains.cli", *args], capture_output=True, text=True, timeout=timeout, env=env)


def _show(title: str, done: subprocess.CompletedProcess[str]) -> None:
    console.print(f"$ {title}", soft_wrap=True, highlight=False)
    console.print(done.stdout.rstrip(), markup=False, highlight=False, soft_wrap=True)
    if done.returncode != 0:
        console.print(f"[red]exit {done.returncode}[/] {done.stderr.strip()[-500:]}")


def run_risk_demo(data_dir: Path, system_dir: Path, url: str, risk: str, portal: str) -> str | None:
    """The story on a running `fivechains up`; returns the warning's id (None if none was raised)."""
    console.rule("[bold]risk-control chain 风控链[/] — monitor and warn → handle and answer → keep monitoring")
    token = (system_dir / "supervision" / "regulator.token").read_text().strip()
    keys: dict[str, Path] = {}
    for lender, name in LENDERS.items():
        key_file = data_dir / f"lender-{lender}.key"
        if not key_file.exists():
            generate_keypair(key_file)
        keys[lender] = key_file
        public = base64.b64encode(public_key_bytes(load_private_key(key_file).public_key())).decode()
        httpx.post(url + "/v1/admin/lenders", headers={"Authorization": f"Bearer {token}"},
                   json={"id": lender, "name": name, "licence": f"GZ-2026-{lender[-3:]}", "public_key": public})
    records = history(int(time.time() * 1000))
    for lender in LENDERS:
        mine = [r for r in records if r.lender_id == lender]
        with LenderClient(url, lender, load_private_key(keys[lender])) as client:
            client.deposit([DepositItem(digest_json(r.record()), r.record_type, r.loan_id, r.event_time_ms, report=r.report) for r in mine])
    console.print(f"{len(records)} records of 120 days deposited by {len(LENDERS)} lenders, each with its typed report "
                  "(contract, disbursement, repayment, overdue, collection); the risk chain reads them from the supervision "
                  "chain's report feed. Tianhe Quick Loans (L0003) lends ever more above the rate cap to three borrowers, "
                  "stops being repaid, reports overdue loans it never reported and chases its borrowers daily. "
                  "(The history is deposited today, so every lender also reports late today.)", soft_wrap=True)
    risk_token = system_dir / "risk" / "regulator.token"
    auth = {"Authorization": f"Bearer {risk_token.read_text().strip()}"}
    warning = None
    for _ in range(300):
        found = httpx.get(risk + "/v1/warnings", params={"state": "opened"}, headers=auth).json()["warnings"]
        theirs = [w for w in found if w.get("lender_id") == "L0003"]  # the story's lender: another lender's warning is not this story
        if theirs:
            warning = theirs[0]
            break
        time.sleep(0.2)
    if warning is None:
        console.print("no new warning: this data directory's risk chain has handled this lender already (run the demo on a new "
                      f"--data-dir to see it again); its warnings: {risk}/risk/", soft_wrap=True)
        return None
    wid, up = warning["id"], str(system_dir)
    server = ["--server", risk]
    console.print(f"[bold red]warning {wid}[/]: {warning['lender_id']} {warning['lender_name']} entered [bold]{warning['band']}[/] "
                  f"(index {warning['risk_index']}); the lender must answer by the deadline.", soft_wrap=True)
    _show(f"fivechains risk explain {wid} --data-dir {up}", _fc("risk", "explain", wid, "--data-dir", up, *server))
    _show(f"fivechains risk recompute {wid} --data-dir {up} --supervision {url}",
          _fc("risk", "recompute", wid, "--data-dir", up, "--supervision", url, *server))
    _show(f"fivechains risk assign {wid} --to 'REG-002 王科长' --data-dir {up}", _fc("risk", "assign", wid, "--to", "REG-002 王科长", "--data-dir", up, *server))
    plan = data_dir / "remediation-plan.txt"
    plan.write_text("Rates repriced under 4x LPR; collection limited to one call a week; unreported loans filed.\n", encoding="utf-8")
    _show(f"fivechains risk answer {wid} --lender L0003 --key {keys['L0003']} --text … --attach {plan.name}",
          _fc("risk", "answer", wid, "--lender", "L0003", "--key", str(keys["L0003"]), "--attach", str(plan), *server,
              "--text", "已整改：利率降至上限以内，催收频次降低，补报漏报贷款。Repriced, collection reduced, missing loans reported."))
    other = _fc("risk", "show", wid, "--lender", "L0001", "--key", str(keys["L0001"]), *server)
    console.print(f"another lender (L0001) asking for this warning → {other.stdout.strip() or other.stderr.strip()}", soft_wrap=True, highlight=False)
    _show(f"fivechains risk review {wid} --finding accepted --data-dir {up}", _fc("risk", "review", wid, "--finding", "accepted", "--data-dir", up, *server))
    _show(f"fivechains risk close {wid} --note … --data-dir {up}",
          _fc("risk", "close", wid, "--note", "整改已核实 remediation verified on site", "--data-dir", up, *server))
    _court_verifies(data_dir, system_dir, risk, portal, wid, auth)
    console.print(f"regulator's pages: {risk}/risk/  (sign in with the token in {risk_token}); "
                  f"a lender's page: fivechains risk page-link --lender L0003 --key {keys['L0003']} --server {risk}", soft_wrap=True)
    return wid


def _court_verifies(data_dir: Path, system_dir: Path, risk: str, portal: str, wid: str, auth: dict[str, str]) -> None:
    """The warning's opening entry, anchored in the judicial chain, verified by the court from the document and its code."""
    code = None
    for _ in range(300):
        steps = httpx.get(f"{risk}/v1/warnings/{wid}", headers=auth).json()["steps"]
        code = steps[0]["deposit_code"]
        if code:
            break
        time.sleep(0.2)
    case = data_dir / "risk-case"
    case.mkdir(exist_ok=True)
    document = httpx.get(f"{risk}/v1/warnings/{wid}/steps/0/document", headers=auth).content
    (case / f"warning-{wid}.json").write_bytes(document)
    (case / "manifest.json").write_text(json.dumps({"items": [{"path": f"warning-{wid}.json", "line": 1, "deposit_code": code}]}))
    judge_id = f"RISK-JUDGE-{int(time.time())}"
    made = _fc("judicial", "judge", "add", judge_id, "--name", "演示法官 Demo judge", "--data-dir", str(system_dir / "judicial"), "--json")
    judge = json.loads(made.stdout)
    done = _fc("court", "verify", str(case / "manifest.json"), "--portal", portal, "--token", judge["token"], "--case",
               "(2026)粤0192行初1号", "--json")
    result = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"items": []}
    verdicts = [f"{i['verdict']} (deposited by {i['lender_id']} on {i.get('supervision_chain')} entry {i.get('supervision_index')})"
                for i in result["items"]]
    console.print(f"court portal: the warning's signed document with deposit code {code} → {', '.join(verdicts) or done.stderr.strip()}",
                  soft_wrap=True)
