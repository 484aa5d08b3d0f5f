"""The service part of `fivechains demo` (服务链): the platform's operator registers two funders and a buyer; a lender
deposits loans with their whole lives on the supervision chain and pools them for financing; the service chain checks
every loan against the anchored deposits, certifies the pool (checked offline), a funder takes the pledge, a second
pledge of the same loans to the other funder is refused, and a bad loan is sold to the buyer. Then the court verifies
the sold loan's records and is told who holds the claim now — all through the real services and commands."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from chain.keys import CHAIN_SUITES, generate_keypair, load_private_key
from evidence.deposit_codes import CodeError, format_code, normalize
from evidence.digests import digest_json
from service_chain.client import ServiceClient, ServiceError, pool_loan, record_entry
from supervision_chain.client import DepositItem, LenderClient

from .demo_risk import LENDERS, _fc, _show
from .output import console

LENDER = "L0001"  # registered by the supervision and risk demos (its key: lender-L0001.key in the demo's directory)
FUNDER = ("F001", "广州某银行 Guangzhou Bank", "funder")
OTHER_FUNDER = ("F002", "深圳某信托 Shenzhen Trust", "funder")
BUYER = ("B001", "广州某资产管理公司 Guangzhou Asset Management", "buyer")
MINUTE_MS, HOUR_MS = 60_000, 3_600_000
RATE_BP = 1080  # 10.8 % a year: under the rate cap (4 × LPR) the risk chain watches, so these loans raise no warning there
_BEIJING = dt.timezone(dt.timedelta(hours=8))


@dataclass
class DemoLoan:
    loan_id: str
    note: str
    records: list[dict[str, Any]] = field(default_factory=list)  # what the lender keeps: each record's JSON
    codes: list[str] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    outstanding: int = 0
    shown: list[dict[str, Any]] | None = None  # the records as the lender hands them over, if not as deposited

    def entry(self) -> dict[str, Any]:
        records = self.shown if self.shown is not None else self.records
        return pool_loan(self.loan_id, self.outstanding, [record_entry(r, c) for r, c in zip(records, self.codes, strict=True)])


@dataclass
class ServiceStory:
    """What the court and the regulator need from the service part."""

    lender: str
    sold: DemoLoan
    buyer: tuple[str, str, str]
    sold_ms: int
    pledge_index: int | None


def yuan(fen: int | None) -> str:
    return "—" if fen is None else f"¥{fen / 100:,.2f}"


def beijing(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, _BEIJING).strftime("%Y-%m-%d %H:%M")


def _code(code: str | None) -> str:
    try:
        return format_code(normalize(code)) if code else "—"
    except CodeError:
        return code or "—"


def _party_key(data_dir: Path, party: str, key_type: str) -> Path:
    key_file = data_dir / f"party-{party}.key"
    if not key_file.exists():
        generate_keypair(key_file, key_type)  # 0600, its public key beside it (.pub)
    return key_file


def wait_for_feed(url: str, service: str, token: str, timeout: float = 60) -> bool:
    """Until the service chain has read every sealed supervision entry (its report feed), bounded."""
    sealed = httpx.get(url + "/v1/chain", timeout=10).json()["sealed_size"]
    deadline = time.monotonic() + timeout
    with ServiceClient(service, token=token) as regulator:
        while time.monotonic() < deadline:
            if regulator.status()["feed_position"] >= sealed:
                return True
            time.sleep(0.2)
    return False


def _record(lender: str, loan: str, record_type: str, report: dict[str, Any], event_ms: int) -> dict[str, Any]:
    return {"lender": lender, "loan": loan, "type": record_type, "report": report, "event_ms": event_ms}


def _make_loans(lender: str, prefix: str, now: int) -> list[DemoLoan]:
    """Six loans whose lives ran over the last hour (one back-filled, one later edited, one overdue), as records."""
    today = dt.datetime.fromtimestamp(now / 1000, _BEIJING).date()
    due = (today + dt.timedelta(days=365)).isoformat()
    specs = [  # (note, principal, principal repaid by instalment, contract deposited late by, days past due)
        ("", 1_000_000, (100_000, 50_000), 0, None),
        ("", 2_000_000, (200_000,), 0, None),
        ("", 1_500_000, (150_000, 150_000), 0, None),
        ("contract deposited 30 h after it was signed 合同补录", 1_200_000, (100_000,), 30 * HOUR_MS, None),
        ("a repayment record edited after deposit 记录事后被改", 800_000, (80_000,), 0, None),
        ("the borrower stopped paying 逾期", 900_000, (90_000,), 0, 45),
    ]
    loans = []
    start = now - HOUR_MS
    for n, (note, principal, repaid, late, dpd) in enumerate(specs, start=1):
        loan = DemoLoan(f"{prefix}-{n:02d}", note)
        borrower = hashlib.sha256(f"demo borrower {loan.loan_id}".encode()).hexdigest()
        signed = now - late if late else start
        events = [("contract", signed, {"principal": principal, "rate_bp": RATE_BP, "term_months": 12, "borrower_kind": "person",
                                        "borrower": borrower, "schedule": [{"date": due, "amount": principal + principal * RATE_BP // 10_000}]}),
                  ("disbursement", start + MINUTE_MS, {"amount": principal, "date": today.isoformat()})]
        for m, part in enumerate(repaid):
            events.append(("repayment", start + (m + 2) * MINUTE_MS, {"amount": part + 12_500, "date": today.isoformat(), "principal": part,
                                                                     "interest": 12_500}))
        if dpd is not None:
            events.append(("overdue", now - MINUTE_MS, {"days_past_due": dpd, "amount_overdue": 95_000}))
        loan.records = [_record(lender, loan.loan_id, kind, report, at) for kind, at, report in events]
        loan.outstanding = principal - sum(repaid)
        loans.append(loan)
    edited = loans[4]
    edited.shown = json.loads(json.dumps(edited.records))
    edited.shown[2]["report"]["principal"] += 40_000  # as the lender shows it now: more repaid than it deposited
    edited.shown[2]["report"]["amount"] += 40_000
    return loans


def deposit(url: str, lender: str, key: Any, loans: list[DemoLoan], records: list[tuple[DemoLoan, dict[str, Any]]] | None = None) -> None:
    """Deposit records (each loan's, or the given ones) with their typed reports; wait until each has its deposit code."""
    pairs = records if records is not None else [(loan, r) for loan in loans for r in loan.records]
    items = [DepositItem(digest_json(r), r["type"], r["loan"], r["event_ms"], report=r["report"]) for _loan, r in pairs]
    with LenderClient(url, lender, key) as client:
        indexes = [i["index"] for i in client.deposit(items)["items"]]
        views = client.wait_for(indexes, "anchored", timeout=60)
    for (loan, _record_), index in zip(pairs, indexes, strict=True):
        loan.indexes.append(index)
        loan.codes.append(views[index]["deposit_code"])


def _verdict_table(verdicts: list[dict[str, Any]], loans: dict[str, DemoLoan], title: str) -> Table:
    table = Table("loan 贷款", "verdict 结论", "outstanding 未偿本金", "exceptions 例外", title=title)
    for v in verdicts:
        verdict = "[green]合格 eligible[/]" if v["eligible"] else "[red]例外 exception[/]"
        exceptions = "; ".join(f"{e['code']}: {e['detail']}" for e in v["exceptions"]) or "—"
        note = loans[v["loan_id"]].note if v["loan_id"] in loans else ""
        table.add_row(v["loan_id"] + (f"\n[dim]{note}[/]" if note else ""), verdict, yuan(v["outstanding_fen"]), exceptions)
    return table


def _register_parties(data_dir: Path, system_dir: Path, service: str, key_type: str) -> dict[str, Path]:
    """The operator registers the funders and the buyer, each with a key made here (kept: a later run reuses it)."""
    from chain.keys import public_key_bytes

    operator = (system_dir / "service" / "operator.token").read_text().strip()
    keys = {}
    with ServiceClient(service, token=operator) as op:
        known = {p["id"] for p in op.parties()}
        for party, name, kind in (FUNDER, OTHER_FUNDER, BUYER):
            keys[party] = _party_key(data_dir, party, key_type)
            if party in known:
                console.print(f"{kind} {party} {name}: registered already (an earlier run); its key {keys[party]}", highlight=False)
                continue
            added = op.add_party(party, name, kind, public_key_bytes(load_private_key(keys[party]).public_key()))
            console.print(f"the platform's operator registers {kind} [bold]{party}[/] {name} with its public key ({keys[party].name}.pub; "
                          f"the private key stays with it, 0600) → service entry {added['index']}", soft_wrap=True, highlight=False)
    return keys


def _wait_for_code(client: ServiceClient, registration_id: str, timeout: float = 30) -> dict[str, Any] | None:
    """The registration once its service entry has its deposit code (anchored in the judicial chain), bounded."""
    deadline = time.monotonic() + timeout
    found = None
    while time.monotonic() < deadline:
        found = next((r for r in client.registrations() if r["registration_id"] == registration_id), None)
        if found is not None and found.get("deposit_code"):
            return found
        time.sleep(0.2)
    return found


def run_service_demo(data_dir: Path, system_dir: Path, url: str, service: str, portal: str, suite: str = "ed25519") -> ServiceStory:
    console.rule("[bold]service chain 服务链[/] — pools checked against the deposits · a certificate · a pledge, and a second refused · a sale")
    key_type = CHAIN_SUITES[suite][0]
    service_dir = system_dir / "service"
    regulator = (service_dir / "regulator.token").read_text().strip()
    keys = _register_parties(data_dir, system_dir, service, key_type)
    lender, lender_name = LENDER, LENDERS[LENDER]
    lender_key_file = data_dir / f"lender-{lender}.key"
    lender_key = load_private_key(lender_key_file)
    now = int(time.time() * 1000)
    stamp = dt.datetime.fromtimestamp(now / 1000, _BEIJING).strftime("%m%d%H%M%S")
    loans = _make_loans(lender, f"YX{stamp}", now)
    deposit(url, lender, lender_key, loans)
    fed = wait_for_feed(url, service, regulator)
    console.print(f"{lender} {lender_name} deposits {sum(len(x.records) for x in loans)} records of {len(loans)} loans on the supervision "
                  "chain (contract, disbursement, repayments; one overdue), each with its typed report, and gets their deposit codes; "
                  + ("the service chain has read them from the supervision chain's feed." if fed else
                     "[red]the service chain has not read them yet (its feed is behind)[/]."), soft_wrap=True)
    by_id = {x.loan_id: x for x in loans}
    with ServiceClient(service, lender_id=lender, key=lender_key) as client:
        pool_id = client.new_pool("financing", FUNDER[0])
        verdicts = client.add_loans(pool_id, [x.entry() for x in loans])
        console.print(_verdict_table(verdicts, by_id, f"pool 资产池 {pool_id}: financing offered to {FUNDER[0]} {FUNDER[1]}"))
        cert = client.certify(pool_id)
        console.print(f"pool {pool_id} certified (service entry {cert['index']}): {cert['loans']} loans, {cert['eligible']} eligible, "
                      f"eligible outstanding {yuan(cert['outstanding_fen'])}", highlight=False)
        cert_file = data_dir / f"pool-{pool_id}.cert"
        cert_file.write_text(cert["certificate"], encoding="utf-8")
        proofs = client.proofs(pool_id, start=0, limit=1000)
        proofs_file = data_dir / f"pool-{pool_id}.proofs.json"
        proofs_file.write_text(json.dumps(proofs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        vkey = client.vkey()  # the key as the platform publishes it: the trust is never taken from the file checked
        eligible = [x for x in loans if any(v["loan_id"] == x.loan_id and v["eligible"] for v in verdicts)]
        second = client.new_pool("financing", OTHER_FUNDER[0])  # the same loans shopped to another funder at the same time
        client.add_loans(second, [x.entry() for x in eligible])
        client.certify(second)
        amount = cert["outstanding_fen"] * 8 // 10  # financing of 80% of the eligible outstanding
        pledge = client.propose(pool_id, amount, 12, f"R-{stamp}-{FUNDER[0]}")
    _show(f"fivechains service verify-certificate {cert_file.name} --vkey {vkey.split('+')[0]}+… --proofs {proofs_file.name}   "
          "(offline: the funder checks the certificate and every loan's proof with the platform's key)",
          _fc("service", "verify-certificate", str(cert_file), "--vkey", vkey, "--proofs", str(proofs_file)))
    console.print(f"{lender} proposes pledging the {len(eligible)} eligible loans to {FUNDER[0]} for "
                  f"{yuan(amount)} over 12 months, signing the terms; "
                  f"{FUNDER[0]} reads them, checks them against the certificate and signs:", soft_wrap=True, highlight=False)
    reg_id = pledge["registration_id"]
    _show(f"fivechains service accept {reg_id} --party {FUNDER[0]} --key {keys[FUNDER[0]].name} --yes",
          _fc("service", "accept", reg_id, "--party", FUNDER[0], "--key", str(keys[FUNDER[0]]), "--server", service, "--yes"))
    with ServiceClient(service, party_id=FUNDER[0], key=load_private_key(keys[FUNDER[0]])) as funder:
        registered = _wait_for_code(funder, reg_id)
    if registered is not None and registered.get("deposit_code"):
        console.print(f"pledge {reg_id} registered (质押登记): service entry {registered['index']}, deposit code "
                      f"[bold]{format_code(registered['deposit_code'])}[/] (anchored in the judicial chain)", highlight=False)
    else:
        console.print(f"pledge {reg_id}: [red]{'not registered' if registered is None or registered['state'] != 'registered' else 'no deposit code yet'}[/]")
    with ServiceClient(service, lender_id=lender, key=lender_key) as client:
        try:
            client.propose(second, 1_000_000, 6, f"R-{stamp}-{OTHER_FUNDER[0]}")
            console.print(f"[red]the second pledge to {OTHER_FUNDER[0]} was accepted: a loan would be pledged twice[/]")
        except ServiceError as refused:
            named = "never names" if FUNDER[0] not in refused.detail and FUNDER[1] not in refused.detail else "[red]NAMES[/]"
            console.print(f"{lender} then offers the same loans to {OTHER_FUNDER[0]} {OTHER_FUNDER[1]} (pool {second}, certified before "
                          f"{FUNDER[0]} signed) → [bold red]{refused.status} {refused.slug}[/]: {refused.detail}  "
                          f"(the refusal names the loans and the date; it {named} the first funder)", soft_wrap=True, highlight=False)
        bad = loans[5]
        sale = client.new_pool("transfer", BUYER[0])
        sold_verdicts = client.add_loans(sale, [bad.entry()])
        console.print(_verdict_table(sold_verdicts, by_id, f"pool 资产池 {sale}: transfer (资产处置) to {BUYER[0]} {BUYER[1]}"))
        client.certify(sale)
        price = bad.outstanding * 30 // 100
        transfer = client.propose(sale, price, 0, f"R-{stamp}-{BUYER[0]}")
    with ServiceClient(service, party_id=BUYER[0], key=load_private_key(keys[BUYER[0]])) as buyer:
        sold = buyer.accept(transfer)
    console.print(f"{BUYER[0]} accepts: {bad.loan_id} ({yuan(bad.outstanding)} outstanding, 45 days past due) sold for {yuan(price)} — "
                  f"transfer {sold['registration_id']} {sold['state']}, service entry {sold['index']}; the claim is the buyer's from "
                  f"{beijing(sold['registered_ms'])} (Beijing time)", soft_wrap=True, highlight=False)
    console.print(f"the platform's pages: {service}/service/  (regulator token in {service_dir / 'regulator.token'}, operator token in "
                  f"{service_dir / 'operator.token'})", soft_wrap=True)
    return ServiceStory(lender, bad, BUYER, sold["registered_ms"], registered["index"] if registered else pledge.get("index"))


def run_court_demo(data_dir: Path, system_dir: Path, url: str, service: str, portal: str, story: ServiceStory) -> None:
    """The sold loan's borrower defaults; the lender goes to court; the court verifies the loan's records in a batch and
    is told, with each verdict, who holds the claim."""
    console.rule("[bold]judicial chain 司法链[/] — the court verifies the sold loan's records and learns who holds the claim")
    loan, lender = story.sold, story.lender
    now = int(time.time() * 1000)
    default = _record(lender, loan.loan_id, "overdue", {"days_past_due": 90, "amount_overdue": 190_000}, now)
    loan.records.append(default)
    deposit(url, lender, load_private_key(data_dir / f"lender-{lender}.key"), [], [(loan, default)])
    wait_for_feed(url, service, (system_dir / "service" / "regulator.token").read_text().strip())
    console.print(f"the borrower of {loan.loan_id} defaults (90 days past due, deposited by {lender} with deposit code "
                  f"{format_code(loan.codes[-1])}); {lender} {LENDERS[lender]} sues the borrower and hands the court the loan's "
                  f"{len(loan.records)} records with their deposit codes.", soft_wrap=True, highlight=False)
    judge_id = f"HOLDER-JUDGE-{int(time.time())}"
    made = _fc("judicial", "judge", "add", judge_id, "--name", "演示法官 Demo judge", "--data-dir", str(system_dir / "judicial"), "--json")
    auth = {"Authorization": "Bearer " + json.loads(made.stdout)["token"]}
    items = [{"code": code, "digest": digest_json(record)} for record, code in zip(loan.records, loan.codes, strict=True)]
    case = "(2026)粤0192民初88号"
    job = httpx.post(portal + "/v1/verifications", json={"case_id": case, "items": items}, headers=auth, timeout=30).json()["job_id"]
    console.print(f"POST {portal}/v1/verifications  (judge {judge_id}, case {case}, {len(items)} items {{code, digest}}) → job {job}",
                  soft_wrap=True, highlight=False)
    deadline = time.monotonic() + 60
    while True:
        view = httpx.get(f"{portal}/v1/verifications/{job}", headers=auth, timeout=30).json()
        if view["status"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if view["status"] != "done":
        console.print(f"[red]the verification job is still {view['status']} after 60 s[/]")
        return
    table = Table("record 记录", "deposit code 存证编码", "verdict 结论", "deposited by 存证机构", "supervision entry 监管链条目",
                  title=f"verdicts 核验结果 · {case}")
    for record, item in zip(loan.records, view["items"], strict=True):
        verdict = item["verdict"]
        shown = f"[green]{verdict}[/]" if verdict == "verified" else f"[red]{verdict}[/]"
        table.add_row(record["type"], _code(item.get("code")), shown,
                      f"{item.get('lender_id')} {item.get('lender_name', '')}", str(item.get("supervision_index")))
    console.print(table)
    holder = next((i["holder"] for i in view["items"] if i.get("holder")), None)
    if holder is None:
        console.print("[red]the portal gave no claim holder[/]" + (" (the service chain could not be asked)" if view.get("holders_unavailable") else ""))
        return
    since = f" since {beijing(holder['since_ms'])} (Beijing time)" if holder.get("since_ms") is not None else ""
    code = f"; transfer deposit code {format_code(holder['transfer_code'])}" if holder.get("transfer_code") else ""
    console.print(f"[bold]债权持有人 Claim holder: {holder['holder_name']} ({holder['holder_id']}){since}[/]{code}", soft_wrap=True, highlight=False)
    if holder["holder_id"] != lender:
        console.print(f"the records are the lender's and verify, but the plaintiff {lender} {LENDERS[lender]} no longer holds the claim: "
                      f"it was sold to {holder['holder_id']} (the service chain's transfer register) — the buyer is the one to sue.",
                      soft_wrap=True, highlight=False)
