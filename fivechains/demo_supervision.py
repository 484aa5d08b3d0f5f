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
    sport, jport, pport, rport, cport = _free_port(), _free_port(), _free_port(), _free_port(), _free_port()
    url = f"http://127.0.0.1:{sport}"
    risk = f"http://127.0.0.1:{rport}"
    credit = f"http://127.0.0.1:{cport}"
    portal = f"http://127.0.0.1:{pport}"
    log_path = data_dir / "up.log"
    command = [sys.executable, "-m", "fivechains.cli", "up", "--data-dir", str(system_dir),
               "--supervision-port", str(sport), "--judicial-port", str(jport), "--portal-port", str(pport), "--risk-port", str(rport),
               "--credit-port", str(cport), "--seal-interval-ms", "200", "--suite", suite]
    console.print("$ fivechains up --data-dir " + str(system_dir) + f" --supervision-port {sport} --judicial-port {jport} --suite {suite}")
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
        _regulator(data_dir, system_dir, url, portal, jport, risk, credit)
        console.rule("[bold]court portal 法院存证核验[/]")
        console.print("verify the demo case in a browser · 在浏览器中核验演示案件:")
        console.print(f"  portal   {portal}/web/login", soft_wrap=True)
        console.print(f"  judge    {judge_id}", soft_wrap=True)
        console.print(f"  password {password}  (one-time: the portal asks you to choose your own at sign-in)", soft_wrap=True)
        console.print(f"  case     {case_zip.resolve()}  (two records verify; one was edited after deposit: tampered)", soft_wrap=True)
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


def _regulator(data_dir: Path, system_dir: Path, url: str, portal: str, jport: int, risk: str, credit: str) -> None:
    """The regulator audits every chain from what they publish, and has a dashboard."""
    console.rule("[bold]regulator 监管[/] — audit every chain, and the dashboard")
    certs = system_dir / "certs"
    fc = [sys.executable, "-m", "fivechains.cli"]
    subprocess.run([*fc, "judicial", "certs", "--certs", str(certs), "--client", "regulator.demo"], check=True, capture_output=True)
    judicial_vkey = httpx.get(portal + "/v1/chain").json()["vkey"]
    args = ["audit", "--supervision", url, "--judicial", f"127.0.0.1:{jport}", "--certs", str(certs), "--cert-name", "regulator.demo",
            "--judicial-vkey", judicial_vkey, "--risk", risk, "--credit", credit, "--state", str(data_dir / "audit-state"), "--json"]
    done = subprocess.run([*fc, *args], capture_output=True, text=True)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"ok": False, "findings": [done.stderr.strip()]}
    verdict = "[green]OK[/]" if report["ok"] else f"[red]FAILED[/] {report['findings']}"
    console.print(f"$ fivechains audit --supervision {url} --judicial 127.0.0.1:{jport} --risk {risk} --credit {credit} --state {data_dir / 'audit-state'} … → {verdict}",
                  soft_wrap=True)
    if report["ok"]:
        lag = report["anchoring_lag_ms"]
        sv, jc, rk, cr = report["supervision"], report["judicial"], report["risk"], report["credit"]
        console.print(f"  {report['mode']} audit: {sv['checked_entries']} of {sv['entries']} supervision, {rk['checked_entries']} of "
                      f"{rk['entries']} risk, {cr['checked_entries']} of {cr['entries']} credit and {jc['checked_entries']} of "
                      f"{jc['entries']} judicial entries replayed, every anchor matched; anchoring lag mean {lag['mean']} ms "
                      "(the state is kept: the next audit checks only what is new)")
    console.print(f"  dashboard {url}/regulator/  (sign in with the token in {system_dir / 'supervision' / 'regulator.token'})", soft_wrap=True)
    console.print(f"  metrics   {url}/metrics · {portal}/metrics", soft_wrap=True)


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
