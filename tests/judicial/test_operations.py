"""What operators see on a running system: Prometheus metrics read from the databases, liveness
and readiness, and a request id on every answer."""

from __future__ import annotations

import time

import httpx
import sqlalchemy
from prometheus_client.parser import text_string_to_metric_families

from judicial_chain.portal.accounts import add_judge
from supervision_chain.client import DepositItem, LenderClient

from .test_end_to_end import _register, system  # noqa: F401  (the fixture)

SV = "supervision.fivechains.local/gz"


def _samples(url: str) -> dict[tuple[str, tuple], float]:
    answer = httpx.get(url + "/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(answer.text) for s in f.samples}


def test_metrics_health_and_request_ids(system) -> None:  # noqa: F811
    key = _register(system.data_dir)
    with LenderClient(system.url, "L1", key) as client:
        answer = client.deposit([DepositItem(f"{i:064x}", "repayment", f"loan-{i}", int(time.time() * 1000)) for i in range(25)])
        client.wait_for([i["index"] for i in answer["items"]], "anchored", timeout=30)
        codes = [client.status(i["index"])["deposit_code"] for i in answer["items"][:3]]
    sv = _samples(system.url)
    chain = (("chain", SV),)
    assert sv[("fivechains_deposits_accepted_total", chain)] == 25
    assert sv[("fivechains_entries_sealed", chain)] == 25 and sv[("fivechains_entries_pending", chain)] == 0
    assert sv[("fivechains_outbox_depth_blocks", chain)] == 0
    assert sv[("fivechains_lenders", (("chain", SV), ("state", "enabled")))] == 1
    assert sv[("fivechains_anchor_lag_seconds_count", chain)] >= 1 and sv[("fivechains_anchor_lag_seconds_sum", chain)] >= 0
    assert sv[("fivechains_seal_latency_seconds_count", chain)] >= 1

    # a judge verifies three items, one of them with the wrong digest: the portal counts verdicts
    engine = sqlalchemy.create_engine(f"sqlite:///{system.data_dir / 'judicial' / 'judicial.db'}")
    judge = add_judge(engine, "J1", "Judge One")
    engine.dispose()
    items = [{"code": codes[0], "digest": f"{0:064x}"}, {"code": codes[1], "digest": f"{1:064x}"}, {"code": codes[2], "digest": f"{9:064x}"}]
    job = httpx.post(system.portal + "/v1/verifications", json={"case_id": "metrics-1", "items": items},
                     headers={"Authorization": f"Bearer {judge.token}", "X-Request-Id": "case-metrics-1"})
    assert job.status_code in (200, 202) and job.headers["x-request-id"] == "case-metrics-1"
    for _ in range(100):
        view = httpx.get(system.portal + f"/v1/verifications/{job.json()['job_id']}", headers={"Authorization": f"Bearer {judge.token}"})
        if view.json()["status"] == "done":
            break
        time.sleep(0.1)
    jc = _samples(system.portal)
    jchain = next(dict(k[1])["chain"] for k in jc if k[0] == "fivechains_judicial_entries")
    assert jc[("fivechains_judicial_entries", (("chain", jchain),))] == 25
    assert jc[("fivechains_anchored_source_blocks_total", (("chain", jchain), ("source", SV)))] >= 1
    assert jc[("fivechains_verifications_total", (("chain", jchain), ("verdict", "verified")))] == 2
    assert jc[("fivechains_verifications_total", (("chain", jchain), ("verdict", "tampered")))] == 1

    for url in (system.url, system.portal):
        assert httpx.get(url + "/livez").json() == {"status": "alive"}
        assert httpx.get(url + "/readyz").json() == {"status": "ready"}
        made = httpx.get(url + "/livez").headers["x-request-id"]
        assert len(made) == 32 and made != httpx.get(url + "/livez").headers["x-request-id"]
        assert httpx.get(url + "/livez", headers={"X-Request-Id": "bad id with spaces"}).headers["x-request-id"] != "bad id with spaces"
