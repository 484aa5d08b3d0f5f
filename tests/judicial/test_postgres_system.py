"""The whole pipeline on PostgreSQL: both chains in their own databases (URLs from the
environment, as an operator would set them), deposits come back with codes, the court verifies,
and the regulator's audit passes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine

from chain.keys import public_key_bytes
from judicial_chain.portal.accounts import add_judge
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.registry import add_lender

from .test_audit_tamper_e2e import Auditor
from .test_end_to_end import System

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import _pg_admin_url  # noqa: E402
from servers import fresh_database  # noqa: E402

pytestmark = pytest.mark.postgres


@pytest.fixture
def databases():
    admin = _pg_admin_url()
    with fresh_database(admin, "sys_supervision") as supervision, fresh_database(admin, "sys_judicial") as judicial:
        yield supervision, judicial


def test_the_pipeline_on_postgresql(tmp_path: Path, databases, monkeypatch) -> None:
    supervision_db, judicial_db = databases
    monkeypatch.setenv("FIVECHAINS_SUPERVISION__DB_URL", supervision_db)
    monkeypatch.setenv("FIVECHAINS_JUDICIAL__DB_URL", judicial_db)
    system = System(tmp_path / "fc").start()
    try:
        assert not (tmp_path / "fc" / "supervision" / "supervision.db").exists()  # no SQLite file: the URL was used
        assert not (tmp_path / "fc" / "judicial" / "judicial.db").exists()
        key = _register_in(supervision_db)  # the registry lives in PostgreSQL too
        with LenderClient(system.url, "L1", key) as client:
            answer = client.deposit([DepositItem(f"{i:064x}", "contract", f"loan-{i}", int(time.time() * 1000)) for i in range(40)])
            done = client.wait_for([i["index"] for i in answer["items"]], "anchored", timeout=60)
        codes = [done[i["index"]]["deposit_code"] for i in answer["items"]]
        assert len(set(codes)) == 40
        judge = add_judge(create_engine(judicial_db), "J1", "Judge One")
        job = httpx.post(system.portal + "/v1/verifications", headers={"Authorization": f"Bearer {judge.token}"},
                         json={"case_id": "pg-1", "items": [{"code": codes[i], "digest": f"{i:064x}"} for i in range(40)]}).json()
        for _ in range(200):
            view = httpx.get(system.portal + f"/v1/verifications/{job['job_id']}", headers={"Authorization": f"Bearer {judge.token}"}).json()
            if view["status"] == "done":
                break
            time.sleep(0.05)
        assert [item["verdict"] for item in view["items"]] == ["verified"] * 40
        code, report = Auditor(system, tmp_path).run()
        assert code == 0 and report["supervision"]["entries"] == 40 and report["judicial"]["entries"] == 40, report["findings"]
    finally:
        system.stop()


def _register_in(url: str) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    engine = create_engine(url)
    try:
        add_lender(engine, "L1", "Lender One", "GZ-1", public_key_bytes(key.public_key()))
    finally:
        engine.dispose()
    return key
