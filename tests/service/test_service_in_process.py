"""The service chain's decisions in process, on SQLite and on PostgreSQL: deposits applied as the feed gives them,
a pool checked and certified, a pledge registered, and a second pledge of the same loans refused at acceptance
(two pools proposed before either was accepted: the check in the acceptance's own transaction decides)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from chain.audit import audit_ledger
from chain.keys import generate_private_key, public_key_bytes
from evidence.canonical_json import canonical_json
from evidence.deposit_codes import new_code
from service_chain.client import pool_loan, record_entry
from service_chain.config import ServiceConfig
from service_chain.deposit_mirror import FeedReport, FeedRow
from service_chain.registry import terms_text
from service_chain.service import DoublePledge, ServiceChain, Viewer
from service_kit.report_feed import FeedLender

NOW = int(time.time() * 1000)
MINUTE = 60_000


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def chain(request: pytest.FixtureRequest, tmp_path: Path):
    db_url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    c = ServiceChain(ServiceConfig(tmp_path / "service", db_url=db_url, seal_interval_ms=20))
    c.start()
    yield c
    c.stop()


def _loans(n: int, first_index: int = 0) -> tuple[list[FeedRow], list[dict]]:
    """``n`` loans of lender L1 as feed rows (contract, disbursement, one repayment) and as a pool carries them."""
    rows, loans, i = [], [], first_index
    for k in range(n):
        loan_id, records = f"LN-{k}", []
        for record_type, report in (("contract", FeedReport(principal=100_000, rate_bp=1200)), ("disbursement", FeedReport(amount=100_000)),
                                    ("repayment", FeedReport(principal=30_000, amount=31_000))):
            record = {"loan": loan_id, "type": record_type}
            code = new_code()
            digest = hashlib.sha256(canonical_json(record)).hexdigest()
            rows.append(FeedRow(i, "L1", record_type, loan_id, NOW - 10 * MINUTE + i, NOW - 10 * MINUTE + i + 500, digest, report, code))
            records.append(record_entry(record, code))
            i += 1
        loans.append(pool_loan(loan_id, 70_000, records))
    return rows, loans


def _certified(chain: ServiceChain, loans: list[dict], funder: str) -> dict:
    pool = chain.create_pool("L1", "financing", funder)["pool_id"]
    added = chain.add_loans("L1", pool, json.dumps({"loans": loans}).encode())
    assert added["eligible"] == len(loans), added["loans"]
    chain.certify("L1", pool)
    return chain.pool(Viewer("lender", "L1"), pool)


def _propose(chain: ServiceChain, lender_key, pool: dict, registration_id: str) -> dict:  # noqa: ANN001
    from service_chain.tables import Pool

    with chain.store.read_engine.connect() as conn:
        row = conn.execute(Pool.__table__.select().where(Pool.__table__.c.id == pool["pool_id"])).one()  # type: ignore[attr-defined]
    terms = chain._terms(row, registration_id, 50_000, 6)  # noqa: SLF001 — the terms the lender signs, as the chain builds them
    return chain.propose("L1", pool["pool_id"], registration_id, 50_000, 6, lender_key.sign(terms_text(terms).encode()))


def test_a_second_pledge_is_refused_at_acceptance(chain: ServiceChain) -> None:
    lender, f1, f2 = generate_private_key(), generate_private_key(), generate_private_key()
    chain.sync_lenders([FeedLender("L1", "Lender One", public_key_bytes(lender.public_key()), True)])
    chain.add_party("F1", "Funder One", "funder", public_key_bytes(f1.public_key()))
    chain.add_party("F2", "Funder Two", "funder", public_key_bytes(f2.public_key()))
    rows, loans = _loans(3)
    chain.mirror.apply(rows, len(rows))
    first, second = _certified(chain, loans, "F1"), _certified(chain, loans[1:], "F2")
    p1, p2 = _propose(chain, lender, first, "R-1"), _propose(chain, lender, second, "R-2")  # both proposed: nothing pledged yet
    done = chain.accept("F1", "R-1", f1.sign(terms_text(p1["terms"]).encode()))
    assert done["state"] == "registered"
    size = chain.store.size()
    with pytest.raises(DoublePledge) as refused:
        chain.accept("F2", "R-2", f2.sign(terms_text(p2["terms"]).encode()))
    assert "LN-1" in refused.value.detail and "LN-2" in refused.value.detail and "F1" not in refused.value.detail
    assert chain.store.size() == size  # the refused acceptance wrote nothing
    assert [r["state"] for r in chain.registrations(Viewer("party", "F2"))] == ["proposed"]
    assert chain.overview()["loans_pledged"] == 3
    chain.release("F1", "R-1", f1.sign(f"fivechains.service/release/v1\nchain {chain.config.chain_id}\nregistration R-1\n".encode()))
    assert chain.accept("F2", "R-2", f2.sign(terms_text(p2["terms"]).encode()))["state"] == "registered"
    deadline = time.monotonic() + 10
    while chain.ledger.sealed_size() < chain.store.size() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert audit_ledger(chain.store, chain.signer.verifier()).ok
