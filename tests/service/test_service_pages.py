"""The service chain's pages on a real `fivechains up` (the service chain on): a financing pool of good loans and crafted
bad ones (back-filled, overdue, a record matching no deposit), certified; a transfer pool sold to the buyer whose name
is hostile. Checks the sign-in (one answer for a wrong token, the cookie's flags, CSRF on every form), the regulator's
overview, pools, pool page with its exceptions by their Chinese names and the printable certificate, the registrations,
the operator registering, disabling and enabling a party through the form, the public verify page (valid for the real
certificate and proof, invalid after one changed byte, never a 500), and the five views' nav — in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import Markup

from chain.keys import generate_private_key, public_key_bytes
from service_chain.pages import COOKIE, EXCEPTION_NAMES, MAX_VERIFY_BYTES, PageSessions, yuan
from service_kit.five_views import VIEW_NAMES, nav_html, set_views
from service_kit.page_security import PAGES_CSP

from .world import BUYER, HOUR_MS, Loan, ServiceWorld

HOSTILE_BUYER = "<b>资产管理公司</b> Buyer & Co"  # as world.py registers it
NEW_PARTY_NAME = '页面资金方 <i>Page</i> Funder & "Sons"'
LINKS = {"supervision": "http://127.0.0.1:18080", "judicial": "http://127.0.0.1:18600", "risk": "http://127.0.0.1:18800",
         "credit": "https://credit.example.cn/credit/?from=nav&x=1", "service": "http://127.0.0.1:18700"}


@dataclass
class Site:
    world: ServiceWorld
    url: str
    regulator: str
    operator: str
    pool_id: str
    certificate: dict[str, Any]
    proofs: list[dict[str, Any]]
    good: list[Loan]
    late: Loan
    overdue: Loan
    sold_pool: str
    tmp: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("service-pages")
    world = ServiceWorld(tmp)
    try:
        good = world.make_loans("L0001", "PAGE", 3)
        late = world.make_loans("L0001", "PLATE", 1, contract_late_ms=30 * HOUR_MS)[0]
        overdue = world.make_loans("L0001", "POVER", 1, overdue_dpd=45)[0]
        sold = world.make_loans("L0002", "PSOLD", 2)
        with world.lender("L0001") as lender:
            pool_id = lender.new_pool("financing", "F001")
            lender.add_loans(pool_id, [loan.entry() for loan in good] + [late.entry(), overdue.entry(), {**good[0].entry(), "loan_id": "PGHOST-1"}])
            certificate = lender.certify(pool_id)
            proofs = lender.proofs(pool_id, start=0, limit=100)["proofs"]
        with world.lender("L0002") as lender:
            sold_pool = lender.new_pool("transfer", BUYER)
            assert all(v["eligible"] for v in lender.add_loans(sold_pool, [loan.entry() for loan in sold]))
            lender.certify(sold_pool)
            proposal = lender.propose(sold_pool, 123_456_789, 0, "R-PAGES")
        with world.party(BUYER) as buyer:
            assert buyer.accept(proposal)["state"] == "registered"
        yield Site(world, world.system.service, world.regulator_token, world.operator_token, pool_id, certificate, proofs, good, late,
                   overdue, sold_pool, tmp)
    finally:
        world.system.stop()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI: scripts/test should have installed Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A fresh page, recording CSP violations, requests to anywhere else and dialogs (a script that ran)."""

    def __init__(self, browser: Any, site: Site) -> None:
        self.context = browser.new_context(viewport={"width": 1300, "height": 900})
        self.page = self.context.new_page()
        self.violations: list[str] = []
        self.external: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.violations.append(m.text) if "Content Security Policy" in m.text else None)
        self.page.on("request", lambda r: self.external.append(r.url) if not r.url.startswith(site.url) else None)
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def close(self) -> None:
        self.context.close()
        assert self.violations == [] and self.external == [] and self.dialogs == []


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@contextmanager
def _signed_in(site: Site, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=30) as web:
        assert web.post("/service/login", data={"token": token}).status_code == 303
        yield web


def _sign_in(page: Any, site: Site, token: str) -> None:
    page.goto(site.url + "/service/login")
    page.fill("#token", token)
    page.click("#sign-in")


def _keep(shots: Path, site: Site) -> None:
    for shot in shots.iterdir():
        assert shot.stat().st_size > 10_000
        shutil.copy(shot, site.tmp.parent / f"service-{shot.name}")


def _one_changed_byte(text: str) -> str:
    """The certificate with one digit of its outstanding line changed."""
    at = text.index("\noutstanding ") + len("\noutstanding ")
    return text[:at] + ("1" if text[at] != "1" else "2") + text[at + 1:]


# --- over HTTP ----------------------------------------------------------------------------------

def test_sign_in_sessions_csrf_and_refusals(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as anonymous:
        login = anonymous.get("/service/login")
        assert login.status_code == 200 and 'id="token"' in login.text and login.headers["content-security-policy"] == PAGES_CSP
        assert login.headers["x-frame-options"] == "DENY" and login.headers["cache-control"] == "no-store" and "<script" not in login.text
        for path in ("/service/", "/service/pools", f"/service/pools/{site.pool_id}", "/service/registrations", "/service/parties",
                     f"/service/pools/{site.pool_id}/certificate.txt"):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/service/login", path
        for wrong in (site.operator + "x", site.regulator[:-1], "", site.operator + site.regulator, site.world.court_token):
            refused = anonymous.post("/service/login", data={"token": wrong})
            assert refused.status_code == 401 and "令牌错误 · The token is wrong" in refused.text and "set-cookie" not in refused.headers
        assert anonymous.post("/service/parties", data={"party_id": "X1", "name": "x", "kind": "funder", "public_key": "AAAA"}).status_code == 303

    with httpx.Client(base_url=site.url, timeout=30) as web:
        signed = web.post("/service/login", data={"token": f"  {site.regulator}\n"})  # as pasted
        flags = signed.headers["set-cookie"].lower()
        assert signed.status_code == 303 and signed.headers["location"] == "/service/"
        assert all(f in flags for f in ("httponly", "samesite=strict", "path=/service;", "max-age=28800")) and "secure" not in flags
        cookie = web.cookies[COOKIE]
        assert cookie.startswith("regulator.")
        overview = web.get("/service/")
        assert overview.status_code == 200 and 'id="pool-states"' in overview.text
        assert site.regulator not in overview.text and site.operator not in overview.text
        assert web.get("/service/parties").status_code == 403  # the desk's, not the regulator's
        assert web.get("/service/pools/P" + "0" * 20).status_code == 404 and web.get("/service/pools/<b>").status_code == 404
        download = web.get(f"/service/pools/{site.pool_id}/certificate.txt")
        assert download.status_code == 200 and download.text == site.certificate["certificate"] and "attachment" in download.headers["content-disposition"]
        assert web.post("/service/logout", data={}).status_code == 403 and 'id="pool-states"' in web.get("/service/").text
        assert web.post("/service/logout", data={"csrf": _csrf(overview.text)}).status_code == 303 and COOKIE not in web.cookies

    _, expiry, mac = cookie.split(".")
    sessions = PageSessions(site.operator, site.regulator)
    for forged in (f"operator.{expiry}.{mac}", f"regulator.{int(expiry) + 1}.{mac}", sessions.issue("regulator", 0),
                   PageSessions(site.operator, "other").issue("regulator", int(time.time() * 1000)), "regulator..", "x"):
        with httpx.Client(base_url=site.url, cookies={COOKIE: forged}) as tampered:
            assert tampered.get("/service/pools").status_code == 303, forged

    with _signed_in(site, site.operator) as desk:
        assert desk.cookies[COOKIE].startswith("operator.")
        home = desk.get("/service/", follow_redirects=True)
        assert home.status_code == 200 and 'id="party-form"' in home.text
        csrf = _csrf(home.text)
        key = base64.b64encode(public_key_bytes(generate_private_key().public_key())).decode()
        form = {"party_id": "F-CSRF", "name": "no token", "kind": "funder", "public_key": key}
        assert desk.post("/service/parties", data=form).status_code == 403  # no CSRF token
        assert desk.post("/service/parties", data={**form, "csrf": "0" * 64}).status_code == 403
        assert desk.post("/service/parties/F001/disable", data={}).status_code == 403
        with site.world.operator() as op:
            parties = {p["id"]: p for p in op.parties()}
        assert "F-CSRF" not in parties and parties["F001"]["enabled"]
        assert desk.get("/service/pools").status_code == 403 and desk.get(f"/service/pools/{site.pool_id}").status_code == 403
        bad_key = desk.post("/service/parties", data={**form, "public_key": "not base64!", "csrf": csrf})
        assert bad_key.status_code == 400 and "base64" in bad_key.text
        short_key = desk.post("/service/parties", data={**form, "public_key": "AAAA", "csrf": csrf})
        assert short_key.status_code == 422 and "Ed25519" in short_key.text
        taken = desk.post("/service/parties", data={**form, "party_id": "F001", "csrf": csrf})
        assert taken.status_code == 409 and "already registered" in taken.text
        assert desk.post("/service/parties/NOBODY/disable", data={"csrf": csrf}).status_code == 404


def test_verify_page_never_fails_on_garbage(site: Site) -> None:
    text, vkey = site.certificate["certificate"], site.certificate["vkey"]
    with httpx.Client(base_url=site.url, timeout=30) as web:
        page = web.get("/service/verify")
        assert page.status_code == 200 and 'id="verify-form"' in page.text and site.certificate["vkey"] in page.text
        good = web.post("/service/verify", data={"certificate": text.replace("\n", "\r\n"), "vkey": vkey})  # as a browser sends a textarea
        assert good.status_code == 200 and 'data-valid="yes"' in good.text and site.pool_id in good.text
        for fields in ({"certificate": "garbage", "vkey": "garbage"}, {"certificate": text, "vkey": vkey, "proof": "{not json"},
                       {"certificate": text, "vkey": vkey, "proof": "[1, 2]"}, {"certificate": text, "vkey": "x+y=z"},
                       {"certificate": "\x00\x01" * 100, "vkey": "\u202e" * 10, "proof": json.dumps({"format": 1, "index": -5})},
                       {"certificate": text, "vkey": vkey, "proof": json.dumps({**site.proofs[0], "index": -1})},
                       {"certificate": text, "vkey": vkey, "proof": json.dumps({**site.proofs[0], "inclusion_proof": ["%%%"]})},
                       {"certificate": text, "vkey": vkey, "proof": json.dumps({"proofs": site.proofs})}, {}):
            answer = web.post("/service/verify", data=fields)
            assert answer.status_code == 200 and 'data-valid="no"' in answer.text, fields
        too_big = web.post("/service/verify", content=b"certificate=" + b"A" * MAX_VERIFY_BYTES,
                           headers={"content-type": "application/x-www-form-urlencoded"})
        assert too_big.status_code == 413 and 'data-valid="no"' in too_big.text
        assert web.post("/service/verify", files={"certificate": ("c.txt", text.encode())}).status_code == 415
        assert web.post("/service/verify", content=b"certificate=%FF\xff", headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 400


# --- in a real browser --------------------------------------------------------------------------

def test_regulator_pages_in_a_real_browser(site: Site, browser: Any) -> None:
    shots = site.tmp / "regulator-shots"
    shots.mkdir()
    watched = Watched(browser, site)
    page = watched.page
    _sign_in(page, site, "not-the-token")
    assert "token is wrong" in page.inner_text("#error")
    _sign_in(page, site, site.regulator)
    page.wait_for_selector("#pool-states")
    with site.world.regulator() as reg:
        overview = reg.overview()
    assert int(page.inner_text('#pool-states tr[data-state="certified"] td.num').replace(",", "")) == overview["pools"]["certified"] >= 2
    assert page.inner_text("#loans-transferred") == "2" and page.inner_text("#rules-sha256") == overview["rules"]["sha256"]
    assert page.inner_text("#rules-version") == overview["rules"]["version"]
    assert page.inner_text('#registration-states tr[data-kind="transfer"] td[data-state="registered"]') == "1"
    assert int(page.inner_text("#status-feed").replace(",", "")) == overview["feed_position"] > 0
    if page.locator("#five-views").count():  # `fivechains up` links the five views (set_views on each app)
        system = site.world.system
        assert page.get_attribute("#view-service", "aria-current") == "page" and page.locator("#five-views [aria-current]").count() == 1
        assert page.get_attribute("#view-service", "href") == f"{system.service}/service/"
        assert page.get_attribute("#view-supervision", "href") == f"{system.url}/regulator/"
        assert page.get_attribute("#view-risk", "href") == f"{system.risk}/risk/"
        assert page.get_attribute("#view-judicial", "href") == f"{system.portal}/web/"
    page.screenshot(path=str(shots / "overview.png"), full_page=True)

    page.click("#nav-pools")
    page.wait_for_selector("#pool-table")
    row = page.locator(f"#pool-{site.pool_id}")
    assert "融资" in row.locator(".purpose").inner_text() and row.locator(".loans").inner_text() == "6"
    assert row.locator(".eligible").inner_text() == "3" and row.locator(".outstanding").inner_text() == "¥25,500.00" == yuan(3 * 850_000)
    assert "已认证" in row.locator(".state").inner_text() and "L0001" in row.locator(".lender-name").inner_text()
    sold = page.locator(f"#pool-{site.sold_pool}")
    assert "转让" in sold.locator(".purpose").inner_text()
    assert sold.locator(".party-name").inner_text().startswith(HOSTILE_BUYER) and sold.locator(".party-name b").count() == 0  # text, not markup
    assert "&lt;b&gt;资产管理公司&lt;/b&gt; Buyer &amp; Co" in page.content()

    page.click(f"#pool-{site.pool_id} a.pool-link")
    page.wait_for_selector("#certificate-text")
    assert page.inner_text("#pool-id") == site.pool_id and page.inner_text("#pool-outstanding") == "¥25,500.00"
    assert page.inner_text("#pool-exceptions") == "3" and page.inner_text("#pool-eligible") == "3"
    assert page.inner_text("#code-back-filled .code-name") == EXCEPTION_NAMES["back-filled"] and "补录（非实时）" in EXCEPTION_NAMES["back-filled"]
    assert page.inner_text("#code-back-filled .count") == "1"
    assert "逾期" in page.inner_text("#code-overdue .code-name") and "记录与存证不符" in page.inner_text("#code-unknown-record .code-name")
    assert "无合同" in page.inner_text("#code-no-contract .code-name")
    assert page.inner_text("#code-unknown-record .count") == "1"  # loans, not records: the ghost's every record matches no deposit
    late_row = page.locator(f'#exception-table tr[data-loan="{site.late.loan_id}"]')
    assert late_row.count() == 1 and "补录（非实时）" in late_row.locator(".codes").inner_text()
    assert page.locator('#exception-table tr[data-loan="PGHOST-1"] .exception[data-code="no-contract"]').count() == 1
    assert page.inner_text("#certificate-text").strip() == site.certificate["certificate"].strip()
    assert page.inner_text("#certificate-vkey") == site.certificate["vkey"] and page.inner_text("#certificate-verified").startswith("✓")
    assert page.inner_text("#certificate-index") == f"#{site.certificate['index']}"
    page.screenshot(path=str(shots / "pool.png"), full_page=True)

    page.emulate_media(media="print")  # the printed certificate: no navigation, no forms, the certificate kept
    assert not page.is_visible("#service-nav") and not page.is_visible("#sign-out") and not page.is_visible("#certificate-download")
    assert not page.is_visible("#five-views") and not page.is_visible("form")
    assert page.is_visible("#certificate-text") and page.is_visible("#print-note") and page.is_visible("#code-table")
    assert page.title().startswith("资产池真实性证明 · Pool authenticity certificate")
    page.screenshot(path=str(shots / "pool-print.png"), full_page=True)
    page.emulate_media(media="screen")
    assert page.is_visible("#service-nav") and page.is_visible("#sign-out")

    page.click("#nav-registrations")
    page.wait_for_selector("#registration-table")
    reg_row = page.locator('#registration-table tr[data-registration="R-PAGES"]')
    assert "转让" in reg_row.locator(".kind").inner_text() and "已登记" in reg_row.inner_text()
    assert reg_row.locator(".party-name").inner_text().startswith(HOSTILE_BUYER) and reg_row.locator(".party-name b").count() == 0
    assert "¥1,234,567.89" in reg_row.inner_text() and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", reg_row.inner_text())
    deadline = time.monotonic() + 30  # the registration's entry is anchored on the judicial chain: then it has a deposit code
    while reg_row.locator(".deposit-code").count() == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
        reg_row = page.locator('#registration-table tr[data-registration="R-PAGES"]')
    assert re.fullmatch(r"(\w{4}-){3}\w{2}", reg_row.locator(".deposit-code").inner_text())
    page.screenshot(path=str(shots / "registrations.png"), full_page=True)
    page.click("#sign-out")
    page.wait_for_selector("#token")
    watched.close()
    _keep(shots, site)


def test_operator_registers_disables_and_enables_a_party(site: Site, browser: Any) -> None:
    watched = Watched(browser, site)
    page = watched.page
    _sign_in(page, site, site.operator)
    page.wait_for_selector("#party-form")
    buyer = page.locator(f'#party-table tr[data-party="{BUYER}"]')
    assert buyer.locator(".party-name").inner_text() == HOSTILE_BUYER and buyer.locator(".party-name b").count() == 0
    assert "受让方" in buyer.locator(".kind").inner_text() and "资金方" in page.inner_text('#party-table tr[data-party="F001"] .kind')

    key = base64.b64encode(public_key_bytes(generate_private_key().public_key())).decode()
    page.fill("#party_id", "F-PAGE")
    page.fill("#name", NEW_PARTY_NAME)
    page.select_option("#kind", "funder")
    page.fill("#public_key", key)
    page.click("#register-party")
    page.wait_for_selector("#added")
    assert "F-PAGE" in page.inner_text("#added")
    with site.world.operator() as op:
        added = {p["id"]: p for p in op.parties()}["F-PAGE"]
    assert added["name"] == NEW_PARTY_NAME and added["kind"] == "funder" and added["public_key"] == key and added["enabled"]
    row = page.locator('#party-table tr[data-party="F-PAGE"]')
    assert row.locator(".party-name").inner_text() == NEW_PARTY_NAME and row.get_attribute("data-enabled") == "yes"

    row.locator("button.disable").click()
    page.wait_for_selector("#changed")
    assert page.locator('#party-table tr[data-party="F-PAGE"]').get_attribute("data-enabled") == "no"
    with site.world.operator() as op:
        assert not {p["id"]: p for p in op.parties()}["F-PAGE"]["enabled"]
    page.locator('#party-table tr[data-party="F-PAGE"] button.enable').click()
    page.wait_for_selector('#party-table tr[data-party="F-PAGE"][data-enabled="yes"]')
    with site.world.operator() as op:
        assert {p["id"]: p for p in op.parties()}["F-PAGE"]["enabled"]

    page.fill("#party_id", "F-PAGE")  # the same id again: refused, the form kept
    page.fill("#name", "again")
    page.fill("#public_key", key)
    page.click("#register-party")
    page.wait_for_selector("#error")
    assert "already registered" in page.inner_text("#error") and page.input_value("#name") == "again"
    page.click("#sign-out")
    page.wait_for_selector("#token")
    watched.close()


def test_verify_page_in_a_real_browser(site: Site, browser: Any) -> None:
    shots = site.tmp / "verify-shots"
    shots.mkdir()
    watched = Watched(browser, site)  # nobody signed in
    page = watched.page
    text, vkey = site.certificate["certificate"], site.certificate["vkey"]
    page.goto(site.url + "/service/verify")
    page.fill("#certificate", text)
    page.fill("#vkey", vkey)
    page.click("#verify")
    page.wait_for_selector("#verdict")
    assert page.get_attribute("#verdict", "data-valid") == "yes" and page.inner_text("#verdict").startswith("✓ 有效 · Valid")
    assert page.inner_text("#field-pool") == site.pool_id and page.inner_text("#field-lender") == "L0001"
    assert page.inner_text("#field-offered-to") == "F001" and page.inner_text("#field-outstanding") == "¥25,500.00"
    assert page.inner_text("#field-loans") == "6" and page.inner_text("#field-eligible") == "3" and "融资" in page.inner_text("#field-purpose")
    page.screenshot(path=str(shots / "verify-valid.png"), full_page=True)

    late = next(p for p in site.proofs if json.loads(p["leaf"])["loan_id"] == site.late.loan_id)
    page.fill("#proof", json.dumps(late, ensure_ascii=False, indent=2))
    page.click("#verify")
    page.wait_for_selector("#leaf")
    assert page.get_attribute("#verdict", "data-valid") == "yes" and page.inner_text("#leaf-loan") == site.late.loan_id
    assert "否" in page.inner_text("#leaf-eligible") and "补录（非实时）" in page.inner_text("#leaf-exceptions")
    assert page.locator("#leaf-records tbody tr").count() == len(site.late.records)

    page.fill("#proof", json.dumps({**late, "leaf": late["leaf"].replace('"eligible":false', '"eligible":true')}))
    page.click("#verify")
    page.wait_for_selector("#reason")
    assert page.get_attribute("#verdict", "data-valid") == "no" and "does not reach the certificate's root" in page.inner_text("#reason")

    page.fill("#proof", "")
    page.fill("#certificate", _one_changed_byte(text))
    page.click("#verify")
    page.wait_for_selector("#reason")
    assert page.get_attribute("#verdict", "data-valid") == "no" and page.inner_text("#verdict").startswith("✗ 无效 · Invalid")
    assert "not signed by the service chain's key" in page.inner_text("#reason")
    assert page.input_value("#certificate").replace("\r\n", "\n").strip() == _one_changed_byte(text).strip()  # what was pasted stays
    page.screenshot(path=str(shots / "verify-invalid.png"), full_page=True)

    page.fill("#certificate", "<script>alert(1)</script>")
    page.click("#verify")
    page.wait_for_selector("#reason")
    assert page.get_attribute("#verdict", "data-valid") == "no" and page.input_value("#certificate") == "<script>alert(1)</script>"
    watched.close()
    _keep(shots, site)


# --- the five views' nav ------------------------------------------------------------------------

def test_nav_html_marks_the_current_view_and_escapes() -> None:
    nav = nav_html(LINKS, "service")
    assert isinstance(nav, Markup) and nav.startswith('<nav class="five-views"')
    hrefs = re.findall(r'<a href="([^"]+)" id="view-(\w+)"', nav)
    assert [name for _, name in hrefs] == list(VIEW_NAMES) == ["supervision", "judicial", "risk", "credit", "service"]
    assert dict((n, h) for h, n in hrefs) == {"supervision": "http://127.0.0.1:18080/regulator/", "judicial": "http://127.0.0.1:18600/web/",
                                              "risk": "http://127.0.0.1:18800/risk/", "credit": "https://credit.example.cn/credit/?from=nav&amp;x=1",
                                              "service": "http://127.0.0.1:18700/service/"}
    assert nav.count("aria-current") == 1 and re.search(r'id="view-service" aria-current="page"[^>]*>服务链 · Service chain</a>', nav)
    for name, (zh, en) in VIEW_NAMES.items():
        assert f"{zh} · {en}" in nav, name
    assert nav_html({}, "risk") == "" and nav_html(None, "risk") == ""
    assert "aria-current" not in nav_html(LINKS, "nowhere")
    for bad in ({"court": "http://x"}, {"risk": "javascript:alert(1)"}, {"risk": "/risk/"}, {"risk": 'http://x/"><script>'}, {"risk": 5}):
        with pytest.raises(ValueError):
            set_views(type("App", (), {"state": type("State", (), {})()})(), bad)  # type: ignore[arg-type]


def _test_client(app: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    return TestClient(app)


def _nav_of(html: str) -> str | None:
    found = re.search(r'<nav class="five-views".*?</nav>', html, re.S)
    return found.group(0) if found else None


def test_set_views_renders_the_nav_on_the_regulators_pages(tmp_path: Path) -> None:
    """In process: the service, credit and risk apps with set_views, each signed in as its regulator (and the others)."""
    from credit_chain.api import create_app as credit_app
    from credit_chain.config import CreditConfig
    from credit_chain.service import CreditChain
    from risk_chain.api import create_app as risk_app
    from risk_chain.config import RiskConfig
    from risk_chain.service import RiskChain
    from service_chain.api import create_app as service_app
    from service_chain.service import ServiceChain, ServiceConfig

    service = ServiceChain(ServiceConfig(tmp_path / "service"))
    credit = CreditChain(CreditConfig(tmp_path / "credit"))
    risk = RiskChain(RiskConfig(tmp_path / "risk"))
    try:
        bare = service_app(service, manage_lifecycle=False)
        with _test_client(bare) as web:  # no set_views: no nav
            token = (tmp_path / "service" / "regulator.token").read_text().strip()
            assert web.post("/service/login", data={"token": token}).status_code == 200
            assert _nav_of(web.get("/service/").text) is None
        for name, app, path, who in (("service", service_app(service, manage_lifecycle=False), "/service", ("regulator", "operator")),
                                     ("credit", credit_app(credit, manage_lifecycle=False), "/credit", ("regulator", "operator")),
                                     ("risk", risk_app(risk, manage_lifecycle=False), "/risk", ("regulator",))):
            set_views(app, LINKS)
            assert app.state.five_views[name].startswith(LINKS[name] if name == "credit" else LINKS[name] + "/")
            web = _test_client(app)
            assert _nav_of(web.get(path + "/login").text) is None, name  # not signed in: no nav
            for role in who:
                token = (tmp_path / name / f"{role}.token").read_text().strip()
                web.cookies.clear()
                page = web.post(path + "/login", data={"token": token}, follow_redirects=True)
                assert page.status_code == 200, (name, role)
                nav = _nav_of(page.text)
                if role == "operator":
                    assert nav is None, name  # the desks do not move between the chains' regulator views
                    continue
                assert nav is not None and nav == nav_html(LINKS, name), name
                assert re.search(rf'id="view-{name}" aria-current="page"', nav) and nav.count("aria-current") == 1
                assert 'href="http://127.0.0.1:18080/regulator/"' in nav and 'href="https://credit.example.cn/credit/?from=nav&amp;x=1"' in nav
    finally:
        for chain in (service, credit, risk):
            chain.store.close()


def test_a_pool_with_more_exceptions_than_the_page_lists(tmp_path: Path) -> None:
    """In process: an open pool of 250 bad loans and one good (rows written as the chain writes them): the page lists the
    first FIRST_EXCEPTIONS, counts loans (not records) per exception over all of them, and escapes what it shows."""
    from service_chain.api import create_app as service_app
    from service_chain.pages import FIRST_EXCEPTIONS
    from service_chain.service import ServiceChain, ServiceConfig
    from service_chain.tables import Pool, PoolLoan

    chain = ServiceChain(ServiceConfig(tmp_path / "service"))
    try:
        pool_id = "P" + "AB" * 10
        leaves = [{"loan_id": f"BAD-{n:04d}", "exceptions": ["unknown-record", "unknown-record", "no-contract"] if n % 2 else ["overdue"]}
                  for n in range(250)] + [{"loan_id": "OK-1", "exceptions": []}]
        with chain.store.engine.begin() as conn:
            conn.execute(Pool.__table__.insert().values(id=pool_id, lender_id="L<1>", purpose="financing", offered_to="F&1",  # type: ignore[attr-defined]
                                                        created_ms=0, state="open", loans=251, eligible=1, outstanding=12_345_678_901))
            conn.execute(PoolLoan.__table__.insert(), [  # type: ignore[attr-defined]
                {"pool_id": pool_id, "loan_id": leaf["loan_id"], "seq": n, "eligible": not leaf["exceptions"], "outstanding": 0,
                 "leaf": json.dumps(leaf)} for n, leaf in enumerate(leaves)])
        web = _test_client(service_app(chain, manage_lifecycle=False))
        token = (tmp_path / "service" / "regulator.token").read_text().strip()
        assert web.post("/service/login", data={"token": token}).status_code == 200
        html = web.get(f"/service/pools/{pool_id}").text
        counts = dict(re.findall(r'<tr id="code-([a-z-]+)".*?<td class="num count">([\d,]+)</td>', html, re.S))
        assert counts == {"unknown-record": "125", "no-contract": "125", "overdue": "125"}
        assert html.count('<tr data-loan="BAD-') == FIRST_EXCEPTIONS < 250 and f"the first {FIRST_EXCEPTIONS} of 250" in html
        assert "记录与存证不符 · record matches no deposit ×2" in html and "¥123,456,789.01" in html
        assert "L&lt;1&gt;" in html and "F&amp;1" in html and 'id="no-certificate"' in html
        listed = web.get("/service/pools").text
        assert f'href="/service/pools/{pool_id}"' in listed and "未认证 · open" in listed
    finally:
        chain.store.close()
