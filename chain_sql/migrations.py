"""Schema migrations (Alembic) for a service's database, run at start-up and by `fivechains db …`.

Each service keeps its own migration scripts and its own version table, so the supervision and
judicial chains can even share one PostgreSQL database. Migrating happens in one transaction,
on PostgreSQL under the schema advisory lock, so API processes starting together migrate once.
A database made before migrations existed (its tables were created directly) is stamped with
the baseline revision first, then brought up to date like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from .store import SQLStore

__all__ = ["Migrations", "upgrade_schema", "schema_revision"]


@dataclass(frozen=True)
class Migrations:
    """Where a service's migration scripts live, and how its schema is recognised."""

    scripts: Path  # folder with env.py and versions/
    version_table: str  # e.g. alembic_version_supervision
    baseline: str  # the revision that describes a database made before migrations existed
    marker_table: str  # a table every such database has

    def config(self, connection: Connection | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.scripts))
        cfg.attributes["connection"] = connection
        cfg.attributes["version_table"] = self.version_table
        return cfg

    def head(self) -> str:
        return ScriptDirectory.from_config(self.config()).get_current_head()  # type: ignore[return-value]


def _current(conn: Connection, migrations: Migrations) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": migrations.version_table}).get_current_revision()


def upgrade_schema(store: SQLStore, migrations: Migrations, target: str = "head") -> tuple[str | None, str | None]:
    """Bring the database to ``target``; returns (revision before, revision after)."""
    with store.schema_change() as conn:
        before = _current(conn, migrations)
        cfg = migrations.config(conn)
        if before is None and inspect(conn).has_table(migrations.marker_table):
            command.stamp(cfg, migrations.baseline)  # made before migrations: it holds the baseline schema
        command.upgrade(cfg, target)
        return before, _current(conn, migrations)


def schema_revision(store: SQLStore, migrations: Migrations) -> str | None:
    with store.read_engine.connect() as conn:
        return _current(conn, migrations)
