"""Fault tests on real processes, loopback only, each bounded (issue 9): the judicial chain stopped
under load, PostgreSQL restarted under load, the data directory's disk full. In each, no
acknowledged deposit is lost, nothing is duplicated, service resumes by itself and the audit
passes. The sealer SIGKILLed mid-block is tests/supervision/test_postgres_workers.py
(test_sealer_killed_another_takes_over); ``scripts/faults.py`` runs longer versions of all four
and records them in docs/FAULTS.md."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from conftest import _pg_admin_url  # tests/conftest.py

from .harness import CannotInject, PostgresControl, Result, disk_full, judicial_outage, postgres_restart


def _explain(result: Result) -> str:
    return f"{result.problems}; figures {result.figures}; refusals {result.refusals}"


def test_judicial_chain_killed_under_load_then_audit(tmp_path: Path) -> None:
    result = judicial_outage(tmp_path, down_s=10, sig=signal.SIGKILL)
    assert result.ok, _explain(result)
    assert result.acknowledged > 0 and result.lost == 0 and result.duplicated == 0
    assert result.figures["batches acknowledged while down"] > 0  # type: ignore[operator]
    assert result.figures["deposit codes"] == result.acknowledged == result.figures["judicial entries"]
    assert result.audit_ok and result.resume_s is not None


@pytest.mark.postgres
@pytest.mark.serial  # restarts the PostgreSQL cluster every other PostgreSQL test shares
def test_postgres_restarted_under_load(tmp_path: Path, pg_url: str) -> None:
    try:
        control = PostgresControl(_pg_admin_url())
    except CannotInject as exc:
        pytest.skip(f"cannot restart the test cluster: {exc}")
    result = postgres_restart(tmp_path, pg_url, control, restarts=1)
    assert result.ok, _explain(result)
    assert result.acknowledged > 0 and result.lost == 0 and result.duplicated == 0
    assert result.audit_ok and result.resume_s is not None


def test_disk_full_refuses_then_resumes(tmp_path: Path) -> None:
    result = disk_full(tmp_path, size_mb=64, full_s=3)
    if result.skipped:
        pytest.skip(f"cannot fill a small filesystem here: {result.skipped}")
    assert result.ok, _explain(result)
    assert 507 in result.refusals and set(result.refusals) <= {503, 507}  # a full disk is named as such
    assert result.acknowledged > 0 and result.lost == 0 and result.duplicated == 0
    assert result.audit_ok and result.resume_s is not None
