"""The regulator dashboard on a real system: `fivechains up` with a real witness, lenders depositing
through the SDK (some events days old, so late), anchors coming back from the judicial chain.
Checks the JSON figures, the signed-in web page (stateless cookie, CSRF on sign-out) and the page
in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.checkpoint import open_checkpoint
from chain.encoding import b64encode
from chain.keys import public_key_bytes
from chain.note import parse_vkey
from judicial_chain.service import JudicialChain, JudicialConfig
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.dashboard import COOKIE, SessionKeys
from supervision_chain.oversight import day_of

from .conftest import register

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import ROOT, WitnessServer, free_port  # noqa: E402

HOUR, DAY = 3_600_000, 86_400_000
WITNESS = "witness.procuratorate.test"
HOSTILE_NAME = '<script>alert("x")</script> & Co'


@dataclass
class Running:
    url: str
    token: str
    judicial_vkey: str
    judicial_id: str
    witness_vkey: str
    accepted_day: dict[str, str]
    tmp: Path


def _up(data_dir: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    url = f"http://127.0.0.1:{free_port()}"
    log = open(data_dir.parent / "up.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "up", "--data-dir", str(data_dir), "--supervision-port", url.rsplit(":", 1)[1],
                             "--judicial-port", str(free_port()), "--portal-port", str(free_port()), "--risk-port", str(free_port()),
                             "--credit-port", str(free_port()), "--seal-interval-ms", "100", *extra],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "FIVECHAINS_CREDIT__ENABLED": "false",
                                 "FIVECHAINS_SERVICE__ENABLED": "false"})  # their entries would move the counts
    for _ in range(300):
        assert proc.poll() is None, "fivechains up exited; see up.log"
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("fivechains up did not start")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("dashboard")
    data_dir = tmp / "fc"
    judicial = JudicialChain(JudicialConfig(data_dir / "judicial"))  # its key first, for the witness to follow
    judicial_vkey, judicial_id = judicial.vkey, judicial.config.chain_id
    judicial.close()
    witness = WitnessServer(tmp / WITNESS, WITNESS, judicial_vkey).start()
    witness_url, witness_vkey = witness.url, witness.vkey
    up = None
    try:
        up, url = _up(data_dir, "--witness", f"{witness_url}={witness_vkey}")
        token = (data_dir / "supervision" / "regulator.token").read_text().strip()
        keys = {lid: register(data_dir / "supervision", lid) for lid in ("L1", "L2")}
        auth = {"Authorization": f"Bearer {token}"}
        added = httpx.post(url + "/v1/admin/lenders", headers=auth, json={"id": "L3", "name": HOSTILE_NAME, "licence": "GZ-3",
                                                                         "public_key": b64encode(public_key_bytes(Ed25519PrivateKey.generate().public_key()))})
        assert added.status_code == 201, added.text
        assert httpx.post(url + "/v1/admin/lenders/L3/disable", headers=auth).status_code == 200
        now = int(time.time() * 1000)
        events = {"L1": [now] * 3 + [now - 2 * HOUR] * 2 + [now - 3 * DAY] * 2 + [now - 10 * DAY], "L2": [now - HOUR // 2] * 4}
        accepted_day = {}
        for lid, times in events.items():
            with LenderClient(url, lid, keys[lid]) as client:
                answer = client.deposit([DepositItem(f"{int(lid[1]):02x}{n:062x}", "repayment", f"loan-{n}", t) for n, t in enumerate(times)])
                accepted_day[lid] = day_of(answer["deposit_time_ms"])
                views = client.wait_for([i["index"] for i in answer["items"]], "anchored", timeout=60)
                assert all(v["status"] == "anchored" for v in views.values())
        yield Running(url, token, judicial_vkey, judicial_id, witness_vkey, accepted_day, tmp)
    finally:
        if up is not None:
            _stop(up)
        witness.stop()


def test_json_figures(running: Running) -> None:
    url, auth = running.url, {"Authorization": f"Bearer {running.token}"}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = httpx.get(url + "/v1/admin/dashboard", headers=headers)
        assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 401 and "lenders" not in refused.json()
    view = httpx.get(url + "/v1/admin/dashboard", headers=auth).json()
    lenders = {v["id"]: v for v in view["lenders"]}
    assert list(lenders) == ["L1", "L2", "L3"] and [lenders[i]["enabled"] for i in lenders] == [True, True, False]
    assert lenders["L3"]["name"] == HOSTILE_NAME and lenders["L3"]["deposits"] == 0
    assert len(view["days"]) == 30 and view["days"][-1] == day_of(view["generated_ms"])
    for lid, count in (("L1", 8), ("L2", 4)):
        per_day = lenders[lid]["per_day"]
        assert list(per_day) == view["days"] and per_day[running.accepted_day[lid]] == count and sum(per_day.values()) == count
        assert lenders[lid]["deposits"] == lenders[lid]["deposits_in_window"] == count
    assert lenders["L1"]["buckets"] == {"lt_1m": 3, "1m_1h": 0, "1h_24h": 2, "24h_7d": 2, "gt_7d": 1}
    assert lenders["L2"]["buckets"] == {"lt_1m": 0, "1m_1h": 4, "1h_24h": 0, "24h_7d": 0, "gt_7d": 0}
    assert (lenders["L1"]["delay"]["late"], lenders["L2"]["delay"]["late"], view["totals"]["late"]) == (3, 0, 3)
    assert view["totals"]["deposits"] == 12 and sum(view["totals"]["per_day"].values()) == 12
    assert 10 * DAY <= lenders["L1"]["delay"]["max"] < 11 * DAY and 2 * HOUR <= lenders["L1"]["delay"]["p50"] < 3 * HOUR
    timeliness = {t["lender_id"]: t for t in httpx.get(url + "/v1/admin/timeliness", headers=auth).json()["lenders"]}
    for lid in ("L1", "L2"):  # the same numbers as the timeliness report
        t = timeliness[lid]
        assert lenders[lid]["delay"] == {"mean": t["mean_delay_ms"], "p50": t["p50_delay_ms"], "p90": t["p90_delay_ms"], "max": t["max_delay_ms"], "late": t["late"]}

    # anchoring: every sealed block has a receipt, sealed before it was acknowledged
    anchoring = view["anchoring"]
    sealed = httpx.get(url + "/v1/blocks").json()["blocks"]
    assert [b["height"] for b in anchoring["blocks"]] == [b["height"] for b in sealed] and sealed
    lags = [b["lag_ms"] for b in anchoring["blocks"]]
    assert all(b["anchored_ms"] - b["sealed_ms"] == b["lag_ms"] >= 0 for b in anchoring["blocks"])
    assert anchoring["max_lag_ms"] == max(lags) and anchoring["mean_lag_ms"] == sum(lags) // len(lags) and min(lags) <= anchoring["p90_lag_ms"] <= max(lags)
    assert anchoring["backlog"] == 0 and anchoring["linked"] and anchoring["oldest_waiting"] is None

    # checkpoints: the supervision chain's latest, and the judicial one with the witness's cosignature
    supervision = view["checkpoints"]["supervision"]
    published = httpx.get(url + "/v1/checkpoint").text
    assert supervision["text"] == published and supervision["size"] == 12 and supervision["block_height"] == sealed[-1]["height"]
    judicial = view["checkpoints"]["judicial"]
    assert judicial["signer"] == running.judicial_id and judicial["origin"] == running.judicial_id and judicial["size"] == 12
    assert judicial["witness_count"] == 1 and [w["name"] for w in judicial["witnesses"]] == [WITNESS]
    assert judicial["age_ms"] >= 0 and judicial["with_block"] == sealed[-1]["height"]
    opened = open_checkpoint(judicial["text"], parse_vkey(running.judicial_vkey), witnesses=[parse_vkey(running.witness_vkey)], min_witnesses=1)
    assert b64encode(opened.checkpoint.root) == judicial["root"]


def test_web_page_behind_sign_in(running: Running) -> None:
    url = running.url
    with httpx.Client(base_url=url) as anonymous:
        assert anonymous.get("/regulator/").status_code == 303
        wrong = anonymous.post("/regulator/login", data={"token": running.token + "x"})
        assert wrong.status_code == 401 and "令牌错误" in wrong.text and "set-cookie" not in wrong.headers
        assert running.token not in wrong.text
        assert anonymous.post("/regulator/login", data={}).status_code == 401

    with httpx.Client(base_url=url) as web:
        signed = web.post("/regulator/login", data={"token": running.token})
        assert signed.status_code == 303 and signed.headers["location"] == "/regulator/"
        set_cookie = signed.headers["set-cookie"].lower()
        assert all(flag in set_cookie for flag in ("httponly", "samesite=strict", "path=/regulator", "max-age=28800"))
        page = web.get("/regulator/")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        policy = page.headers["content-security-policy"]  # no scripts may run, no other site may frame the page
        assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy and page.headers["x-frame-options"] == "DENY"
        html = page.text
        assert "Lender L1" in html and "Lender L2" in html and 'id="lender-L3"' in html and "停用 · disabled" in html
        assert html.count("<svg") >= 2 * 3 + 2 and "<script" not in html  # per lender two charts, plus totals and lag
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
        assert re.search(r'id="witness-count">1<', html) and WITNESS in html and "cdn" not in html.lower()
        late = re.search(r'<tr id="delay-L1">.*?</tr>', html, re.S).group(0)
        assert re.search(r'late-count late">3<', late) and re.search(r'bucket-gt_7d">1<', late)
        cookie = web.cookies[COOKIE]

        # sign-out needs the CSRF token derived from the session
        refused = web.post("/regulator/logout", data={"csrf": "0" * 64})
        assert refused.status_code == 403 and web.get("/regulator/").status_code == 200
        assert web.post("/regulator/logout").status_code == 403
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)
        out = web.post("/regulator/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/regulator/login"
        assert COOKIE not in web.cookies and web.get("/regulator/").status_code == 303

    expiry, mac = cookie.split(".")
    keys = SessionKeys(running.token)
    past = keys.issue(int(time.time() * 1000) - 9 * HOUR)  # a well-formed cookie that expired an hour ago
    for forged in (f"{expiry}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}", f"{int(expiry) + 1}.{mac}", f"{expiry}.", mac, past,
                   SessionKeys(running.token + "x").issue(int(time.time() * 1000))):
        with httpx.Client(base_url=url, cookies={COOKIE: forged}) as tampered:
            assert tampered.get("/regulator/").status_code == 303, forged
    with httpx.Client(base_url=url, cookies={COOKIE: cookie}) as stateless:  # any process with the token accepts it
        assert stateless.get("/regulator/").status_code == 200


def test_dashboard_in_a_real_browser(running: Running) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI: scripts/test should have installed Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    shot = running.tmp / "dashboard.png"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        violations: list[str] = []  # the policy must not block anything the page needs
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        external = []
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(running.url) else None)
        page.goto(running.url + "/regulator/")
        assert page.url.endswith("/regulator/login") and "Regulator sign-in" in page.content()
        page.fill("#token", "not-the-token")
        page.click("#sign-in")
        assert "token is wrong" in page.inner_text("#error")
        page.fill("#token", running.token)
        page.click("#sign-in")
        page.wait_for_selector("#lender-L1 svg.chart")
        assert page.locator("svg.chart").count() >= 8
        assert page.locator("#lender-L1 svg rect").count() == 30  # one bar per day
        assert page.inner_text("#witness-count") == "1" and page.inner_text("#total-late") == "3"
        box = page.locator("#lender-L1 svg.chart").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 80
        page.screenshot(path=str(shot), full_page=True)
        page.emulate_media(media="print")  # the print stylesheet hides the sign-out button
        assert not page.is_visible("#sign-out")
        page.emulate_media(media="screen")
        page.click("#sign-out")
        page.wait_for_url("**/regulator/login")
        browser.close()
    assert external == [] and violations == [] and shot.stat().st_size > 10_000
    shutil.copy(shot, running.tmp.parent / "dashboard-screenshot.png")
