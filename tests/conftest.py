"""Shared fixtures: a ledger store on every backend, keys, and a PostgreSQL database per test."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain_sql import sqlite_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import fresh_database  # noqa: E402

PG_URL_VAR = "FIVECHAINS_TEST_PG_URL"


def _pg_admin_url() -> str:
    url = os.environ.get(PG_URL_VAR)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_URL_VAR} is not set in CI: scripts/test should have started PostgreSQL")
        pytest.skip(f"{PG_URL_VAR} not set (run through ./scripts/test to get a throw-away PostgreSQL)")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the throw-away test cluster; dropped afterwards."""
    with fresh_database(_pg_admin_url()) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty ledger database, once per storage backend."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "ledger.db")
    return request.getfixturevalue("pg_url")
