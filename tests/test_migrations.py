"""Schema migrations: they build exactly the tables the code declares, on SQLite and PostgreSQL;
a database made before migrations is brought up to date with its rows kept; the command reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, text

from chain_sql import open_store
from chain_sql.migrations import schema_revision, upgrade_schema
from chain_sql.schema import LEDGER_TABLES
from judicial_chain.models import JUDICIAL_TABLES
from judicial_chain.models import MIGRATIONS as JUDICIAL
from judicial_chain.portal.accounts import Judge, VerificationLog
from service_chain.tables import MIGRATIONS as SERVICE
from service_chain.tables import SERVICE_TABLES
from supervision_chain.models import MIGRATIONS as SUPERVISION
from supervision_chain.models import SUPERVISION_TABLES

ROOT = Path(__file__).resolve().parents[1]
DECLARED = {
    "supervision": (SUPERVISION, [*LEDGER_TABLES, *SUPERVISION_TABLES]),
    "judicial": (JUDICIAL, [*LEDGER_TABLES, *JUDICIAL_TABLES, Judge.__table__, VerificationLog.__table__]),  # type: ignore[attr-defined]
    "service": (SERVICE, [*LEDGER_TABLES, *SERVICE_TABLES]),
}


def _metadata(tables: list) -> MetaData:
    md = MetaData()
    for table in tables:
        table.to_metadata(md)
    return md


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.mark.parametrize("kind", ["supervision", "judicial", "service"])
def test_migrations_build_exactly_the_declared_schema(database_url: str, kind: str) -> None:
    migrations, tables = DECLARED[kind]
    store = open_store(database_url)
    try:
        before, after = upgrade_schema(store, migrations)
        assert (before, after) == (None, migrations.head())
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": migrations.version_table})
            differences = [d for d in compare_metadata(context, _metadata(tables))
                           if not (d[0] == "remove_table" and d[1].name == migrations.version_table)]
        assert differences == [], differences  # a model changed without a migration fails here
        assert upgrade_schema(store, migrations) == (after, after)  # running again changes nothing
    finally:
        store.close()


def test_a_database_made_before_migrations_is_brought_up_to_date(tmp_path: Path) -> None:
    """The pilot created tables directly; its rows stay, the missing table arrives, the revision is recorded."""
    url = f"sqlite:///{tmp_path / 'supervision.db'}"
    engine = create_engine(url)
    pilot = [t for t in DECLARED["supervision"][1] if t.name != "sv_anchor_receipt"]
    _metadata(pilot).create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO ledger_meta (key, value) VALUES ('chain_id', 'pilot.example/gz')"))
    engine.dispose()
    store = open_store(url)
    try:
        assert schema_revision(store, SUPERVISION) is None
        before, after = upgrade_schema(store, SUPERVISION)
        assert before is None and after == SUPERVISION.head() == "0007"
        assert inspect(store.engine).has_table("sv_anchor_receipt")
        assert store.meta() == {"chain_id": "pilot.example/gz"}
    finally:
        store.close()


def test_renamed_columns_keep_their_rows(tmp_path: Path) -> None:
    """0004 gives the deposit columns the names the wire uses; a deposit stored under the old names survives."""
    store = open_store(f"sqlite:///{tmp_path / 'supervision.db'}")
    try:
        assert upgrade_schema(store, SUPERVISION, target="0003") == (None, "0003")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO sv_deposit (idx, lender_id, request_first, digest, record_type, loan_id, event_ms, "
                              "accepted_ms, delay_ms, meta, commitment_salt) VALUES (0, 'L1', 0, 'ab', 'contract', 'loan-1', 5, 9, 4, "
                              "'{\"k\": 1}', 'cd')"))
        assert upgrade_schema(store, SUPERVISION, target="0004") == ("0003", "0004")
        with store.engine.connect() as conn:
            row = conn.execute(text("SELECT event_time_ms, deposit_time_ms, metadata, commitment_salt FROM sv_deposit")).one()
        assert tuple(row) == (5, 9, '{"k": 1}', "cd")
    finally:
        store.close()


def test_db_command_reports_and_upgrades(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'judicial.db'}")
    _metadata([*LEDGER_TABLES]).create_all(engine)  # an old judicial database, before migrations
    engine.dispose()
    run = lambda *a: subprocess.run([sys.executable, "-m", "fivechains.cli", "db", *a, "--chain", "judicial", "--data-dir", str(tmp_path)],  # noqa: E731
                                    capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run("current").returncode == 1  # not up to date
    upgraded = run("upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert '"up_to_date": true' in upgraded.stdout
    assert run("current").returncode == 0
