"""Configuration: flags over environment over TOML over defaults; every wrong value named with its
origin; secrets never shown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fivechains.settings import SettingsError, load_settings, masked

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "fivechains.toml"
    path.write_text('data_dir = "/srv/fc"\n[supervision]\nport = 9400\nseal_entries = 500\n'
                    'db_url = "postgresql+psycopg://fc:s3cret-pw@db.internal:5432/fc"\n[judicial]\nport = 9500\n')
    return path


def test_flags_over_environment_over_file_over_defaults(toml: Path, monkeypatch) -> None:
    monkeypatch.setenv("FIVECHAINS_SUPERVISION__PORT", "9401")
    monkeypatch.setenv("FIVECHAINS_JUDICIAL__QUORUM", "2")
    s = load_settings(toml, {"supervision": {"seal_interval_ms": 250, "workers": None}, "judicial": {"port": 9502}})
    assert s.supervision.port == 9401  # environment over file
    assert s.supervision.seal_entries == 500  # file, merged with flags of the same section
    assert s.supervision.seal_interval_ms == 250  # flag
    assert s.supervision.workers == 1  # a flag not given (None) leaves the default
    assert s.judicial.port == 9502 and s.judicial.quorum == 2  # flag over file; environment
    assert s.portal.port == 8600 and s.supervision_dir() == Path("/srv/fc/supervision")


def test_every_wrong_value_is_named_with_where_it_came_from(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[supervision]\nport = 70000\nseal_interval_ms = 5\n[log]\nformat = "yaml"\n')
    monkeypatch.setenv("FIVECHAINS_JUDICIAL__WITNESSES", '["not a witness"]')
    with pytest.raises(SettingsError) as caught:
        load_settings(bad, {"supervision": {"seal_entries": 0}})
    message = str(caught.value)
    assert "supervision.port" in message and f"from {bad}" in message
    assert "supervision.seal_interval_ms" in message
    assert "supervision.seal_entries" in message and "from the command line" in message
    assert "log.format" in message
    assert "judicial.witnesses" in message and "from FIVECHAINS_JUDICIAL__WITNESSES" in message
    with pytest.raises(SettingsError, match="unknown_section|Extra inputs"):
        (tmp_path / "extra.toml").write_text("[unknown_section]\nx = 1\n")
        load_settings(tmp_path / "extra.toml")
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_secrets_are_masked_when_shown(toml: Path, monkeypatch) -> None:
    shown = masked(load_settings(toml))
    assert shown["supervision"]["db_url"] == "postgresql+psycopg://fc:***@db.internal:5432/fc"
    assert "s3cret-pw" not in json.dumps(shown)
    monkeypatch.setenv("FIVECHAINS_SUPERVISION__DB_URL", "mysql://root:s3cret-pw@x/y")
    with pytest.raises(SettingsError) as caught:
        load_settings(toml)
    assert "s3cret-pw" not in str(caught.value) and "supervision.db_url" in str(caught.value)


def test_config_show_command(toml: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "fivechains.cli", "config", "show", "--config", str(toml), "--json"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["supervision"]["port"] == 9400 and "s3cret-pw" not in done.stdout
    bad = toml.parent / "bad.toml"
    bad.write_text("[portal]\nport = 0\n")
    done = subprocess.run([sys.executable, "-m", "fivechains.cli", "config", "check", "--config", str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "portal.port" in done.stderr


def test_a_served_chain_takes_its_settings_and_logs_json_with_request_ids(tmp_path: Path) -> None:
    import os
    import signal
    import time

    import httpx

    sys.path.insert(0, str(ROOT / "tests"))
    from servers import free_port

    port = free_port()
    config = tmp_path / "fivechains.toml"
    config.write_text(f'data_dir = "{tmp_path / "fc"}"\n[supervision]\nport = {port}\nseal_interval_ms = 50\n'
                      '[log]\nformat = "json"\naccess = true\n')
    bad = subprocess.run([sys.executable, "-m", "fivechains.cli", "supervision", "serve", "--config", str(config), "--seal-interval-ms", "1"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert bad.returncode == 2 and "supervision.seal_interval_ms" in bad.stderr and "from the command line" in bad.stderr
    log = open(tmp_path / "server.log", "w+")
    server = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "supervision", "serve"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                              env={**os.environ, "FIVECHAINS_CONFIG": str(config)})
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/livez", headers={"X-Request-Id": "probe-1"}, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert (tmp_path / "fc" / "supervision" / "regulator.token").exists()  # data_dir from the file
        assert httpx.get(f"http://127.0.0.1:{port}/v1/admin/lenders", headers={"X-Request-Id": "probe-2"}).status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    log.seek(0)
    lines = [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]
    access = {entry["request_id"]: entry for entry in lines if entry["logger"] == "fivechains.access"}
    assert access["probe-2"]["status"] == 401 and access["probe-2"]["path"] == "/v1/admin/lenders"
    token = (tmp_path / "fc" / "supervision" / "regulator.token").read_text().strip()
    assert token not in "\n".join(json.dumps(entry) for entry in lines)
