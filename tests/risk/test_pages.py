"""The risk chain's pages on a real RiskChain served by uvicorn: months of scenario reports fed to its indicators,
warnings opened by its scorecard and taken through signed steps. Checks the regulator's sign-in (stateless cookie,
CSRF on sign-out), the heat map, the queue, a lender's figures, the printable warning report, a lender's one-use
sign-in link and that it sees only its own warnings — over HTTP, and in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from chain.encoding import b64encode
from chain.keys import generate_private_key, load_private_key, public_key_bytes, write_private_key
from evidence.loan_reports import parse_report
from fivechains.cli import app as cli_app
from risk_chain.api import create_app
from risk_chain.closed_loop import step_text
from risk_chain.config import DEFAULT_OFFICER, OFFICER_KEY_FILE
from risk_chain.feed import FeedLender
from risk_chain.pages import BAND_COLOURS, COOKIE, LENDER_COOKIE, PAGES_CSP, PageKeys, sign_in_link
from risk_chain.report_table import report_row, reports_table
from risk_chain.scenario import history
from risk_chain.service import RiskChain, RiskConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import free_port  # noqa: E402

DAY = 86_400_000
LENDERS = ("L0001", "L0002", "L0003", "L0004")
HOSTILE_NAME = '<script>alert("x")</script> & Co'
# Weighted towards what the scenario's drifting lenders do, so that L0003 is firmly red and L0004 (a shorter history,
# nothing overdue yet) yellow past a hard limit. With the default model (2026.1) L0003 reaches 70 (orange) when its
# reports are deposited as they happen, 80 when all are deposited at once, late.
MODEL = """version = "pages-test.1"
[indicators.overdue_m1]
bins = [0.01, 0.02, 0.04]
points = [0, 10, 18, 25]
hard_limit = 0.30
[indicators.overdue_m3]
bins = [0.01, 0.02, 0.04]
points = [0, 4, 7, 10]
[indicators.overdue_m1_change_30d]
bins = [0.01]
points = [0, 5]
[indicators.above_cap_share]
bins = [0.001, 0.05, 0.20]
points = [0, 8, 14, 20]
hard_limit = 0.50
[indicators.late_share]
bins = [0.05, 0.30]
points = [0, 2, 4]
[indicators.silence_days]
bins = [7]
points = [0, 2]
hard_limit = 30
[indicators.lending_spike_z]
bins = [3, 5, 8]
points = [0, 4, 7, 10]
[indicators.top10_share]
bins = [0.2, 0.4]
points = [0, 3, 5]
[indicators.collection_intensity]
bins = [1, 2, 4]
points = [0, 2, 4, 5]
hard_limit = 21
[indicators.broken_lifecycles]
bins = [1, 5, 20]
points = [0, 4, 7, 10]
[indicators.court_failures]
bins = [1]
points = [0, 2]
hard_limit = 5
[indicators.complaints]
bins = [1]
points = [0, 2]
"""


@dataclass
class Site:
    url: str
    token: str
    chain: RiskChain
    keys: dict[str, object]
    warning: dict[str, str]  # lender id → its warning's id
    tmp: Path


def _feed(chain: RiskChain, now: int) -> None:
    """The scenario's reports as the feed would bring them (ledger order, deposited a minute after the event)."""
    records = sorted(history(now) + history(now, lenders=("L0004",), drifting="L0004", days=30, seed=3),
                     key=lambda r: (r.event_time_ms, r.lender_id, r.loan_id, r.record_type))
    rows = [report_row(i, r.lender_id, r.loan_id, r.event_time_ms, r.event_time_ms + 60_000, r.record_type,
                       parse_report(r.record_type, r.report)) for i, r in enumerate(records)]
    chain.indicators.add_block(reports_table(rows))


def _step(chain: RiskChain, warning_id: str, step: str, actor: str, kind: str, key, body: dict) -> None:  # type: ignore[no-untyped-def]
    time.sleep(0.002)  # each step is signed after the last
    now = int(time.time() * 1000)
    chain.take_step(warning_id, step, actor, kind, now, body, key.sign(step_text(chain.config.chain_id, warning_id, step, actor, now, body).encode()))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("risk-pages")
    (tmp / "model.toml").write_text(MODEL)
    chain = RiskChain(RiskConfig(tmp / "risk", model_path=tmp / "model.toml"))
    keys = {lid: generate_private_key() for lid in LENDERS}
    chain.sync_lenders([FeedLender(lid, HOSTILE_NAME if lid == "L0002" else f"贷款机构 Lender {lid[-1]}", public_key_bytes(k.public_key()), True)
                        for lid, k in keys.items()])
    now = int(time.time() * 1000)
    _feed(chain, now)
    chain.evaluate(chain.indicators.lenders())
    bands = {lid: (s.index, s.band) for lid, (_, s) in chain.scores.items()}
    assert bands["L0003"][1] == "red" and bands["L0001"][1] == bands["L0002"][1] == "green", bands
    warning = {w["lender_id"]: w["id"] for w in chain.warnings()}
    assert set(warning) == {"L0003", "L0004"}, warning
    officer = load_private_key(tmp / "risk" / OFFICER_KEY_FILE)
    _step(chain, warning["L0003"], "assign", DEFAULT_OFFICER, "officer", officer, {"assignee": "王科长 Officer Wang", "note": "核查超上限放款 <b>"})
    _step(chain, warning["L0004"], "assign", DEFAULT_OFFICER, "officer", officer, {"assignee": "REG-001"})
    _step(chain, warning["L0004"], "answer", "L0004", "lender", keys["L0004"],
          {"text": "已停止超上限放款 · stopped lending above the cap", "attachments": [{"name": "plan.pdf", "digest": "ab" * 32}]})
    assert chain.check_deadlines(now + 4 * DAY) == [warning["L0003"]]  # three days to answer a red warning; L0004 answered

    app = create_app(chain)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    token = (tmp / "risk" / "regulator.token").read_text().strip()
    try:
        yield Site(url, token, chain, keys, warning, tmp)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _regulator(site: Site) -> httpx.Client:
    web = httpx.Client(base_url=site.url)
    assert web.post("/risk/login", data={"token": site.token}).status_code == 303
    return web


def _link(site: Site, lender: str, **override: object) -> str:
    return sign_in_link(site.url, site.chain.config.chain_id, lender, site.keys[lender], **override)  # type: ignore[arg-type]


def test_regulator_sign_in_pages_and_refusals(site: Site) -> None:
    with httpx.Client(base_url=site.url) as anonymous:
        for path in ("/risk/", f"/risk/warnings/{site.warning['L0003']}", "/risk/lenders/L0003"):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/risk/login", path
        wrong = anonymous.post("/risk/login", data={"token": site.token + "x"})
        assert wrong.status_code == 401 and "令牌错误" in wrong.text and "set-cookie" not in wrong.headers and site.token not in wrong.text
        assert anonymous.post("/risk/login", data={}).status_code == 401

    with httpx.Client(base_url=site.url) as web:
        signed = web.post("/risk/login", data={"token": site.token})
        assert signed.status_code == 303 and signed.headers["location"] == "/risk/"
        set_cookie = signed.headers["set-cookie"].lower()
        assert all(flag in set_cookie for flag in ("httponly", "samesite=strict", "path=/risk;", "max-age=28800"))
        page = web.get("/risk/")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert page.headers["content-security-policy"] == PAGES_CSP and page.headers["x-frame-options"] == "DENY"
        html = page.text
        assert "<script" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
        assert all(f'id="heat-{lid}"' in html for lid in LENDERS) and html.count('class="warning-link"') == 2
        assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from elsewhere
        assert web.get("/risk/?state=closed").text.count('class="warning-link"') == 0
        assert web.get("/risk/?state=assigned").text.count('class="warning-link"') == 1
        assert web.get("/risk/?state=bogus").status_code == 400

        # unknown or malformed: a clear 404 page, never a 500
        for path in ("/risk/warnings/W-000000000000", "/risk/warnings/<script>", "/risk/lenders/NOBODY", "/risk/lenders/%00",
                     f"/risk/warnings/{site.warning['L0003']}/steps/99/document", f"/risk/warnings/{site.warning['L0003']}/steps/x/document"):
            answer = web.get(path)
            assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html") and "Not found" in answer.text, path
        assert web.get("/risk/lenders/L0003?days=0").status_code == 422  # the query's limits: problem+json

        # a step's signed document, byte for byte as the API gives it
        wid = site.warning["L0004"]
        mine = web.get(f"/risk/warnings/{wid}/steps/2/document")
        api = httpx.get(f"{site.url}/v1/warnings/{wid}/steps/2/document", headers={"Authorization": f"Bearer {site.token}"})
        assert mine.status_code == api.status_code == 200 and mine.content == api.content and b'"step":"answer"' in mine.content

        cookie = web.cookies[COOKIE]
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)
        assert web.post("/risk/logout", data={"csrf": "0" * 64}).status_code == 403 and web.get("/risk/").status_code == 200
        out = web.post("/risk/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/risk/login" and COOKIE not in web.cookies
        assert web.get("/risk/").status_code == 303

    expiry, subject, mac = cookie.split(".")
    now = int(time.time() * 1000)
    for forged in (f"{expiry}.{subject}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}", f"{int(expiry) + 1}.{subject}.{mac}", f"{expiry}..",
                   PageKeys(site.token).issue("regulator", "", now - 9 * 3_600_000), PageKeys(site.token + "x").issue("regulator", "", now),
                   PageKeys(site.token).issue("lender", "", now)):
        with httpx.Client(base_url=site.url, cookies={COOKIE: forged}) as tampered:
            assert tampered.get("/risk/").status_code == 303, forged
    with httpx.Client(base_url=site.url, cookies={COOKIE: cookie}) as stateless:  # the cookie alone: no server-side session
        assert stateless.get("/risk/").status_code == 200


def test_lender_link_session_and_isolation(site: Site) -> None:
    own, other = site.warning["L0003"], site.warning["L0004"]
    with httpx.Client(base_url=site.url) as nobody:
        refused = nobody.get("/risk/lender")
        assert refused.status_code == 401 and "fivechains risk page-link --lender" in refused.text
        assert nobody.get(f"/risk/lender/warnings/{own}").status_code == 401
        with httpx.Client(base_url=site.url, cookies={COOKIE: _regulator(site).cookies[COOKIE]}) as regulator:
            assert regulator.get("/risk/lender").status_code == 401  # the regulator's session is not a lender's

    link = _link(site, "L0003")
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    bad = {**query, "signature": b64encode(site.keys["L0004"].sign(b"something else"))}  # type: ignore[attr-defined]
    stale_link = _link(site, "L0003", now_ms=int(time.time() * 1000) - 10 * 60_000)
    other_path = b64encode(site.keys["L0003"].sign(("fivechains.read/v2\nchain %s\nlender L0003\nnonce n1\ntime %s\nGET /v1/warnings\n" % (  # type: ignore[attr-defined]
        site.chain.config.chain_id, query["time"])).encode()))
    with httpx.Client(base_url=site.url) as web:
        for params, status in ((bad, 401), ({**query, "lender": "L0004"}, 401), ({**query, "signature": "!!"}, 400), ({**query, "time": "abc"}, 400),
                               ({**query, "time": "9" * 30}, 400), ({"lender": "L0003"}, 400), ({**query, "nonce": "n1", "signature": other_path}, 401)):
            answer = web.get("/risk/lender/sign-in?" + urlencode(params))
            assert answer.status_code == status and "text/html" in answer.headers["content-type"] and LENDER_COOKIE not in web.cookies, params
        assert web.get(stale_link).status_code == 401

        signed = web.get(link)
        assert signed.status_code == 303 and signed.headers["location"] == "/risk/lender"
        set_cookie = signed.headers["set-cookie"].lower()
        assert all(flag in set_cookie for flag in ("httponly", "samesite=strict", "path=/risk/lender;", "max-age=1800"))
        assert web.get(link).status_code == 401 and "already used" in web.get(link).text  # one use
        home = web.get("/risk/lender")
        assert home.status_code == 200 and own in home.text and other not in home.text and "Lender 4" not in home.text
        assert web.get(f"/risk/lender/warnings/{own}").status_code == 200
        assert web.get(f"/risk/lender/warnings/{other}").status_code == 404  # another lender's: as if it did not exist
        assert web.get(f"/risk/lender/warnings/{other}/steps/0/document").status_code == 404
        assert web.get(f"/risk/lender/warnings/{own}/steps/0/document").status_code == 200
        assert web.get("/risk/").status_code == 303  # a lender's session is not the regulator's
        cookie = web.cookies[LENDER_COOKIE]
        expiry, subject, mac = cookie.split(".")
        as_other = f"{expiry}.{b64encode(b'L0004').rstrip('=')}.{mac}"
        with httpx.Client(base_url=site.url, cookies={LENDER_COOKIE: as_other}) as forged:
            assert forged.get("/risk/lender").status_code == 401
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', home.text).group(1)
        assert web.post("/risk/lender/logout", data={"csrf": "x"}).status_code == 403
        assert web.post("/risk/lender/logout", data={"csrf": csrf}).status_code == 200 and web.get("/risk/lender").status_code == 401


def test_page_link_command(site: Site) -> None:
    key_file = site.tmp / "L0004.key"
    write_private_key(key_file, site.keys["L0004"])  # type: ignore[arg-type]
    result = CliRunner().invoke(cli_app, ["risk", "page-link", "--lender", "L0004", "--key", str(key_file), "--server", site.url, "--json"])
    assert result.exit_code == 0, result.output
    url = re.search(r'"url": "([^"]+)"', result.output).group(1)
    with httpx.Client() as web:
        assert web.get(url).status_code == 303 and "answered" in web.get(site.url + f"/risk/lender/warnings/{site.warning['L0004']}").text
        assert web.get(url).status_code == 401  # one use
    missing = CliRunner().invoke(cli_app, ["risk", "page-link", "--lender", "L0004", "--key", str(site.tmp / "nope.key"), "--server", site.url])
    assert missing.exit_code == 2 and "cannot read the key" in missing.output


def _rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)))


def test_pages_in_a_real_browser(site: Site) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI: scripts/test should have installed Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    shots = site.tmp / "shots"
    shots.mkdir()
    own, other = site.warning["L0003"], site.warning["L0004"]
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        violations: list[str] = []  # the policy must not block anything the pages need
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        external: list[str] = []
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(site.url) else None)

        page.goto(site.url + "/risk/")
        assert page.url.endswith("/risk/login")
        page.fill("#token", "not-the-token")
        page.click("#sign-in")
        assert "token is wrong" in page.inner_text("#error")
        page.fill("#token", site.token)
        page.click("#sign-in")
        page.wait_for_selector("#heat-map table.heat")

        # the heat map: every lender, L0003 first and red, its cells coloured by the share of points
        assert page.locator("table.heat tbody tr").count() == len(LENDERS)
        assert page.locator("table.heat tbody tr").first.get_attribute("id") == "heat-L0003"
        for lid in LENDERS:
            _, s = site.chain.scores[lid]
            cell = page.locator(f"#heat-{lid} td.index")
            assert cell.get_attribute("data-band") == s.band and str(s.index) in cell.inner_text()
            assert cell.evaluate("e => getComputedStyle(e).backgroundColor") == _rgb(BAND_COLOURS[s.band])
        cap = page.locator('#heat-L0003 td.cell[data-indicator="above_cap_share"]')
        assert cap.get_attribute("data-band") == "red" and "100.0%" in cap.inner_text() and "crossed" in (cap.get_attribute("class") or "")
        assert page.locator('#heat-L0001 td.cell[data-band="green"]').count() == page.locator("#heat-L0001 td.cell").count() == 12

        # the queue: both warnings, L0003's deadline flagged
        assert page.locator("table.queue tbody tr").count() == 2
        row = page.locator(f"#warning-{own}")
        assert row.get_attribute("class") == "missed" and "missed" in row.locator("td.deadline").inner_text()
        assert "已分派" in row.inner_text() and page.locator(f"#warning-{other} .missed-flag").count() == 0
        page.screenshot(path=str(shots / "overview.png"), full_page=True)

        # the lender's figures: one chart per indicator and the index, one point per day
        page.click("#heat-L0003 a.lender-link")
        page.wait_for_selector("#chart-overdue_m1 svg")
        days = len(site.chain.series("L0003"))
        assert page.locator(".chart-box svg.chart").count() == 13 and page.locator("#index svg.chart").count() == 2
        assert page.locator("#chart-above_cap_share circle").count() == days and page.locator("#chart-above_cap_share line.limit").count() == 1
        assert page.locator("#days .day").count() == days and page.locator("#warnings .warning-link").count() == 1
        box = page.locator("#chart-overdue_m1 svg").bounding_box()
        assert box and box["width"] > 400 and box["height"] > 90
        page.screenshot(path=str(shots / "lender.png"), full_page=True)

        # the warning report: explanation, provenance, steps; printable
        page.click("#warnings a.warning-link")
        page.wait_for_selector("#explanation")
        view = site.chain.warning_view(own)
        e = view["explanation"]
        assert page.inner_text("#model-sha256") == e["model"]["sha256"] and page.inner_text("#model-version") == "pages-test.1"
        assert page.inner_text("#fed-up-to") == str(e["supervision"]["fed_up_to"])
        assert page.locator("table.lines tbody tr[id^=line-]").count() == len(e["lines"]) == 12
        cap_line = next(line for line in e["lines"] if line["indicator"] == "above_cap_share")
        cap_row = page.locator("#line-above_cap_share")
        assert cap_row.get_attribute("data-crossed") == "yes" and cap_row.locator(".count").inner_text() == f"{len(cap_line['entries']):,}"
        assert cap_row.locator(".entries").inner_text().startswith(", ".join(map(str, cap_line["entries"][:3])))
        assert [page.locator(f"#step-{n}").get_attribute("data-step") for n in range(3)] == ["open", "assign", "deadline"]
        assert page.locator("#step-1").inner_text().count("核查超上限放款 <b>") == 1  # written as text, not markup
        assert str(view["steps"][1]["index"]) in page.locator("#step-1").inner_text()
        page.screenshot(path=str(shots / "warning.png"), full_page=True)
        page.emulate_media(media="print")
        assert not page.is_visible("#sign-out") and not page.is_visible("header nav") and page.is_visible(".print-only")
        page.screenshot(path=str(shots / "warning-print.png"), full_page=True)
        page.emulate_media(media="screen")
        page.click("#sign-out")
        page.wait_for_url("**/risk/login")

        # a lender: its link signs it in, it sees only its own warning and the command to answer it
        lender = browser.new_page(viewport={"width": 1280, "height": 900})
        lender.on("request", lambda r: external.append(r.url) if not r.url.startswith(site.url) else None)
        lender.goto(_link(site, "L0003"))
        assert lender.url == site.url + "/risk/lender" and lender.inner_text("#lender-id") == "L0003"
        assert lender.locator("a.warning-link").count() == 1
        lender.click("a.warning-link")
        lender.wait_for_selector("#answer-command")
        assert lender.inner_text("#answer-command") == f'fivechains risk answer {own} --lender L0003 --key YOUR.key --text "…"'
        assert lender.locator("table.lines tbody tr[id^=line-]").count() == 12
        lender.screenshot(path=str(shots / "lender-warning.png"), full_page=True)
        answer = lender.goto(f"{site.url}/risk/lender/warnings/{other}")
        assert answer.status == 404 and "Not found" in lender.inner_text("#title")
        refused = lender.goto(_link(site, "L0003").replace("signature=", "signature=AA"))
        assert refused.status in (400, 401) and "page-link" in lender.inner_text("#command")
        browser.close()
    assert external == [] and violations == []
    for shot in shots.iterdir():
        assert shot.stat().st_size > 10_000
        shutil.copy(shot, site.tmp.parent / f"risk-{shot.name}")
