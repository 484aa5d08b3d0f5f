"""The portal against hostile input and hostile browsers: ZIP case bundles with limits, sign-in
with CSRF, throttling and one-time passwords, sessions that end when a judge is disabled,
security headers on every answer — over real HTTP, and in headless Chromium."""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from judicial_chain.portal.accounts import J, add_judge, disable_judge
from judicial_chain.service import JudicialChain, JudicialConfig

from .portal_server import Portal, anchor_some, wait_done

NEW_PASSWORD = "a long passphrase of my own"


@pytest.fixture
def portal(tmp_path: Path):
    data_dir = tmp_path / "judicial"
    portal = Portal(data_dir).start()
    yield portal
    portal.stop()


@pytest.fixture
def judge(portal: Portal):
    return add_judge(portal.chain.store.engine, "J1", "Judge One")


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _encrypted() -> bytes:
    """A ZIP whose entry says it is encrypted (bit 0 of the flags, in the local and central headers)."""
    data = bytearray(_zip({"manifest.json": b"[]"}))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    return bytes(data)


def _corrupt() -> bytes:
    data = bytearray(_zip({"manifest.json": b'{"items": []}' * 50, "a.pdf": os.urandom(2000)}))
    start = data.find(b"PK\x03\x04") + 30 + len("manifest.json")
    for n in range(start + 2, start + 12):  # scramble the deflate stream of the first entry
        data[n] ^= 0xFF
    return bytes(data)


BAD_ARCHIVES = {
    "zip-bomb": lambda: _zip({"manifest.json": b"[]", "bomb.bin": b"\0" * (20 * 1024 * 1024)}),  # 20 MiB from ~20 KiB
    "too-many-entries": lambda: _zip({f"f{n}.txt": b"" for n in range(10_001)} | {"manifest.json": b"[]"}, zipfile.ZIP_STORED),
    "encrypted": _encrypted,
    "corrupt": _corrupt,
    "unsupported-method": lambda: _zip({"manifest.json": b"[]"}, zipfile.ZIP_BZIP2),
    "not-a-zip": lambda: b"PK\x05\x06 this is not an archive at all" + os.urandom(64),
    "not-a-zip-nor-json": lambda: os.urandom(256).replace(b"PK", b"pk"),
}


@pytest.mark.parametrize("kind", list(BAD_ARCHIVES))
def test_a_bad_case_bundle_is_400_problem_json(portal: Portal, judge, kind: str) -> None:
    answer = httpx.post(portal.url + "/v1/verifications/bundle", data={"case_id": "zip"}, timeout=60,
                        files={"bundle": ("case.zip", BAD_ARCHIVES[kind](), "application/zip")},
                        headers={"Authorization": f"Bearer {judge.token}"})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["status"] == 400 and answer.json()["detail"]


def test_a_zip_bomb_is_refused_without_being_inflated(portal: Portal, judge, monkeypatch) -> None:
    """The ratio check happens on the declared sizes: a 1 GiB entry is refused without being opened."""
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def recording_open(self, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z, z.open("bomb.bin", "w", force_zip64=True) as entry:
        block = b"\0" * (1024 * 1024)
        for _ in range(1024):
            entry.write(block)
    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)  # the portal runs in this process
    answer = httpx.post(portal.url + "/v1/verifications/bundle", data={"case_id": "zip"}, timeout=60,
                        files={"bundle": ("case.zip", buffer.getvalue(), "application/zip")},
                        headers={"Authorization": f"Bearer {judge.token}"})
    assert answer.status_code == 400 and "zip bomb" in answer.json()["detail"]
    assert "bomb.bin" not in opened


# --- sign-in --------------------------------------------------------------------------------------------


def _browser(portal: Portal, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=portal.url, follow_redirects=False, timeout=30, **kwargs)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _sign_in(http: httpx.Client, judge_id: str, password: str, **headers: str) -> httpx.Response:
    form = http.get("/web/login", headers=headers)
    return http.post("/web/login", data={"judge_id": judge_id, "password": password, "csrf": _csrf(form.text)}, headers=headers)


def _signed_in(portal: Portal, judge) -> httpx.Client:
    """A browser session past the first sign-in's password change."""
    http = _browser(portal)
    assert _sign_in(http, judge.id, judge.password).headers["location"] == "/web/password"
    page = http.get("/web/password")
    changed = http.post("/web/password", data={"csrf": _csrf(page.text), "current": judge.password, "new": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})
    assert changed.status_code == 303 and changed.headers["location"] == "/web/"
    return http


def test_every_answer_carries_the_security_headers(portal: Portal, judge) -> None:
    for path in ("/web/login", "/healthz", "/v1/chain", "/web/static/job.js", "/v1/verifications/x"):
        headers = httpx.get(portal.url + path).headers
        assert "default-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"] and "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY", path


def test_the_sign_in_form_needs_its_csrf_token(portal: Portal, judge) -> None:
    with _browser(portal) as http:
        http.get("/web/login")
        forged = http.post("/web/login", data={"judge_id": judge.id, "password": judge.password, "csrf": "forged"})
        assert forged.status_code == 403 and "fc_portal_session" not in forged.headers.get("set-cookie", "")
    with _browser(portal) as http:  # a cross-site form has the field but not the cookie
        token = _csrf(http.get("/web/login").text)
        http.cookies.clear()
        assert http.post("/web/login", data={"judge_id": judge.id, "password": judge.password, "csrf": token}).status_code == 403


def test_the_one_time_password_must_be_changed_before_anything_else(portal: Portal, judge) -> None:
    with _browser(portal) as http:
        assert _sign_in(http, judge.id, judge.password).headers["location"] == "/web/password"
        for path in ("/web/", "/web/jobs/x"):
            assert http.get(path).headers["location"] == "/web/password", path
        csrf = _csrf(http.get("/web/password").text)
        short = http.post("/web/password", data={"csrf": csrf, "current": judge.password, "new": "short", "confirm": "short"})
        assert short.status_code == 422
        wrong = http.post("/web/password", data={"csrf": csrf, "current": "not it", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert wrong.status_code == 422
        assert http.post("/web/password", data={"csrf": csrf, "current": judge.password, "new": NEW_PASSWORD,
                                                "confirm": NEW_PASSWORD}).headers["location"] == "/web/"
        assert http.get("/web/").status_code == 200
    with _browser(portal) as http:  # the one-time password is gone; the new one works and asks for nothing more
        assert _sign_in(http, judge.id, judge.password).status_code == 401
        assert _sign_in(http, judge.id, NEW_PASSWORD).headers["location"] == "/web/"


def test_an_unused_one_time_password_expires(portal: Portal, judge) -> None:
    with portal.chain.store.engine.begin() as conn:
        conn.execute(J.update().where(J.c.id == judge.id).values(password_issued_ms=int(time.time() * 1000) - 73 * 3600 * 1000))
    with _browser(portal) as http:
        refused = _sign_in(http, judge.id, judge.password)
        assert refused.status_code == 403 and "expired" in refused.text and "fc_portal_session" not in refused.headers.get("set-cookie", "")


def test_disabling_a_judge_ends_the_session_at_once(portal: Portal, judge) -> None:
    http = _signed_in(portal, judge)
    assert http.get("/web/").status_code == 200
    disable_judge(portal.chain.store.engine, judge.id)
    ended = http.get("/web/")
    assert ended.status_code == 303 and ended.headers["location"] == "/web/login"
    assert http.get("/web/jobs/x/status").status_code == 401
    http.close()


def test_sign_out_is_a_post_with_the_session_csrf(portal: Portal, judge) -> None:
    http = _signed_in(portal, judge)
    assert http.get("/web/logout").status_code == 405  # a link or an <img> cannot sign a judge out
    page = http.get("/web/")
    assert http.post("/web/logout", data={"csrf": "forged"}).status_code == 403
    assert http.get("/web/").status_code == 200
    assert http.post("/web/logout", data={"csrf": _csrf(page.text)}).headers["location"] == "/web/login"
    assert http.get("/web/").headers["location"] == "/web/login"
    http.close()


def test_sign_in_is_throttled_per_account(portal: Portal, judge) -> None:
    with _browser(portal) as http:
        for _ in range(5):
            assert _sign_in(http, judge.id, "guess").status_code == 401
        throttled = _sign_in(http, judge.id, judge.password)  # even the right password waits now
        assert throttled.status_code == 429 and "Too many failed sign-ins" in throttled.text


def test_sign_in_is_throttled_per_client_address(portal: Portal, judge) -> None:
    with _browser(portal) as http:
        for n in range(20):
            assert _sign_in(http, f"X{n}", "guess").status_code == 401  # a different account each time
        throttled = _sign_in(http, judge.id, judge.password)
        assert throttled.status_code == 429 and "Too many failed sign-ins" in throttled.text


def test_unknown_and_disabled_accounts_cost_the_time_of_a_real_one(portal: Portal, judge, monkeypatch) -> None:
    """No timing oracle: every sign-in attempt, whatever the account, runs the same scrypt once (its cost is
    what a sign-in takes; counted, not timed, so the test cannot flake on a busy machine)."""
    import hashlib

    off = add_judge(portal.chain.store.engine, "J2", "Judge Two")
    disable_judge(portal.chain.store.engine, off.id)
    calls: list[dict] = []
    real_scrypt = hashlib.scrypt

    def counting_scrypt(password: bytes, **params):  # type: ignore[no-untyped-def]
        calls.append({k: v for k, v in params.items() if k != "salt"} | {"salt_bytes": len(params["salt"])})
        return real_scrypt(password, **params)

    monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
    work = {}
    for judge_id, password in ((judge.id, "wrong"), ("nobody", "wrong"), (off.id, off.password)):
        calls.clear()
        with _browser(portal) as http:
            form = http.get("/web/login")
            answer = http.post("/web/login", data={"judge_id": judge_id, "password": password, "csrf": _csrf(form.text)})
        assert answer.status_code == 401, (judge_id, answer.status_code)
        work[judge_id] = list(calls)
    assert len(work[judge.id]) == 1 and work["nobody"] == work[judge.id] == work[off.id], work


def test_cookies_are_secure_over_https(tmp_path: Path) -> None:
    portal = Portal(tmp_path / "judicial", trust_forwarded_proto=True).start()
    try:
        judge = add_judge(portal.chain.store.engine, "J1", "Judge One")
        with _browser(portal) as http:
            assert "secure" not in http.get("/web/login").headers["set-cookie"].lower()
        with _browser(portal) as http:  # behind the TLS proxy (the browser would send the cookie back; httpx needs help)
            form = http.get("/web/login", headers={"X-Forwarded-Proto": "https"})
            assert "; secure" in form.headers["set-cookie"].lower()
            signed = http.post("/web/login", headers={"X-Forwarded-Proto": "https", "Cookie": f"fc_portal_login={form.cookies['fc_portal_login']}"},
                               data={"judge_id": judge.id, "password": judge.password, "csrf": _csrf(form.text)})
            assert signed.status_code == 303 and "; secure" in signed.headers["set-cookie"].lower()
    finally:
        portal.stop()


def test_a_judge_in_a_real_browser_changes_the_password_then_verifies_under_the_csp(tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI")
        pytest.skip("Debian's chromium is not installed")
    data_dir = tmp_path / "judicial"
    codes = anchor_some(data_dir, tmp_path / "source.db")
    chain = JudicialChain(JudicialConfig(data_dir))
    try:
        judge = add_judge(chain.store.engine, "J5", "Judge Five")
    finally:
        chain.close()
    portal = Portal(data_dir).start()
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page()
            violations: list[str] = []
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(portal.url + "/web/login")
            page.fill("#judge_id", judge.id)
            page.fill("#password", judge.password)
            page.click("#sign-in")
            page.wait_for_url("**/web/password")
            page.goto(portal.url + "/web/")  # nothing else works until the password is changed
            assert page.url.endswith("/web/password")
            page.fill("#current", judge.password)
            page.fill("#new", NEW_PASSWORD)
            page.fill("#confirm", NEW_PASSWORD)
            page.click("#change-password")
            page.wait_for_url("**/web/")
            page.fill("#case_id", "csp-1")
            page.fill("#pasted", f"{codes[0]} {0:064x}\n{codes[1]} {7:064x}")
            page.click("#verify")
            page.wait_for_selector("#results", state="visible", timeout=30_000)  # the page's script ran (loaded as a file)
            assert page.inner_text("#count-verified").endswith(": 1") and page.inner_text("#count-tampered").endswith(": 1")
            assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(122, 31, 31)"
            page.goto(portal.url + page.get_attribute("#report-html", "href"))
            assert "存证核验报告" in page.content()
            assert page.evaluate("getComputedStyle(document.querySelector('table')).borderCollapse") == "collapse"  # hashed inline style
            page.goto(portal.url + "/web/")
            page.click("#sign-out")
            page.wait_for_url("**/web/login")
            browser.close()
        assert violations == []
    finally:
        portal.stop()


def test_budget_refusal_is_problem_json_over_the_api(tmp_path: Path) -> None:
    portal = Portal(tmp_path / "judicial", failed_lookups_per_minute=3).start()
    try:
        judge = add_judge(portal.chain.store.engine, "J1", "Judge One")
        auth = {"Authorization": f"Bearer {judge.token}"}
        job = httpx.post(portal.url + "/v1/verifications", headers=auth,
                         json={"case_id": "g", "items": [{"code": "0000-0000-0000-00", "digest": "00" * 32}] * 10}).json()
        view = wait_done(portal.url, job["job_id"], auth)
        assert view["counts"]["unknown_code"] == 3 and view["counts"]["not_checked"] == 7
        refused = httpx.post(portal.url + "/v1/verifications", headers=auth, json={"case_id": "g2", "items": [{"code": "x"}]})
        assert refused.status_code == 429 and refused.headers["content-type"].startswith("application/problem+json")
    finally:
        portal.stop()
