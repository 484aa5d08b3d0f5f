"""The court portal names who holds a verified loan's claim, asked of the service chain (服务链).

A small real service chain stand-in (FastAPI under uvicorn on loopback) answers the court's contract,
``POST /v1/court/holders`` with the court's bearer token, from a dict; the portal is the real one over a
real judicial chain. Verdicts never depend on the service chain: stopped, or with a wrong token, the batch
verifies all the same and says ``holders_unavailable``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request
from markupsafe import escape
from servers import free_port  # tests/ is on sys.path, see conftest.py

from judicial_chain.portal.accounts import add_judge
from judicial_chain.portal.holders import ClaimHolders, HoldersUnavailable, holder_line
from judicial_chain.service import JudicialChain, JudicialConfig

from .portal_server import Portal, anchor_some, wait_done
from .source_ledger import SOURCE

TOKEN = "court-token-" + "x" * 32
HOSTILE = '<script>alert("x")</script> & 某资产管理公司 Some AMC'
SINCE = 1767182400000  # 2025-12-31 12:00 UTC: 20:00 in Beijing
BUYER = {"supervision_index": 0, "lender_id": "L1", "loan_id": "loan-0", "holder_id": "B001", "holder_name": HOSTILE,
         "holder_kind": "buyer", "since_ms": SINCE, "transfer_index": 12, "transfer_code": "Z9CDMJPGEDG68A", "pledged": True}
LENDER = {"supervision_index": 2, "lender_id": "L1", "loan_id": "loan-2", "holder_id": "L1", "holder_name": "Lender One",
          "holder_kind": "lender", "since_ms": SINCE - 86_400_000, "transfer_index": None, "transfer_code": None, "pledged": False}
NEW_PASSWORD = "a long passphrase of my own"


class ServiceStandIn:
    """The service chain's court endpoint from a dict of holders by supervision index, checking the bearer token."""

    def __init__(self, holders: dict[int, dict[str, Any]], answer: Any = None) -> None:
        self.requests: list[list[int]] = []
        self.seen_tokens: list[str | None] = []
        app = FastAPI()

        @app.post("/v1/court/holders")
        async def court_holders(request: Request, authorization: str | None = Header(default=None)) -> Any:
            self.seen_tokens.append(authorization)
            if authorization != f"Bearer {TOKEN}":
                raise HTTPException(401, "the court's token is required")
            indexes = (await request.json())["supervision_indexes"]
            if len(indexes) > 10_000:
                raise HTTPException(422, "at most 10,000 indexes")
            self.requests.append(indexes)
            if answer is not None:
                return answer
            return {"holders": [holders[i] for i in indexes if i in holders]}

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServiceStandIn:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:  # bounded
            assert time.monotonic() < deadline, "the stand-in did not come up"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def court(tmp_path: Path) -> tuple[Path, list[str], dict[str, str], Any]:
    """A judicial chain with four anchored supervision deposits (source indexes 0…3, digests 0…3) and a judge."""
    data_dir = tmp_path / "judicial"
    codes = anchor_some(data_dir, tmp_path / "source.db")
    chain = JudicialChain(JudicialConfig(data_dir))
    try:
        judge = add_judge(chain.store.engine, "J1", "Judge One")
    finally:
        chain.close()
    return data_dir, codes, {"Authorization": f"Bearer {judge.token}"}, judge


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "court.token"
    path.write_text(TOKEN + "\n")
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def service():
    stand_in = ServiceStandIn({0: BUYER, 2: LENDER}).start()
    yield stand_in
    stand_in.stop()


def _verify(portal: Portal, auth: dict[str, str], codes: list[str]) -> dict[str, Any]:
    items = [{"code": codes[0], "digest": f"{0:064x}"},  # verified, transferred to a buyer, pledged
             {"code": codes[1], "digest": f"{1:064x}"},  # verified, the service chain does not know it
             {"code": codes[2], "digest": f"{2:064x}"},  # verified, never transferred: the lender holds it
             {"code": codes[3], "digest": f"{9:064x}"},  # tampered: no holder said
             {"code": "0000-0000-0000-00", "digest": f"{1:064x}"}]  # unknown code
    job = httpx.post(portal.url + "/v1/verifications", json={"case_id": "(2026)粤0192民初7号", "items": items}, headers=auth).json()
    return wait_done(portal.url, job["job_id"], auth)


def _holder(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "supervision_index"}


def test_a_verified_item_names_its_claims_holder_and_an_unknown_index_none(court, service, token_file) -> None:
    data_dir, codes, auth, _ = court
    holders = ClaimHolders(service.url, token_file, supervision_chain=SOURCE)
    portal = Portal(data_dir, holders=holders).start()
    try:
        view = _verify(portal, auth, codes)
        assert view["status"] == "done" and view["counts"]["verified"] == 3 and view["counts"]["tampered"] == 1
        assert "holders_unavailable" not in view
        items = view["items"]
        assert [i["verdict"] for i in items] == ["verified", "verified", "verified", "tampered", "unknown_code"]
        assert items[0]["supervision_index"] == 0 and items[0]["holder"] == _holder(BUYER)
        assert "holder" in items[1] and items[1]["holder"] is None
        assert items[2]["holder"] == _holder(LENDER) and items[2]["holder"]["transfer_code"] is None
        assert all("holder" not in i for i in items[3:])  # only verified items: a code alone reveals nothing
        assert service.requests == [[0, 1, 2]]  # one request for the chunk's verified supervision items

        report = httpx.get(f"{portal.url}/v1/verifications/{view['job_id']}/report.html", headers=auth).text
        assert escape(HOSTILE) in report and "<script>alert" not in report
        assert "债权持有人 Claim holder: " + escape(HOSTILE) + " (B001), 自 since 2025-12-31 20:00" in report
        assert "转让存证编码 transfer deposit code: Z9CD-MJPG-EDG6-8A; 已质押 pledged" in report
        assert "债权持有人 Claim holder: Lender One (L1), 自 since 2025-12-30 20:00 (北京时间 Beijing time)</span>" in report
        assert "债权持有人 Claim holder: 无记录 not known" in report

        document = httpx.get(portal.url + "/openapi.json").json()
        status = document["paths"]["/v1/verifications/{job_id}"]["get"]
        assert "holder" in status["description"] and "holders_unavailable" in status["description"]
        assert status["responses"]["200"]["content"]["application/json"]["example"]["items"][0]["holder"]["holder_kind"] == "buyer"
    finally:
        portal.stop()
        holders.close()


def test_the_batch_verifies_without_holders_when_the_service_chain_is_down_or_refuses(court, token_file, tmp_path: Path, caplog) -> None:
    data_dir, codes, auth, _ = court
    stand_in = ServiceStandIn({0: BUYER}).start()
    stand_in.stop()  # nothing listens on its port any more
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-the-court-token")
    refusing = ServiceStandIn({0: BUYER}).start()
    cases = [ClaimHolders(stand_in.url, token_file, timeout=2, supervision_chain=SOURCE),  # down
             ClaimHolders(refusing.url, wrong, supervision_chain=SOURCE),  # a wrong token: 401
             ClaimHolders(refusing.url, tmp_path / "missing.token", supervision_chain=SOURCE)]  # no token file
    try:
        for holders in cases:
            portal = Portal(data_dir, holders=holders).start()
            try:
                with caplog.at_level(logging.WARNING):
                    view = _verify(portal, auth, codes)
                assert view["status"] == "done" and view["holders_unavailable"] is True
                assert view["counts"]["verified"] == 3 and view["counts"]["tampered"] == 1 and "holders_unavailable" not in view["counts"]
                assert [i.get("holder", "absent") for i in view["items"]] == [None, None, None, "absent", "absent"]
                report = httpx.get(f"{portal.url}/v1/verifications/{view['job_id']}/report.html", headers=auth).text
                assert "服务链无法查询" in report and "could not be asked" in report
            finally:
                portal.stop()
                holders.close()
        assert refusing.seen_tokens == ["Bearer not-the-court-token"] and refusing.requests == []
        assert "claim holders unavailable" in caplog.text
        assert TOKEN not in caplog.text and "not-the-court-token" not in caplog.text  # the token is never logged
    finally:
        refusing.stop()


def test_no_holders_linked_or_another_source_chain_leaves_the_verdicts_as_they_were(court, service, token_file) -> None:
    data_dir, codes, auth, _ = court
    plain = Portal(data_dir).start()
    try:
        view = _verify(plain, auth, codes)
        assert all("holder" not in i for i in view["items"]) and "holders_unavailable" not in view
    finally:
        plain.stop()
    other = ClaimHolders(service.url, token_file, supervision_chain="supervision.fivechains.local/gz")  # another chain than SOURCE
    portal = Portal(data_dir, holders=other).start()
    try:
        view = _verify(portal, auth, codes)
        assert all("holder" not in i for i in view["items"]) and service.requests == []  # never asked about another chain's indexes
    finally:
        portal.stop()
        other.close()


def test_the_client_chunks_by_ten_thousand_and_refuses_what_is_not_the_contract(token_file) -> None:
    many = {i: dict(BUYER, supervision_index=i) for i in range(0, 25_000, 7)}
    stand_in = ServiceStandIn(many).start()
    try:
        with ClaimHolders(stand_in.url, token_file, supervision_chain=SOURCE) as holders:
            found = holders.holders(list(range(25_000)) + [3, 3])
        assert [len(r) for r in stand_in.requests] == [10_000, 10_000, 5_000]
        assert set(found) == set(many) and found[7] == _holder(BUYER)
        assert holders.holders([]) == {}
    finally:
        stand_in.stop()
    for answer in ({"holders": [dict(BUYER, holder_kind="owner")]}, {"holders": [dict(BUYER, since_ms="soon")]}, {"nothing": []},
                   {"holders": [dict(BUYER, holder_name="x" * 401)]}):
        bad = ServiceStandIn({}, answer=answer).start()
        try:
            with ClaimHolders(bad.url, token_file, supervision_chain=SOURCE) as holders, pytest.raises(HoldersUnavailable) as raised:
                holders.holders([0])
            assert TOKEN not in str(raised.value)
        finally:
            bad.stop()
    extra = ServiceStandIn({}, answer={"holders": [BUYER, dict(BUYER, supervision_index=99)]}).start()
    try:
        with ClaimHolders(extra.url, token_file, supervision_chain=SOURCE) as holders:
            assert set(holders.holders([0])) == {0}  # an index not asked about is not taken
    finally:
        extra.stop()


def test_the_holder_line() -> None:
    assert holder_line(_holder(BUYER)) == (f"债权持有人 Claim holder: {HOSTILE} (B001), 自 since 2025-12-31 20:00 (北京时间 Beijing time); "
                                            "转让存证编码 transfer deposit code: Z9CD-MJPG-EDG6-8A; 已质押 pledged")
    assert holder_line(dict(_holder(LENDER), since_ms=None)) == "债权持有人 Claim holder: Lender One (L1)"
    assert holder_line(dict(_holder(BUYER), transfer_code="odd", pledged=False)).endswith("transfer deposit code: odd")
    assert holder_line(None) == "债权持有人 Claim holder: 无记录 not known"


def test_a_judge_sees_the_holder_in_a_real_browser(court, service, token_file) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI")
        pytest.skip("Debian's chromium is not installed")
    data_dir, codes, _, judge = court
    holders = ClaimHolders(service.url, token_file, supervision_chain=SOURCE)
    portal = Portal(data_dir, holders=holders).start()
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(portal.url + "/web/login")
            page.fill("#judge_id", judge.id)
            page.fill("#password", judge.password)
            page.click("#sign-in")
            page.wait_for_url("**/web/password")
            page.fill("#current", judge.password)
            page.fill("#new", NEW_PASSWORD)
            page.fill("#confirm", NEW_PASSWORD)
            page.click("#change-password")
            page.wait_for_url("**/web/")
            page.fill("#case_id", "holders-1")
            page.fill("#pasted", f"{codes[0]} {0:064x}\n{codes[1]} {1:064x}")
            page.click("#verify")
            page.wait_for_selector("#results", state="visible", timeout=30_000)
            assert "债权持有人 Claim holder" in page.inner_text("#results thead")
            shown = page.locator("#results tbody td.holder").all_inner_texts()
            assert shown[0].startswith(f"债权持有人 Claim holder: {HOSTILE} (B001)") and "已质押 pledged" in shown[0]
            assert shown[1] == "债权持有人 Claim holder: 无记录 not known"
            assert page.locator("#results script").count() == 0 and page.is_hidden("#holders-unavailable")
            page.goto(portal.url + page.get_attribute("#report-html", "href"))
            assert f"债权持有人 Claim holder: {HOSTILE}" in page.inner_text("body") and page.locator("table script").count() == 0
            browser.close()
        assert dialogs == []  # the hostile name ran nowhere
    finally:
        portal.stop()
        holders.close()
