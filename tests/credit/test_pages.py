"""The credit chain's pages on a real CreditChain served by uvicorn: lenders synced as the supervision feed gives
them (one with a hostile name), loans, a repayment and an overdue report applied to the loan book, an anchored
consent and a lender's check. Checks the sign-in (stateless cookie, CSRF on forms, one answer for a wrong token),
the desk's lookup by identifier and by pseudonym, the printable report with its proof, a dispute, the regulator's
tables, and that no identifier, token or key reaches a page or a log — over HTTP, and in headless Chromium."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from chain.keys import generate_private_key, public_key_bytes
from credit_chain.api import create_app
from credit_chain.borrower_report import verify_report
from credit_chain.config import DAY_MS, CreditConfig
from credit_chain.consents import china_date
from credit_chain.feed_rows import CreditReport, CreditRow
from credit_chain.pages import COOKIE, PageSessions, checkpoint_size
from credit_chain.service import CreditChain
from evidence import oprf
from evidence.borrower_ids import check_character_enterprise, oprf_input, parse_borrower_id, pseudonym
from evidence.deposit_codes import format_code, new_code
from service_kit.page_security import PAGES_CSP
from service_kit.report_feed import FeedLender

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import free_port  # noqa: E402

PERSON_ID = "11010519491231002X"  # GB 11643's own example
WRONG_CHECK = "110105194912310021"
ENTERPRISE_ID = "91440101MA5D0A1B2" + check_character_enterprise("91440101MA5D0A1B2")
HOSTILE_NAME = '<script>alert("x")</script> & Co'
NAMES = {"L0001": "贷款机构 甲 Lender A", "L0002": HOSTILE_NAME, "L0003": "贷款机构 丙 Lender C", "L0004": "贷款机构 丁 Lender D"}
PURPOSE = "loan-application"
NOW = int(time.time() * 1000)


@dataclass
class Site:
    url: str
    operator: str
    regulator: str
    chain: CreditChain
    person: str
    enterprise: str
    code: str
    logs: list[str]
    tmp: Path


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


def _lenders_pseudonym(chain: CreditChain, lender: str, identifier: str) -> str:
    """A borrower's pseudonym as a lender gets it: blinded, evaluated by the bureau (VOPRF), finalized with the proof."""
    data = oprf_input(parse_borrower_id(identifier))
    blind, blinded = oprf.blind(data, oprf.MODE_VOPRF)
    evaluated, proof = chain.evaluate(lender, [blinded])
    output = oprf.finalize([data], [blind], [blinded], evaluated, mode=oprf.MODE_VOPRF, public_key=chain.oprf_key.public, proof=proof)
    return pseudonym(output[0])


def _row(index: int, lender: str, record_type: str, loan: str, event_ms: int, **report: object) -> CreditRow:
    return CreditRow(index, lender, record_type, loan, event_ms, event_ms + 1000, secrets.token_hex(32), CreditReport(**report))  # type: ignore[arg-type]


def _feed(chain: CreditChain, person: str, enterprise: str, code: str) -> None:
    """Contracts of one person at three lenders (one repaid in full, one overdue), an enterprise's loan, a consent."""
    day = NOW - 10 * DAY_MS
    rows = [_row(0, "L0001", "contract", "LOAN-1", day, borrower=person, borrower_kind="person", principal=1_000_000),
            _row(1, "L0002", "contract", "LOAN-2", day + 1, borrower=person, borrower_kind="person", principal=2_000_000),
            _row(2, "L0003", "contract", "LOAN-3", day + 2, borrower=person, borrower_kind="person", principal=3_000_000),
            _row(3, "L0003", "repayment", "LOAN-3", day + DAY_MS, principal=3_000_000, amount=3_050_000),
            _row(4, "L0002", "overdue", "LOAN-2", NOW - DAY_MS, days_past_due=45, amount_overdue=200_000),
            _row(5, "L0001", "contract", "ENT-1", day, borrower=enterprise, borrower_kind="enterprise", principal=50_000_000),
            _row(6, "L0001", "repayment", "ENT-1", day + DAY_MS, principal=5_000_000, amount=5_200_000)]
    consent = CreditRow(7, "L0004", "consent", "APP-1", NOW - 60_000, NOW - 59_000, secrets.token_hex(32),
                        CreditReport(borrower=person, purpose=PURPOSE, valid_from=china_date(NOW - DAY_MS), valid_to=china_date(NOW + 30 * DAY_MS)),
                        deposit_code=code)
    chain.book.apply([*rows, consent], 8)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("credit-pages")
    chain = CreditChain(CreditConfig(tmp / "credit", seal_interval_ms=40))
    chain.start()
    logs: list[str] = []
    try:
        chain.sync_lenders([FeedLender(lid, name, public_key_bytes(generate_private_key().public_key()), True) for lid, name in NAMES.items()])
        person = _lenders_pseudonym(chain, "L0004", PERSON_ID)
        enterprise = _lenders_pseudonym(chain, "L0001", ENTERPRISE_ID)
        code = new_code()
        _feed(chain, person, enterprise, code)
        assert chain.check("L0004", person, code, PURPOSE)["query"]["consent_code"] == code
        chain.evaluate("L0003", [oprf.blind(secrets.token_bytes(16), oprf.MODE_VOPRF)[1] for _ in range(25)])  # 25 for its one loan

        config = uvicorn.Config(create_app(chain, manage_lifecycle=False), host="127.0.0.1", port=free_port(), log_level="info")
        collect = _Collect(logs)
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "credit_chain", "fastapi"):
            logging.getLogger(name).addHandler(collect)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{config.port}"
        for _ in range(200):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        data = tmp / "credit"
        try:
            yield Site(url, (data / "operator.token").read_text().strip(), (data / "regulator.token").read_text().strip(), chain, person,
                       enterprise, code, logs, tmp)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "credit_chain", "fastapi"):
                logging.getLogger(name).removeHandler(collect)
    finally:
        chain.stop()


@contextmanager
def _signed_in(site: Site, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=30) as web:
        assert web.post("/credit/login", data={"token": token}).status_code == 303
        yield web


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _secrets(site: Site) -> list[str]:
    return [site.operator, site.regulator, site.chain.oprf_key.secret.hex(), PERSON_ID, PERSON_ID.lower(), ENTERPRISE_ID, WRONG_CHECK]


def test_sign_in_sessions_and_refusals(site: Site) -> None:
    with httpx.Client(base_url=site.url) as anonymous:
        home = anonymous.get("/credit/")
        assert home.status_code == 200 and 'id="token"' in home.text and home.headers["content-security-policy"] == PAGES_CSP
        assert home.headers["x-frame-options"] == "DENY" and home.headers["cache-control"] == "no-store"
        for path in (f"/credit/report?borrower={site.person}", f"/credit/report.json?borrower={site.person}"):
            assert anonymous.get(path).status_code == 303, path
        assert anonymous.post("/credit/lookup", data={"borrower": PERSON_ID}).status_code == 303  # no session: nothing computed
        for wrong in (site.operator + "x", site.regulator[:-1], "", site.operator + site.regulator):
            refused = anonymous.post("/credit/login", data={"token": wrong})
            assert refused.status_code == 401 and "令牌错误 · The token is wrong" in refused.text and "set-cookie" not in refused.headers

    with httpx.Client(base_url=site.url) as web:
        signed = web.post("/credit/login", data={"token": f"  {site.operator}\n"})  # as pasted
        flags = signed.headers["set-cookie"].lower()
        assert signed.status_code == 303 and signed.headers["location"] == "/credit/"
        assert all(f in flags for f in ("httponly", "samesite=strict", "path=/credit;", "max-age=7200")) and "secure" not in flags  # plain HTTP

    with _signed_in(site, site.operator) as desk:
        cookie = desk.cookies[COOKIE]
        assert cookie.startswith("operator.")
        page = desk.get("/credit/")
        assert page.status_code == 200 and 'id="lookup-form"' in page.text and "<script" not in page.text
        csrf = _csrf(page.text)
        assert desk.post("/credit/lookup", data={"borrower": PERSON_ID}).status_code == 403  # no CSRF token
        assert desk.post("/credit/lookup", data={"borrower": PERSON_ID, "csrf": "0" * 64}).status_code == 403
        found = desk.post("/credit/lookup", data={"borrower": PERSON_ID, "csrf": csrf})
        assert found.status_code == 303 and found.headers["location"] == f"/credit/report?borrower={site.person}"
        upper = desk.post("/credit/lookup", data={"borrower": site.person.upper(), "csrf": csrf})
        assert upper.headers["location"] == f"/credit/report?borrower={site.person}"
        for bad, why in ((WRONG_CHECK, "check character should be X"), ("11010519491231", "18 characters"), ("x" * 300, "18 characters"),
                         ("91440101MA5D0A1B2Z", "no I, O, S, V, Z")):
            answer = desk.post("/credit/lookup", data={"borrower": bad, "csrf": csrf})
            assert answer.status_code == 400 and why in answer.text and bad not in answer.text, bad
        assert desk.post("/credit/lookup", data={"borrower": PERSON_ID, "kind": "enterprise", "csrf": csrf}).status_code == 400
        assert desk.get("/credit/report?borrower=" + "0" * 64).status_code == 404  # no record: a page, not a 500
        assert desk.get("/credit/report?borrower=<b>").status_code == 400
        report = desk.get(f"/credit/report?borrower={site.person}")
        assert report.status_code == 200 and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in report.text
        assert "<script" not in report.text and not re.search(r'(src|href)="(https?:)?//', report.text)
        assert all(s not in text for s in _secrets(site) for text in (page.text, report.text))
        download = desk.get(re.search(r'href="(/credit/report\.json\?[^"]+)"', report.text).group(1).replace("&amp;", "&"))
        assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
        assert verify_report(download.json()) == [] and download.json()["report_entry"]["index"] == int(re.search(r'id="report-index">#(\d+)',
                                                                                                           report.text).group(1))
        assert desk.post("/credit/disputes", data={"borrower": site.person, "target": '["loan","L0001","LOAN-1"]', "reason": "x",
                                                   "csrf": "1" * 64}).status_code == 403
        assert desk.post("/credit/logout", data={"csrf": "0" * 64}).status_code == 403 and desk.get("/credit/").text.count("lookup-form")
        out = desk.post("/credit/logout", data={"csrf": csrf})
        assert out.status_code == 303 and COOKIE not in desk.cookies and 'id="token"' in desk.get("/credit/").text

    with httpx.Client(base_url=site.url, cookies={COOKIE: cookie}) as stateless:  # the cookie alone: no server-side session
        assert 'id="lookup-form"' in stateless.get("/credit/").text
    _, expiry, mac = cookie.split(".")
    sessions = PageSessions(site.operator, site.regulator)
    for forged in (f"regulator.{expiry}.{mac}", f"operator.{int(expiry) + 1}.{mac}", f"operator.{expiry}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}",
                   sessions.issue("operator", NOW - 3 * 3_600_000), PageSessions(site.operator, "other").issue("operator", NOW), "operator..", "x"):
        with httpx.Client(base_url=site.url, cookies={COOKIE: forged}) as tampered:
            assert 'id="token"' in tampered.get("/credit/").text, forged

    with _signed_in(site, site.regulator) as regulator:
        assert regulator.cookies[COOKIE].startswith("regulator.")
        view = regulator.get("/credit/")
        assert view.status_code == 200 and 'id="evaluation-table"' in view.text and 'id="lookup-form"' not in view.text
        assert all(s not in view.text for s in _secrets(site))
        assert regulator.get(f"/credit/report?borrower={site.person}").status_code == 403  # the desk's, not the regulator's
        assert regulator.get(f"/credit/report.json?borrower={site.person}").status_code == 403
        assert regulator.post("/credit/lookup", data={"borrower": PERSON_ID, "csrf": _csrf(view.text)}).status_code == 403


def test_pages_in_a_real_browser(site: Site) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI: scripts/test should have installed Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    shots = site.tmp / "shots"
    shots.mkdir()
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        external: list[str] = []
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(site.url) else None)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        page.goto(site.url + "/credit/")
        page.fill("#token", "not-the-token")
        page.click("#sign-in")
        assert "token is wrong" in page.inner_text("#error")
        page.fill("#token", site.operator)
        page.click("#sign-in")
        page.wait_for_selector("#lookup-form")

        # a wrong check character: a readable error, the identifier not echoed
        page.fill("#borrower", WRONG_CHECK)
        page.click("#look-up")
        page.wait_for_selector("#error")
        assert "check character should be X, not 1" in page.inner_text("#error") and WRONG_CHECK not in page.content()

        # by resident ID number: the pseudonym is the one a lender's blinded OPRF gives
        page.fill("#borrower", PERSON_ID.lower())
        page.click("#look-up")
        page.wait_for_selector("#proof")
        assert page.inner_text("#pseudonym") == site.person and page.url.endswith(f"borrower={site.person}")
        assert page.inner_text("h2#title").startswith("个人信用报告") and "Guangzhou credit bureau" in page.inner_text("#report-bureau")
        assert "Beijing time" in page.inner_text("#issued")
        rows = page.locator("#loans tbody tr")
        assert rows.count() == 3
        by_loan = {rows.nth(i).get_attribute("data-loan"): rows.nth(i) for i in range(3)}
        assert HOSTILE_NAME in by_loan["LOAN-2"].locator(".lender-name").inner_text() and dialogs == []  # written as text
        assert "M2" in by_loan["LOAN-2"].locator(".status").inner_text() and "已结清" in by_loan["LOAN-3"].inner_text()
        assert "¥10,000.00" in by_loan["LOAN-1"].inner_text() and by_loan["LOAN-3"].locator(".outstanding").inner_text() == "¥0.00"
        query = page.locator("#queries tbody tr")
        assert query.count() == 1 and NAMES["L0004"] in query.inner_text() and PURPOSE in query.inner_text()
        assert query.locator(".consent-code").inner_text() == format_code(site.code) and re.fullmatch(r"(\w{4}-){3}\w{2}", format_code(site.code))
        assert page.inner_text("#verified").startswith("✓")
        size = int(re.search(r"size (\d+)", page.inner_text("#proof-line")).group(1))
        report = page.context.request.get(site.url + page.get_attribute("#download", "href")).json()  # the very report on the page
        assert verify_report(report) == [] and checkpoint_size(report["checkpoint"]) == size and report["borrower"] == site.person
        assert page.inner_text("#entry-count") == str(len(report["entries"])) == "6"  # 3 opened, 1 closed, 1 overdue, 1 query
        assert page.inner_text("#checkpoint").strip() == report["checkpoint"].strip()
        page.screenshot(path=str(shots / "report.png"), full_page=True)

        # printed: A4, no navigation, no forms, the proof kept
        page.emulate_media(media="print")
        assert not page.is_visible("header nav") and not page.is_visible("#sign-out") and not page.is_visible("#dispute-form")
        assert not page.is_visible("#download") and page.is_visible("#proof") and page.is_visible(".print-only")
        page.screenshot(path=str(shots / "report-print.png"), full_page=True)
        page.emulate_media(media="screen")

        # a dispute of the overdue loan: filed, marked, due in 20 days
        page.select_option("#target", json.dumps(["loan", "L0002", "LOAN-2"], ensure_ascii=False))
        page.fill("#reason", "我已按时还款 <b>I repaid on time</b>")
        page.click("#file-dispute")
        page.wait_for_selector("#filed")
        [dispute] = site.chain.disputes(borrower=site.person)
        assert dispute["due_ms"] - dispute["opened_ms"] == 20 * DAY_MS and dispute["due"] in page.inner_text("#filed")
        row = page.locator(f"#dispute-{dispute['id']}")
        assert row.get_attribute("data-state") == "open" and "我已按时还款 <b>I repaid on time</b>" == row.locator(".reason").inner_text()
        assert "异议中" in page.locator('#loans tr[data-loan="LOAN-2"]').inner_text()
        assert "异议中" not in page.locator('#loans tr[data-loan="LOAN-1"]').inner_text()
        assert page.inner_text("#verified").startswith("✓") and page.inner_text("#entry-count") == "7"

        # by pseudonym: the same record
        page.click("#nav-home")
        page.fill("#borrower", site.person)
        page.click("#look-up")
        page.wait_for_selector("#proof")
        assert page.inner_text("#pseudonym") == site.person and page.locator(f"#dispute-{dispute['id']}").count() == 1

        # an enterprise by its unified social credit code: the summary with its factors and rule file
        page.click("#nav-home")
        page.fill("#borrower", ENTERPRISE_ID.lower())
        page.click("#look-up")
        page.wait_for_selector("#enterprise")
        assert page.inner_text("#pseudonym") == site.enterprise and page.inner_text("h2#title").startswith("企业信用报告")
        assert page.locator("#factors tbody tr").count() == 4 and page.inner_text("#rules-sha256") == site.chain.rules.sha256
        assert page.inner_text("#rules-version") == site.chain.rules.version and page.inner_text("#score").isdigit()
        assert page.inner_text("#verified").startswith("✓") and page.locator("#queries tbody tr").count() == 0
        page.screenshot(path=str(shots / "enterprise.png"), full_page=True)
        page.click("#sign-out")
        page.wait_for_selector("#token")

        # the regulator: evaluations against loans (L0003 stands out), multi-head shares, every dispute
        page.fill("#token", site.regulator)
        page.click("#sign-in")
        page.wait_for_selector("#evaluation-table")
        figures = {f["lender_id"]: f for f in site.chain.evaluation_figures()}
        high = page.locator('#evaluation-table tr[data-lender="L0003"]')
        assert figures["L0003"]["evaluations_per_loan"] == 25 and "high" in (high.get_attribute("class") or "") and "25" in high.inner_text()
        assert "high" not in (page.locator('#evaluation-table tr[data-lender="L0001"]').get_attribute("class") or "")
        assert HOSTILE_NAME in page.locator('#evaluation-table tr[data-lender="L0002"]').inner_text()
        shares = {s["lender_id"]: s for s in site.chain.multihead_shares()}
        assert page.locator("#share-table tbody tr").count() == len(shares) > 0
        assert HOSTILE_NAME in page.locator('#share-table tr[data-lender="L0002"]').inner_text()
        assert page.locator(f"#regulator-disputes #dispute-{dispute['id']}").get_attribute("data-state") == "open"
        assert page.inner_text("#status-size") == str(site.chain.status()["size"]) or int(page.inner_text("#status-size")) > 0
        page.screenshot(path=str(shots / "regulator.png"), full_page=True)
        browser.close()
    assert external == [] and violations == [] and dialogs == []
    for shot in shots.iterdir():
        assert shot.stat().st_size > 10_000
        shutil.copy(shot, site.tmp.parent / f"credit-{shot.name}")


def test_nothing_secret_in_the_logs(site: Site) -> None:
    with _signed_in(site, site.operator) as desk:
        csrf = _csrf(desk.get("/credit/").text)
        desk.post("/credit/lookup", data={"borrower": PERSON_ID, "csrf": csrf})
        desk.post("/credit/lookup", data={"borrower": WRONG_CHECK, "csrf": csrf})
    assert any("/credit/lookup" in line for line in site.logs)  # the access log was collected
    assert not [line for line in site.logs if any(s in line for s in _secrets(site))]
