"""Shared fixtures: a ledger store on every backend, keys, and a PostgreSQL database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from chain.storage import sqlite_url

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
    admin_url = _pg_admin_url()
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # survives a server restart in a test
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty ledger database, once per storage backend."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "ledger.db")
    return request.getfixturevalue("pg_url")
