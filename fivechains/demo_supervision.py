"""The pipeline part of `fivechains demo`: `fivechains up` on loopback, a lender depositing and getting codes."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.table import Table

from chain.checkpoint import open_checkpoint
from chain.hashing import suite_by_name
from chain.keys import CHAIN_SUITES, generate_keypair, load_private_key, public_key_bytes
from chain.merkle import leaf_hash, verify_inclusion
from chain.note import parse_vkey
from evidence.deposit_codes import format_code
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.records import digest_json, new_salt

from .output import console


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_supervision_demo(data_dir: Path, keep_running: bool = False, suite: str = "ed25519") -> None:
    """Start `fivechains up`, deposit as a lender, show the codes, prepare a case for the court portal."""
    console.rule("[bold]fivechains up[/] — supervision chain (监管链) → judicial chain (司法链): a lender deposits, codes come back")
    system_dir = data_dir / "system"
    sport, jport, pport, rport, cport, vport = _free_port(), _free_port(), _free_port(), _free_port(), _free_port(), _free_port()
    url = f"http://127.0.0.1:{sport}"
    risk = f"http://127.0.0.1:{rport}"
    credit = f"http://127.0.0.1:{cport}"
    service = f"http://127.0.0.1:{vport}"
    portal = f"http://127.0.0.1:{pport}"
    log_path = data_dir / "up.log"
    command = [sys.executable, "-m", "fivechains.cli", "up", "--data-dir", str(system_dir),
               "--supervision-port", str(sport), "--judicial-port", str(jport), "--portal-port", str(pport), "--risk-port", str(rport),
               "--credit-port", str(cport), "--service-port", str(vport), "--seal-interval-ms", "200", "--suite", suite]
    console.print("$ fivechains up --data-dir " + str(system_dir) + f" --supervision-port {sport} --judicial-port {jport} "
                  f"--service-port {vport} --suite {suite}", soft_wrap=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit(f"fivechains up stopped; see {log_path}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = (system_dir / "supervision" / "regulator.token").read_text().strip()
        key_file = data_dir / "lender-L0001.key"
        if not key_file.exists():
            generate_keypair(key_file, CHAIN_SUITES[suite][0])  # the lender's key of the same suite
        key = load_private_key(key_file)
        auth = {"Authorization": f"Bearer {token}"}
        lender = {"id": "L0001", "name": "Yue Xiu Online Lending", "licence": "GZ-2026-001",
                  "public_key": base64.b64encode(public_key_bytes(key.public_key())).decode()}
        registered = httpx.post(url + "/v1/admin/lenders", json=lender, headers=auth)
        if registered.status_code not in (201, 409):
            raise SystemExit(f"could not register the lender: {registered.text}")
        console.print(f"supervision API {url} (docs {url}/docs); judicial gRPC 127.0.0.1:{jport} (mutual TLS); lender L0001 registered")
        now = int(time.time() * 1000)
        records = [
            ("contract", {"loan_id": "loan-000042", "amount_cny": 12000, "term_months": 12}),
            ("disbursement", {"loan_id": "loan-000042", "paid_cny": 12000}),
            ("repayment", {"loan_id": "loan-000042", "instalment": 1, "paid_cny": 1060}),
        ]
        salts = [new_salt() for _ in records]
        items = [DepositItem(digest_json(rec, salt), kind, rec["loan_id"], now - 3_600_000) for (kind, rec), salt in zip(records, salts)]
        with LenderClient(url, "L0001", key) as client:
            answer = client.deposit(items)
            console.print(f"202 accepted: {len(answer['items'])} digests, receipt signed by the chain, seal promised by {answer['seal_by_ms']}")
            info = httpx.get(url + "/v1/chain").json()
            vkey, suite_of_tree = parse_vkey(info["vkey"]), suite_by_name(info["hash_suite"])
            table = Table("index", "type", "status", "block", "proof", title="the lender's status look-ups")
            table.add_column("deposit code 存证编码", no_wrap=True, min_width=17)
            views = client.wait_for([i["index"] for i in answer["items"]], "anchored", timeout=30)
            for item, (kind, _rec) in zip(answer["items"], records):
                view = views[item["index"]]
                cp = open_checkpoint(view["checkpoint"], vkey).checkpoint
                entry = httpx.get(url + "/v1/entries", params={"start": item["index"], "end": item["index"] + 1}).json()["entries"][0]
                ok = verify_inclusion(leaf_hash(entry["data"].encode(), suite_of_tree), item["index"], cp.size,
                                      [base64.b64decode(h) for h in view["inclusion_proof"]], cp.root, suite_of_tree)
                code = format_code(view["deposit_code"]) if view.get("deposit_code") else "—"
                table.add_row(str(item["index"]), kind, view["status"], str(view["block_height"]), "[green]verified[/]" if ok else "[red]FAILED[/]", code)
            console.print(table)
            bad = client.signed_request(items[:1])
            bad["items"][0]["digest"] = "not-a-digest"
            refused = httpx.post(url + "/v1/deposits", json=bad)
            console.print(f"a malformed request → {refused.status_code} {refused.headers['content-type']}: {refused.json()['detail']}")
        case_zip, judge_id, password = _demo_case(data_dir, system_dir, records, salts, views, answer)
        from .demo_risk import run_risk_demo

        run_risk_demo(data_dir, system_dir, url, risk, portal)
        from .demo_credit import run_credit_demo

        run_credit_demo(data_dir, system_dir, url, credit)
        from .demo_service import run_court_demo, run_service_demo

        story = run_service_demo(data_dir, system_dir, url, service, portal, suite)
        run_court_demo(data_dir, system_dir, url, service, portal, story)
        _regulator(data_dir, system_dir, url, portal, jport, risk, credit, service, story.pledge_index)
        console.rule("[bold]court portal 法院存证核验[/]")
        console.print("verify the demo case in a browser · 在浏览器中核验演示案件:")
        console.print(f"  portal   {portal}/web/login", soft_wrap=True)
        console.print(f"  judge    {judge_id}", soft_wrap=True)
        console.print(f"  password {password}  (one-time: the portal asks you to choose your own at sign-in)", soft_wrap=True)
        console.print(f"  case     {case_zip.resolve()}  (two records verify; one was edited after deposit: tampered)", soft_wrap=True)
        console.print("the regulator's pages · 监管页面 (sign in with the token in the file named):")
        for label, page, token_file in (("supervision 监管链", f"{url}/regulator/", system_dir / "supervision" / "regulator.token"),
                                        ("risk 风控链      ", f"{risk}/risk/", system_dir / "risk" / "regulator.token"),
                                        ("credit 征信链    ", f"{credit}/credit/", system_dir / "credit" / "regulator.token"),
                                        ("service 服务链   ", f"{service}/service/", system_dir / "service" / "regulator.token")):
            console.print(f"  {label} {page}  ({token_file})", soft_wrap=True, highlight=False)
        if keep_running:
            console.print("the system keeps running; press Ctrl-C to stop")
            try:
                proc.wait()
            except KeyboardInterrupt:
                pass
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


SERVICE_CHAIN_DB = Path("service") / "service.db"


def _audit(fc: list[str], args: list[str], state: Path, *, settle: float = 0) -> dict:
    """One `fivechains audit --json` run; with ``settle``, retried that many seconds while the last blocks are still being anchored."""
    deadline = time.monotonic() + settle
    while True:
        done = subprocess.run([*fc, *args, "--state", str(state), "--json"], capture_output=True, text=True, timeout=600)
        report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"ok": False, "findings": [done.stderr.strip()]}
        if report["ok"] or time.monotonic() >= deadline:
            return report
        time.sleep(1)


def _findings(report: dict) -> str:
    named = []
    for f in report["findings"]:
        if not isinstance(f, dict):
            named.append(str(f))
            continue
        where = ", ".join(p for p in (f"block {f['block']}" if f.get("block") is not None else "",
                                      f"entry {f['entry']}" if f.get("entry") is not None else "") if p)
        named.append(f"{f['chain']}{' (' + where + ')' if where else ''}: {f['problem']}")
    return "; ".join(named)


def _regulator(data_dir: Path, system_dir: Path, url: str, portal: str, jport: int, risk: str, credit: str, service: str,
               pledge_index: int | None) -> None:
    """The regulator audits all five chains from what they publish, sees a changed service entry named, and has the pages."""
    console.rule("[bold]regulator 监管[/] — audit all five chains, and the dashboard")
    certs = system_dir / "certs"
    fc = [sys.executable, "-m", "fivechains.cli"]
    subprocess.run([*fc, "judicial", "certs", "--certs", str(certs), "--client", "regulator.demo"], check=True, capture_output=True)
    judicial_vkey = httpx.get(portal + "/v1/chain").json()["vkey"]
    args = ["audit", "--supervision", url, "--judicial", f"127.0.0.1:{jport}", "--certs", str(certs), "--cert-name", "regulator.demo",
            "--judicial-vkey", judicial_vkey, "--risk", risk, "--credit", credit, "--service", service]
    shown = (f"$ fivechains audit --supervision {url} --judicial 127.0.0.1:{jport} --risk {risk} --credit {credit} --service {service}")
    state = data_dir / "audit-state"
    report = _audit(fc, args, state, settle=60)
    verdict = "[green]OK[/]" if report["ok"] else f"[red]FAILED[/] {_findings(report)}"
    console.print(f"{shown} --state {state} … → {verdict}", soft_wrap=True, highlight=False)
    if report["ok"]:
        lag = report["anchoring_lag_ms"]
        sv, jc, rk, cr, sc = report["supervision"], report["judicial"], report["risk"], report["credit"], report["service"]
        console.print(f"  {report['mode']} audit of all five chains: {sv['checked_entries']} of {sv['entries']} supervision, {rk['checked_entries']} of "
                      f"{rk['entries']} risk, {cr['checked_entries']} of {cr['entries']} credit, {sc['checked_entries']} of {sc['entries']} service "
                      f"and {jc['checked_entries']} of {jc['entries']} judicial entries replayed, every anchor matched; anchoring lag mean "
                      f"{lag['mean']} ms (the state is kept: the next audit checks only what is new)", soft_wrap=True, highlight=False)
    console.print(f"  dashboard {url}/regulator/  (sign in with the token in {system_dir / 'supervision' / 'regulator.token'})", soft_wrap=True)
    console.print(f"  metrics   {url}/metrics · {portal}/metrics", soft_wrap=True)
    if pledge_index is not None:
        _tampered_service_entry(data_dir, system_dir, fc, args, shown, pledge_index)


def _tampered_service_entry(data_dir: Path, system_dir: Path, fc: list[str], args: list[str], shown: str, index: int) -> None:
    """A clerk edits the pledge's entry in the service chain's database: a full audit (its own state, the kept one untouched)
    names the chain and the entry; the row is put back byte for byte, and the audit is OK again."""
    import shutil
    import sqlite3

    db = system_dir / SERVICE_CHAIN_DB
    with sqlite3.connect(db, timeout=30) as conn:
        original = conn.execute("SELECT data FROM ledger_entry WHERE idx = ?", (index,)).fetchone()[0]
    blob = bytes(original) if not isinstance(original, str) else original.encode()
    changed = blob.replace(b"pledge", b"pledgx", 1) if b"pledge" in blob else blob[:-1] + bytes([blob[-1] ^ 1])
    check_state = data_dir / "audit-state-check"
    console.print(f"a clerk edits the pledge's entry {index} directly in the service chain's database "
                  f"({db.name}, table ledger_entry, {len(blob)} bytes, one word changed):", soft_wrap=True, highlight=False)
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            conn.execute("UPDATE ledger_entry SET data = ? WHERE idx = ?", (changed if not isinstance(original, str) else changed.decode(), index))
        shutil.rmtree(check_state, ignore_errors=True)
        report = _audit(fc, args, check_state)
        verdict = "[green]OK[/] (the edit was not caught)" if report["ok"] else f"[bold red]FAILED[/]: {_findings(report)}"
        console.print(f"{shown} --state {check_state.name} (new) … → {verdict}", soft_wrap=True, highlight=False)
    finally:
        with sqlite3.connect(db, timeout=30) as conn:
            conn.execute("UPDATE ledger_entry SET data = ? WHERE idx = ?", (original, index))
            back = conn.execute("SELECT data FROM ledger_entry WHERE idx = ?", (index,)).fetchone()[0]
    console.print(f"the row is put back as it was ({'byte for byte' if back == original else '[red]NOT the same bytes[/]'}):",
                  highlight=False)
    shutil.rmtree(check_state, ignore_errors=True)
    report = _audit(fc, args, check_state, settle=30)
    verdict = "[green]OK[/]" if report["ok"] else f"[red]FAILED[/] {_findings(report)}"
    console.print(f"{shown} --state {check_state.name} (new) … → {verdict}", soft_wrap=True, highlight=False)
    shutil.rmtree(check_state, ignore_errors=True)


def _demo_case(data_dir: Path, system_dir: Path, records: list, salts: list, views: dict, answer: dict) -> tuple[Path, str, str]:
    """A case bundle (ZIP with receipts.json and the records) and a judge to verify it."""
    import json
    import zipfile

    case_dir = data_dir / "demo-case"
    case_dir.mkdir(exist_ok=True)
    rows = []
    for n, ((kind, record), salt, item) in enumerate(zip(records, salts, answer["items"])):
        name = f"{n + 1}-{kind}.json"
        content = dict(record, note="edited after deposit") if n == 2 else record  # the third one is tampered
        (case_dir / name).write_text(json.dumps(content, ensure_ascii=False) + "\n", encoding="utf-8")
        rows.append({"path": name, "line": 1, "salt": salt, "deposit_code": views[item["index"]]["deposit_code"], "index": item["index"]})
    (case_dir / "receipts.json").write_text(json.dumps({"items": rows}, indent=2), encoding="utf-8")
    case_zip = data_dir / "demo-case.zip"
    with zipfile.ZipFile(case_zip, "w") as archive:
        for f in sorted(case_dir.iterdir()):
            archive.write(f, f.name)
    judge_id = "DEMO-JUDGE"
    made = subprocess.run([sys.executable, "-m", "fivechains.cli", "judicial", "judge", "add", judge_id, "--name", "演示法官 Demo judge",
                           "--data-dir", str(system_dir / "judicial"), "--json"], capture_output=True, text=True, timeout=60)
    if made.returncode != 0:  # already made on an earlier run: a fresh one
        judge_id = f"DEMO-JUDGE-{int(time.time())}"
        made = subprocess.run([sys.executable, "-m", "fivechains.cli", "judicial", "judge", "add", judge_id, "--name", "演示法官 Demo judge",
                               "--data-dir", str(system_dir / "judicial"), "--json"], capture_output=True, text=True, timeout=60)
    return case_zip, judge_id, json.loads(made.stdout)["password"]
