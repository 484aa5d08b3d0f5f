"""A running five-chain system (`fivechains up`, service chain on) with two lenders, two funders and a buyer, and
loans whose records were deposited (contract, disbursement, repayments) and anchored, for the service chain's tests.

Each loan is a ``Loan``: its JSON records (what the lender keeps), the deposit code of each, and the outstanding
principal the reports give. Crafted bad loans (back-filled, not adding up, overdue) are made beside good ones.
"""

from __future__ import annotations

import base64
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chain.keys import generate_keypair, load_private_key, public_key_bytes
from evidence.digests import digest_json
from service_chain.client import ServiceClient, pool_loan, record_entry
from supervision_chain.client import DepositItem, LenderClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from judicial.test_end_to_end import System  # noqa: E402

LENDERS = ("L0001", "L0002")
FUNDERS = ("F001", "F002")
BUYER = "B001"
MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000


@dataclass
class Loan:
    lender: str
    loan_id: str
    records: list[dict[str, Any]] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    outstanding: int = 0

    def entry(self, claimed: int | None = None, records: list[dict[str, Any]] | None = None, codes: list[str] | None = None) -> dict[str, Any]:
        """The loan as a pool carries it (the records and codes as given, or as deposited)."""
        recs, cds = records if records is not None else self.records, codes if codes is not None else self.codes
        return pool_loan(self.loan_id, self.outstanding if claimed is None else claimed, [record_entry(r, c) for r, c in zip(recs, cds, strict=True)])


def contract(principal: int, rate_bp: int = 1500) -> dict[str, Any]:
    return {"principal": principal, "rate_bp": rate_bp, "term_months": 12, "schedule": [{"date": "2027-06-30", "amount": principal + principal // 10}],
            "borrower_kind": "person", "borrower": "ab" * 32}


class ServiceWorld:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.system = System(root / "fc", service=True).start()
        try:
            self._set_up()
        except BaseException:
            self.system.stop()
            raise

    def _set_up(self) -> None:
        self.up = self.system.data_dir
        self.sv_token = (self.up / "supervision" / "regulator.token").read_text().strip()
        service_dir = self.up / "service"
        self.regulator_token = (service_dir / "regulator.token").read_text().strip()
        self.operator_token = (service_dir / "operator.token").read_text().strip()
        self.court_token = (service_dir / "court.token").read_text().strip()
        self.keys: dict[str, Any] = {}
        self.key_files: dict[str, Path] = {}
        for who in (*LENDERS, *FUNDERS, BUYER):
            self.key_files[who] = self.root / f"{who}.key"
            generate_keypair(self.key_files[who])
            self.keys[who] = load_private_key(self.key_files[who])
        for lender in LENDERS:
            added = httpx.post(self.system.url + "/v1/admin/lenders", headers={"Authorization": f"Bearer {self.sv_token}"},
                               json={"id": lender, "name": f"贷款机构 Lender {lender}", "licence": f"GZ-{lender}", "public_key": self._public(lender)})
            assert added.status_code == 201, added.text
        with self.operator() as op:
            for funder in FUNDERS:
                op.add_party(funder, f"资金方 Funder {funder}", "funder", public_key_bytes(self.keys[funder].public_key()))
            op.add_party(BUYER, "<b>资产管理公司</b> Buyer & Co", "buyer", public_key_bytes(self.keys[BUYER].public_key()))
        self._wait_for_lenders()

    def _public(self, who: str) -> str:
        return base64.b64encode(public_key_bytes(self.keys[who].public_key())).decode()

    def _wait_for_lenders(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the service chain learns lenders' keys from the feed every few seconds
            with self.lender(LENDERS[0]) as client:
                try:
                    client.pools()
                    return
                except Exception:  # noqa: BLE001 — 401 until the keys arrive
                    time.sleep(0.3)
        raise AssertionError("the service chain never learnt the lenders' keys")

    # --- clients -------------------------------------------------------------------------------

    def lender(self, lender_id: str) -> ServiceClient:
        return ServiceClient(self.system.service, lender_id=lender_id, key=self.keys[lender_id])

    def party(self, party_id: str) -> ServiceClient:
        return ServiceClient(self.system.service, party_id=party_id, key=self.keys[party_id])

    def operator(self) -> ServiceClient:
        return ServiceClient(self.system.service, token=self.operator_token)

    def regulator(self) -> ServiceClient:
        return ServiceClient(self.system.service, token=self.regulator_token)

    def court(self) -> ServiceClient:
        return ServiceClient(self.system.service, token=self.court_token)

    # --- loans ---------------------------------------------------------------------------------

    def make_loans(self, lender: str, prefix: str, n: int, *, principal: int = 1_000_000, repaid: tuple[int, ...] = (100_000, 50_000),
                   rate_bp: int = 1500, contract_late_ms: int = 0, disbursed: int | None = None, overdue_dpd: int | None = None,
                   pay_off: bool = False) -> list[Loan]:
        """``n`` loans deposited and anchored: contract, disbursement, repayments (and an overdue report), each a JSON record."""
        now = int(time.time() * 1000)
        loans, items, owners = [], [], []
        for k in range(n):
            loan = Loan(lender, f"{prefix}-{k:05d}")
            start = now - HOUR_MS  # the whole life of the loan within the last hour: every record deposited in real time
            events: list[tuple[str, int, dict[str, Any]]] = [
                ("contract", start - contract_late_ms, contract(principal, rate_bp)),
                ("disbursement", start + MINUTE_MS, {"amount": principal if disbursed is None else disbursed, "date": "2026-10-24"})]
            payments = (principal,) if pay_off else repaid
            for m, part in enumerate(payments):
                events.append(("repayment", start + (m + 2) * MINUTE_MS, {"amount": part + 1000, "date": "2026-11-01", "principal": part,
                                                                          "interest": 1000}))
            if overdue_dpd is not None:
                events.append(("overdue", now - MINUTE_MS, {"days_past_due": overdue_dpd, "amount_overdue": 10_000}))
            for record_type, event_ms, report in events:
                record = {"lender": lender, "loan": loan.loan_id, "type": record_type, "report": report, "event_ms": event_ms}
                loan.records.append(record)
                items.append(DepositItem(digest_json(record), record_type, loan.loan_id, event_ms, report=report))
                owners.append(loan)
            loan.outstanding = max((principal if disbursed is None else disbursed) - sum(payments), 0)
            loans.append(loan)
        with LenderClient(self.system.url, lender, self.keys[lender]) as client:
            indexes: list[int] = []
            for n0 in range(0, len(items), 1000):
                indexes += [i["index"] for i in client.deposit(items[n0:n0 + 1000])["items"]]
            anchored = client.wait_for(indexes, timeout=60)
        for owner, index in zip(owners, indexes, strict=True):
            owner.codes.append(anchored[index]["deposit_code"])
            owner.indexes.append(index)
        self.wait_for_feed()
        return loans

    def wait_for_feed(self, timeout: float = 60) -> None:
        """Until the service chain has read every anchored supervision report."""
        sealed = httpx.get(self.system.url + "/v1/chain", timeout=5).json()["sealed_size"]
        deadline = time.monotonic() + timeout
        with self.regulator() as reg:
            while time.monotonic() < deadline:
                if reg.status()["feed_position"] >= sealed:
                    return
                time.sleep(0.1)
        raise AssertionError("the service chain did not catch up with the anchored feed")
