"""A running five-chain system (`fivechains up`) with four lenders and one applicant, for the credit chain's tests.

Three lenders have each lent to the applicant (a resident ID number, pseudonymised through the bureau's OPRF);
the fourth deposits the applicant's consent and waits for its deposit code. Module-scoped in each test module.
"""

from __future__ import annotations

import base64
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from chain.keys import generate_keypair, load_private_key, public_key_bytes
from credit_chain.client import CreditClient, CreditError
from evidence.digests import digest_json
from supervision_chain.client import DepositItem, LenderClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from judicial.test_end_to_end import System  # noqa: E402

LENDERS = ("L0001", "L0002", "L0003", "L0004")
APPLICANT = "11010519491231002X"  # GB 11643's own example
PURPOSE = "loan-application"
DAY_MS = 86_400_000


def contract(borrower: str, principal: int = 1_000_000, kind: str = "person") -> dict[str, Any]:
    return {"principal": principal, "rate_bp": 1500, "term_months": 12, "schedule": [{"date": "2027-06-30", "amount": principal + principal // 10}],
            "borrower_kind": kind, "borrower": borrower}


def consent(borrower: str, purpose: str = PURPOSE, days_from: int = -1, days_to: int = 30) -> dict[str, Any]:
    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()
    return {"borrower": borrower, "purpose": purpose, "valid_from": (today + dt.timedelta(days=days_from)).isoformat(),
            "valid_to": (today + dt.timedelta(days=days_to)).isoformat()}


class CreditWorld:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.system = System(root / "fc", credit=True).start()
        try:
            self._set_up()
        except BaseException:
            self.system.stop()
            raise

    def _set_up(self) -> None:
        self.up = self.system.data_dir
        self.sv_token = (self.up / "supervision" / "regulator.token").read_text().strip()
        self.keys: dict[str, Any] = {}
        self.key_files: dict[str, Path] = {}
        for lender in LENDERS:
            self.key_files[lender] = self.root / f"{lender}.key"
            generate_keypair(self.key_files[lender])
            self.keys[lender] = load_private_key(self.key_files[lender])
            public = base64.b64encode(public_key_bytes(self.keys[lender].public_key())).decode()
            added = httpx.post(self.system.url + "/v1/admin/lenders", headers={"Authorization": f"Bearer {self.sv_token}"},
                               json={"id": lender, "name": f"贷款机构 Lender {lender}", "licence": f"GZ-{lender}", "public_key": public})
            assert added.status_code == 201, added.text
        self.regulator_token = (self.up / "credit" / "regulator.token").read_text().strip()
        self.operator_token = (self.up / "credit" / "operator.token").read_text().strip()
        self._wait_for_lenders()
        with self.lender("L0004") as client:
            self.applicant = client.pseudonyms([APPLICANT])[0]
        now = int(time.time() * 1000)
        for n, lender in enumerate(LENDERS[:3]):
            self.deposit(lender, "contract", f"LOAN-{lender}-1", contract(self.applicant, 1_000_000 * (n + 1)), now - (10 - n) * DAY_MS)
        self.consent_code = self.deposit_consent("L0004", consent(self.applicant))

    def _wait_for_lenders(self) -> None:
        deadline = time.monotonic() + 60
        while True:  # the credit chain learns lenders' keys from the supervision feed every few seconds
            try:
                with self.lender("L0004") as client:
                    client.pseudonyms([APPLICANT])
                return
            except CreditError as exc:
                if exc.status != 401 or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def lender(self, lender_id: str) -> CreditClient:
        return CreditClient(self.system.credit, lender_id=lender_id, key=self.keys[lender_id])

    def operator(self) -> CreditClient:
        return CreditClient(self.system.credit, token=self.operator_token)

    def regulator(self) -> CreditClient:
        return CreditClient(self.system.credit, token=self.regulator_token)

    def deposit(self, lender: str, record_type: str, loan_id: str, report: dict[str, Any], event_ms: int | None = None) -> int:
        with LenderClient(self.system.url, lender, self.keys[lender]) as client:
            item = DepositItem(digest_json({"lender": lender, "loan": loan_id, "type": record_type, "report": report}), record_type, loan_id,
                               event_ms or int(time.time() * 1000), report=report)
            return client.deposit([item])["items"][0]["index"]

    def deposit_consent(self, lender: str, report: dict[str, Any]) -> str:
        index = self.deposit(lender, "consent", f"APP-{lender}-{int(time.time() * 1e6)}", report)
        with LenderClient(self.system.url, lender, self.keys[lender]) as client:
            return client.wait_for([index])[index]["deposit_code"]

    def wait_for_feed(self, timeout: float = 30) -> None:
        """Until the credit chain has read every sealed supervision report."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sealed = httpx.get(self.system.url + "/v1/chain", timeout=5).json()["sealed_size"]
            status = httpx.get(self.system.credit + "/v1/status", headers={"Authorization": f"Bearer {self.regulator_token}"}, timeout=5).json()
            if status["feed_position"] >= sealed:
                return
            time.sleep(0.1)
        raise AssertionError("the credit chain did not catch up with the feed")
