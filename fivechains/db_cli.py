"""`fivechains db …`: a chain's database schema (Alembic migrations). The services also migrate at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from .chain_dirs import DATABASES, chain_dir_or_fail
from .output import console, emit_json, fail

db_app = typer.Typer(help="The chains' database schemas: show the revision, upgrade (also done at start-up).", no_args_is_help=True)
Kind = Annotated[str, typer.Option("--chain", help="supervision or judicial.")]
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="The chain's data directory (its SQLite database), or the `fivechains up` directory holding it.")]
Db = Annotated[Optional[str], typer.Option("--db", help="Or the database URL (postgresql+psycopg://…).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _open(kind: str, data_dir: Path | None, db: str | None):  # type: ignore[no-untyped-def]
    from chain_sql import open_store

    if kind not in ("supervision", "judicial"):
        raise fail("--chain is supervision or judicial")
    if not (data_dir or db):
        raise fail("give --data-dir or --db")
    if kind == "supervision":
        from supervision_chain.models import MIGRATIONS
    else:
        from judicial_chain.models import MIGRATIONS
    url: str | Path = db or chain_dir_or_fail(data_dir, kind) / DATABASES[kind]  # type: ignore[arg-type]
    return open_store(url), MIGRATIONS


def _report(kind: Literal["current", "upgrade"], chain: str, before: str | None, after: str | None, head: str, json_out: bool) -> None:
    if json_out:
        emit_json({"chain": chain, "before": before, "revision": after, "head": head, "up_to_date": after == head})
    elif kind == "upgrade":
        console.print(f"{chain}: {before or 'none'} → {after} (head {head})")
    else:
        console.print(f"{chain}: revision {after or 'none'} (head {head}){'' if after == head else ' — run fivechains db upgrade'}")


@db_app.command("current")
def current(chain: Kind, data_dir: DataDir = None, db: Db = None, json_out: JsonOut = False) -> None:
    """Show the schema revision of a chain's database; exit 1 if it is not up to date."""
    from chain_sql.migrations import schema_revision

    store, migrations = _open(chain, data_dir, db)
    try:
        revision = schema_revision(store, migrations)
    finally:
        store.close()
    _report("current", chain, None, revision, migrations.head(), json_out)
    if revision != migrations.head():
        raise typer.Exit(1)


@db_app.command("upgrade")
def upgrade(chain: Kind, data_dir: DataDir = None, db: Db = None, to: Annotated[str, typer.Option(help="Target revision.")] = "head",
            json_out: JsonOut = False) -> None:
    """Bring a chain's database schema up to date (safe to run while API processes start: one migrates, the others wait)."""
    from chain_sql.migrations import upgrade_schema

    store, migrations = _open(chain, data_dir, db)
    try:
        before, after = upgrade_schema(store, migrations, to)
    except Exception as exc:
        raise fail(f"the migration failed and was rolled back: {exc.__class__.__name__}: {exc}") from None
    finally:
        store.close()
    _report("upgrade", chain, before, after, migrations.head(), json_out)
