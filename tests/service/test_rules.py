"""The service chain's rule file: the shipped one loads, and a broken one is refused with a RulesError naming what is wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from service_chain.rules import DEFAULT_RULES, PURPOSES, Eligibility, RulesError, load_rules

SHIPPED = DEFAULT_RULES.read_text()


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "rules.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _replace(old: str, new: str) -> str:
    assert SHIPPED.count(old) == 1, old  # the edit lands exactly where meant
    return SHIPPED.replace(old, new)


def test_the_shipped_rules_load() -> None:
    rules = load_rules()
    assert rules.version == "gz-service-rules-2026.1"
    assert rules.sha256 == hashlib.sha256(DEFAULT_RULES.read_bytes()).hexdigest()
    assert rules.text == SHIPPED
    assert rules.reporting_limit_ms == 24 * 3_600_000
    assert set(rules.purposes) == set(PURPOSES) == {"financing", "transfer"}
    assert rules.purposes["financing"] == Eligibility(max_days_past_due=30, max_rate_bp=2400, min_outstanding_fen=1)
    assert rules.purposes["transfer"] == Eligibility(max_days_past_due=100000, max_rate_bp=2400, min_outstanding_fen=1)


def test_the_hash_is_over_the_exact_bytes(tmp_path: Path) -> None:
    # a comment changes nothing the rules say, but it changes the file, so the certificate's hash changes too
    path = _write(tmp_path, SHIPPED + "# one more comment\n")
    rules = load_rules(path)
    assert rules.purposes == load_rules().purposes and rules.version == load_rules().version
    assert rules.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() != load_rules().sha256


def test_a_missing_purpose_table_is_named(tmp_path: Path) -> None:
    head, sep, _ = SHIPPED.partition("[transfer]")
    assert sep
    with pytest.raises(RulesError, match=r"\[transfer\] is missing"):
        load_rules(_write(tmp_path, head))


@pytest.mark.parametrize("key", ["max_days_past_due", "max_rate_bp", "min_outstanding_fen"])
def test_a_missing_key_is_named(tmp_path: Path, key: str) -> None:
    head, sep, tail = SHIPPED.partition("[financing]")
    lines = [line for line in tail.split("\n") if not line.startswith(key)]
    with pytest.raises(RulesError, match=rf"financing\.{key} is missing"):
        load_rules(_write(tmp_path, head + sep + "\n".join(lines)))


def test_a_missing_reporting_limit_is_named(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"reporting\.limit_hours is missing"):
        load_rules(_write(tmp_path, _replace("limit_hours = 24", "")))
    with pytest.raises(RulesError, match=r"reporting\.limit_hours is missing"):
        load_rules(_write(tmp_path, _replace("[reporting]", "[reports]")))


@pytest.mark.parametrize("value", ["-1", "-2400", '"2400"', "2400.0", "true", "[2400]", "{ bp = 2400 }", "2026-01-01"])
def test_a_negative_or_non_integer_value_is_named(tmp_path: Path, value: str) -> None:
    text = _replace("max_rate_bp = 2400  # all-in", f"max_rate_bp = {value}  # all-in")
    with pytest.raises(RulesError, match=r"financing\.max_rate_bp must be a non-negative integer"):
        load_rules(_write(tmp_path, text))


@pytest.mark.parametrize("value", ["-24", '"24"', "24.5", "false"])
def test_a_bad_reporting_limit_is_named(tmp_path: Path, value: str) -> None:
    with pytest.raises(RulesError, match=r"reporting\.limit_hours must be a non-negative integer"):
        load_rules(_write(tmp_path, _replace("limit_hours = 24", f"limit_hours = {value}")))


def test_zero_is_a_valid_limit(tmp_path: Path) -> None:
    rules = load_rules(_write(tmp_path, _replace("limit_hours = 24", "limit_hours = 0")))
    assert rules.reporting_limit_ms == 0


@pytest.mark.parametrize("version", ['""', "1", "[\"a\"]"])
def test_a_bad_version_is_named(tmp_path: Path, version: str) -> None:
    with pytest.raises(RulesError, match="version"):
        load_rules(_write(tmp_path, _replace('version = "gz-service-rules-2026.1"', f"version = {version}")))
    with pytest.raises(RulesError, match="version"):
        load_rules(_write(tmp_path, _replace('version = "gz-service-rules-2026.1"', "")))


@pytest.mark.parametrize("text", ["this is not toml", "[financing\nmax_rate_bp = 1", 'version = "a"\nversion = "b"\n',
                                  b"\xff\xfe not utf-8", b'version = "\xc3\x28"\n'])
def test_a_file_that_is_not_toml_is_refused(tmp_path: Path, text: str | bytes) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RulesError, match="not a TOML rule file") as info:
        load_rules(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("value", ["24", '["limit_hours"]'])
def test_a_reporting_value_that_is_not_a_table_is_named(tmp_path: Path, value: str) -> None:
    text = _replace("[reporting]\n", "[reporting_old]\n").replace('version = "gz-service-rules-2026.1"', f'version = "v1"\nreporting = {value}')
    with pytest.raises(RulesError, match="reporting"):
        load_rules(_write(tmp_path, text))
