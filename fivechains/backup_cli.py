"""`fivechains backup …`: back up a running chain, restore and audit it, move SQLite to PostgreSQL.

The archive holds the chain's secrets (signing keys, the regulator token, certificate keys): keep
it where only the operator can read it. See docs/deployment.md.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .backup_archive import (
    PG_DUMP,
    BackupError,
    Member,
    data_files,
    extract_archive,
    ledger_summary,
    pg_dump,
    pg_restore,
    read_manifest,
    snapshot_sqlite,
    sqlite_databases,
    write_archive,
)
from .chain_dirs import DATABASES, KEY_FILE, holds_any_chain, locate
from .output import console, emit_json, err_console, fail, progress_bar

backup_app = typer.Typer(
    help="Back up a chain while it runs, restore and audit a backup, move a chain from SQLite to PostgreSQL.",
    no_args_is_help=True,
)

DataDir = Annotated[Path, typer.Option("--data-dir", help="The chain's data directory (databases, keys, token, certificates).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]
Archive = Annotated[Path, typer.Argument(help="A backup archive (.tar.gz) made by `fivechains backup create`.")]


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- create ---------------------------------------------------------------------------------------


@backup_app.command("create")
def create(
    data_dir: DataDir,
    out: Annotated[Path, typer.Option("--out", help="The archive to write (.tar.gz, mode 0600).")],
    db: Annotated[Optional[str], typer.Option("--db", help="Also dump this PostgreSQL database (pg_dump --format=custom).")] = None,
    json_out: JsonOut = False,
) -> None:
    """Back up a chain's data directory while the service runs (SQLite online backup API, or pg_dump with --db).

    The archive holds the keys, the regulator token and certificates (mode 0600): store it as carefully as the keys.
    """
    if not holds_any_chain(data_dir):
        raise fail(f"no chain in {data_dir}: expected a chain's database ({', '.join(DATABASES.values())}) or its {KEY_FILE}, "
                   "in the directory or in its supervision/ or judicial/ subdirectory (a `fivechains up` directory); nothing to back up. "
                   f"A chain is made by `fivechains up --data-dir {data_dir}` or a `serve` command")
    if out.exists():
        raise fail(f"{out} exists; give a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))  # same disk as the archive; 0700
    try:
        manifest = _create(data_dir, out, db, work, json_out)
    except BackupError as exc:
        raise fail(str(exc)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if json_out:
        emit_json({"archive": str(out), "bytes": out.stat().st_size, **manifest})
        return
    console.print(f"wrote [bold]{out}[/] ({out.stat().st_size:,} bytes, mode 0600; it holds the chain's keys: keep it safe)")
    for m in manifest["members"]:
        if m["kind"] != "file":
            console.print(f"  {m['path']}: {_describe(m)}")
    console.print(f"  {sum(m['kind'] == 'file' for m in manifest['members'])} other files (keys, token, certificates)")


def _describe(member: dict[str, Any]) -> str:
    if not member.get("chain_id"):
        return f"{member['kind']} database ({member.get('role', 'other')})"
    return (f"{member['role']} chain {member['chain_id']}: {member['size']:,} entries, "
            f"{member['blocks']:,} blocks, sealed size {member['sealed_size']:,}")


def _create(data_dir: Path, out: Path, db: str | None, work: Path, json_out: bool) -> dict[str, Any]:
    from chain_sql import sqlite_url

    databases = sqlite_databases(data_dir)
    members: list[Member] = []
    with progress_bar("snapshotting databases", len(databases) + (1 if db else 0), enabled=not json_out) as update:
        for done, path in enumerate(databases, 1):
            rel = path.relative_to(data_dir).as_posix()
            copy = work / rel
            copy.parent.mkdir(parents=True, exist_ok=True)
            snapshot_sqlite(path, copy)
            members.append(Member(copy, rel, 0o600, "sqlite", ledger_summary(sqlite_url(copy))))
            update(done)
        if db:
            # the summary is read before the dump starts: the dump holds at least this much
            summary = ledger_summary(db)
            dump = work / PG_DUMP
            pg_dump(db, dump)
            members.append(Member(dump, PG_DUMP, 0o600, "postgresql", {**summary, "database": _where(db)}))
            update(len(databases) + 1)
    members += data_files(data_dir, databases)
    with progress_bar("writing the archive", len(members), enabled=not json_out) as update:
        return write_archive(out, data_dir, members, {}, progress=update)


# --- restore and verify ---------------------------------------------------------------------------


def _empty_dir(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} is not empty: restore into a new directory")


def _empty_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")).scalars().all()
    except Exception as exc:  # noqa: BLE001 - any failure to connect is reported as such
        raise BackupError(f"cannot open {_where(url)}: {exc.__class__.__name__}: {exc}") from None
    finally:
        engine.dispose()
    if tables:
        raise BackupError(f"{_where(url)} is not empty (it has {', '.join(tables[:5])}{' …' if len(tables) > 5 else ''}): "
                          "restore into a new, empty database")


def _parse_vkeys(vkeys: list[str] | None) -> dict[str, Any]:
    from chain.note import parse_vkey

    trusted = {}
    for text in vkeys or []:
        value = Path(text).read_text().strip() if Path(text).is_file() else text
        try:
            verifier = parse_vkey(value)
        except Exception as exc:  # noqa: BLE001
            raise BackupError(f"--vkey {text!r} is not a verifier key: {exc}") from None
        trusted[verifier.name] = verifier
    return trusted


def _audit_restored(data_dir: Path, manifest: dict[str, Any], db: str | None, trusted: dict[str, Any],
                    json_out: bool) -> list[dict[str, Any]]:
    """Audit every ledger the archive held, from its restored rows, and check it still has the
    latest signed checkpoint the manifest recorded."""
    from chain.audit import audit_ledger
    from chain_sql import open_store, sqlite_url

    results = []
    for member in manifest["members"]:
        if member["kind"] == "file":
            continue
        url = db if member["kind"] == "postgresql" else sqlite_url(data_dir / member["path"])
        result: dict[str, Any] = {"path": member["path"], "kind": member["kind"], "role": member.get("role"),
                                  "chain_id": member.get("chain_id"), "problems": []}
        results.append(result)
        if not member.get("chain_id"):
            result["ok"] = True
            continue
        assert url is not None
        store = open_store(url)
        try:
            meta = store.meta()
            if meta.get("chain_id") != member["chain_id"] or meta.get("vkey") != member.get("vkey"):
                result["problems"].append(f"it holds chain {meta.get('chain_id')!r} with key {meta.get('vkey')!r}, "
                                          f"the manifest says {member['chain_id']!r} with key {member.get('vkey')!r}")
            checkpoint = member.get("latest_checkpoint")
            if checkpoint:
                size = int(checkpoint.split("\n")[1])
                if store.checkpoint(size) != checkpoint:
                    result["problems"].append(f"its signed checkpoint at size {size} is not the one the manifest recorded")
            verifier = trusted.get(member["chain_id"])
            with progress_bar(f"auditing {member['path']}", None, enabled=not json_out) as update:
                report = audit_ledger(store, verifier, progress=update)
        finally:
            store.close()
        result["audit"] = report.to_dict()
        result["trusted_key"] = verifier is not None
        result["ok"] = report.ok and not result["problems"]
    return results


def _rewind_outbox(data_dir: Path, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """When one archive holds a supervision chain and the judicial chain it anchors into (as under
    `fivechains up`), the judicial database was snapshotted first, so the supervision outbox may name
    blocks acknowledged after that snapshot: rewind it to what the restored judicial chain holds."""
    from sqlalchemy import select

    from chain_sql import open_store, sqlite_url
    from judicial_chain.models import SourceState
    from supervision_chain.outbox_rewind import rewind_outbox

    sqlite = [m for m in manifest["members"] if m["kind"] == "sqlite" and m.get("chain_id")]
    supervision = [m for m in sqlite if m["role"] == "supervision"]
    judicial = [m for m in sqlite if m["role"] == "judicial"]
    if len(supervision) != 1 or len(judicial) != 1:
        return None
    states = SourceState.__table__  # type: ignore[attr-defined]
    with closing(open_store(sqlite_url(data_dir / judicial[0]["path"]))) as jc, jc.engine.connect() as conn:
        anchored = conn.execute(select(states.c.next_height).where(states.c.chain_id == supervision[0]["chain_id"])).scalar_one_or_none()
    with closing(open_store(sqlite_url(data_dir / supervision[0]["path"]))) as sv:
        return rewind_outbox(sv.engine, int(anchored or 0))


def _print_results(results: list[dict[str, Any]], problems: list[str]) -> None:
    for p in problems:
        console.print(f"[bold red]archive[/]: {p}")
    for r in results:
        if not r.get("chain_id"):
            continue
        audit = r["audit"]
        if r["ok"]:
            key = "trusted key" if r["trusted_key"] else "key in the database"
            console.print(f"[green]OK[/] {r['path']}: {r['role']} chain {r['chain_id']}: {audit['blocks']:,} blocks, "
                          f"{audit['entries']:,} entries, sealed size {audit['sealed_size']:,} (audited against the {key})")
            continue
        console.print(f"[bold red]FAILED[/] {r['path']}: {r['role']} chain {r['chain_id']}")
        for p in r["problems"]:
            console.print(f"  • {p}")
        for f in audit["findings"]:
            where = [f"chain {f['chain']}"] + [f"{k} {f[k]}" for k in ("block", "entry") if f[k] is not None]
            console.print(f"  • {', '.join(where)}: {f['problem']}")
        if audit["omitted_findings"]:
            console.print(f"  … and {audit['omitted_findings']} more")


def _restore_into(archive: Path, data_dir: Path, db: str | None, trusted: dict[str, Any], json_out: bool, *,
                  rewind: bool) -> dict[str, Any]:
    manifest = read_manifest(archive)
    dumps = [m for m in manifest["members"] if m["kind"] == "postgresql"]
    if dumps and not db:
        raise BackupError(f"{archive} holds a PostgreSQL dump: give --db URL of a new, empty database to restore it into")
    if db and not dumps:
        raise BackupError(f"{archive} holds no PostgreSQL dump (its databases are SQLite files in the data directory); "
                          "restore without --db, then use `fivechains backup to-postgres`")
    if db:
        _empty_database(db)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with progress_bar("restoring files", len(manifest["members"]), enabled=not json_out) as update:
        problems = extract_archive(archive, data_dir, manifest, progress=update)
    if db:
        pg_restore(data_dir / PG_DUMP, db)
        (data_dir / PG_DUMP).unlink()
    outbox = _rewind_outbox(data_dir, manifest) if rewind else None
    results = _audit_restored(data_dir, manifest, db, trusted, json_out)
    ok = not problems and all(r["ok"] for r in results)
    return {"ok": ok, "archive": str(archive), "created": manifest["created"], "created_ms": manifest["created_ms"],
            "archive_problems": problems, "ledgers": results, "outbox_rewound": outbox}


@backup_app.command("restore")
def restore(
    archive: Archive,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="A new (or empty) directory to restore into.")],
    db: Annotated[Optional[str], typer.Option("--db", help="A new, empty PostgreSQL database to restore the archive's dump into.")] = None,
    vkey: Annotated[Optional[list[str]], typer.Option("--vkey", help="A trusted verifier key (text or file) to audit against; repeatable.")] = None,
    json_out: JsonOut = False,
) -> None:
    """Restore a backup into a new data directory (and database), then audit every restored ledger.

    Refuses a non-empty directory or database. Exits 1 if an audit fails or the archive does not match its manifest.
    """
    try:
        trusted = _parse_vkeys(vkey)
        _empty_dir(data_dir)
        result = _restore_into(archive, data_dir, db, trusted, json_out, rewind=True)
    except BackupError as exc:
        raise fail(str(exc)) from None
    if json_out:
        emit_json({"data_dir": str(data_dir), **result})
    else:
        _print_results(result["ledgers"], result["archive_problems"])
        if result["outbox_rewound"]:
            r = result["outbox_rewound"]
            console.print(f"outbox rewound from block {r['from_height']} to {r['to_height']} (what the restored judicial chain holds); "
                          "those blocks are anchored again on start")
        verdict = "[green]restored[/]" if result["ok"] else "[bold red]restored, but the audit FAILED[/]"
        console.print(f"{verdict} into {data_dir}" + (f" and {_where(db)}" if db else ""))
    if not result["ok"]:
        raise typer.Exit(1)


@backup_app.command("verify")
def verify(
    archive: Archive,
    db: Annotated[Optional[str], typer.Option("--db", help="For an archive with a PostgreSQL dump: a scratch, empty database to restore it into.")] = None,
    vkey: Annotated[Optional[list[str]], typer.Option("--vkey", help="A trusted verifier key (text or file) to audit against; repeatable.")] = None,
    json_out: JsonOut = False,
) -> None:
    """Check a backup without touching any chain: manifest, checksums, and an audit of every ledger restored in a temporary directory.

    Exits 0 if all holds, 1 naming the chain, block and entry that do not.
    """
    work = Path(tempfile.mkdtemp(prefix="fivechains-verify-"))
    try:
        trusted = _parse_vkeys(vkey)
        result = _restore_into(archive, work / "data", db, trusted, json_out, rewind=False)
    except BackupError as exc:
        raise fail(str(exc)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if json_out:
        emit_json(result)
    else:
        _print_results(result["ledgers"], result["archive_problems"])
        console.print(f"[green]{archive} is sound[/]" if result["ok"] else f"[bold red]{archive} FAILED verification[/]")
    if not result["ok"]:
        raise typer.Exit(1)


# --- SQLite → PostgreSQL ------------------------------------------------------------------------------

CHAINS = {kind: DATABASES[kind] for kind in ("supervision", "judicial")}


def _source_db(data_dir: Path, chain: str | None) -> tuple[str, Path]:
    """The chain's SQLite database: in ``data_dir`` itself or in its `fivechains up` subdirectory."""
    if chain is not None and chain not in CHAINS:
        raise BackupError(f"--chain is supervision or judicial, not {chain!r}")
    found = [(kind, where) for kind in ([chain] if chain else CHAINS) if (where := locate(data_dir, kind)) is not None]
    if len(found) != 1:
        what = "no" if not found else "more than one"
        raise BackupError(f"{what} chain database ({' or '.join(CHAINS.values())}) in {data_dir} or its supervision/ and judicial/ "
                          "subdirectories" + ("; give --chain" if found else ""))
    kind, where = found[0]
    return kind, where / CHAINS[kind]


def _open_target(chain: str, data_dir: Path, url: str, meta: dict[str, str]) -> Any:
    """Open (and so create) the target the way the service does, with the chain's own opener and key."""
    from chain.hashing import suite_by_name
    from chain.keys import load_private_key
    from chain.note import format_vkey, note_signer

    key = data_dir / "signer.key"
    if not key.is_file():
        raise BackupError(f"no signing key {key}: the service needs it beside the database")
    signer = note_signer(meta["chain_id"], load_private_key(key))  # either suite: the key file says which
    vkey = format_vkey(signer.verifier())
    if vkey != meta.get("vkey"):
        raise BackupError(f"{key} is not the key of the chain in {CHAINS[chain]} ({meta.get('vkey')})")
    if chain == "supervision":
        from chain.ledger import Ledger
        from supervision_chain.service import SupervisionConfig, open_supervision_store

        store = open_supervision_store(SupervisionConfig(data_dir, db_url=url, chain_id=meta["chain_id"]))
        Ledger.create(store, meta["chain_id"], signer, suite_by_name(meta.get("hash_suite", "sha256")))
        return store
    from judicial_chain.service import JudicialChain, JudicialConfig

    return JudicialChain(JudicialConfig(data_dir, db_url=url, chain_id=meta["chain_id"], hash_suite=meta.get("hash_suite", "sha256"))).store


def _copy_tables(src: sqlite3.Connection, engine: Any, json_out: bool) -> dict[str, int]:
    """The rows of every table, with a progress bar (the engine: chain_sql.table_copy)."""
    from chain_sql.table_copy import TableCopyError, copy_tables

    with progress_bar("copying rows", None, enabled=not json_out) as update:
        try:
            return copy_tables(src, engine, progress=update)
        except TableCopyError as exc:
            raise BackupError(str(exc)) from None


@backup_app.command("to-postgres")
def to_postgres(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The stopped chain's data directory (its SQLite database and keys).")],
    db: Annotated[str, typer.Option("--db", help="The new, empty PostgreSQL database: postgresql+psycopg://USER:PASSWORD@HOST/DB.")],
    chain: Annotated[Optional[str], typer.Option("--chain", help="supervision or judicial (default: whichever database is in --data-dir).")] = None,
    json_out: JsonOut = False,
) -> None:
    """Move a stopped chain from SQLite to an empty PostgreSQL database (schema by the service's opener, rows by COPY), then audit it.

    Refuses a target that holds rows. Afterwards start the service with --db URL and the same --data-dir (the keys stay there).
    """
    import psycopg
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from chain.audit import audit_ledger
    from chain_sql import open_store, sqlite_url
    from chain_sql.table_copy import tables_with_rows

    try:
        if not db.startswith(("postgresql+psycopg://", "postgresql://")):
            raise BackupError("--db must be a postgresql+psycopg://… URL")
        db = db.replace("postgresql://", "postgresql+psycopg://", 1) if db.startswith("postgresql://") else db
        kind, path = _source_db(data_dir, chain)
        with closing(open_store(sqlite_url(path))) as source:
            meta = source.meta()
        if not meta:
            raise BackupError(f"{path} holds no ledger")
        engine = create_engine(db)
        try:
            busy = tables_with_rows(engine, meta)
            if busy:
                raise BackupError(f"{_where(db)} already holds rows ({', '.join(busy)}): give a new, empty database")
            store = _open_target(kind, path.parent, db, meta)
            store.close()
            src = sqlite3.connect(str(path), timeout=60)
            try:
                src.execute("BEGIN")  # one read transaction: every table from the same snapshot
                copied = _copy_tables(src, engine, json_out)
                src.execute("COMMIT")
            except (SQLAlchemyError, sqlite3.Error, psycopg.Error) as exc:
                raise BackupError(f"the copy failed and was rolled back, nothing was copied: {exc.__class__.__name__}: {exc}") from None
            finally:
                src.close()
        finally:
            engine.dispose()
        target = open_store(db)
        try:
            with progress_bar("auditing the PostgreSQL ledger", None, enabled=not json_out) as update:
                report = audit_ledger(target, progress=update)
        finally:
            target.close()
    except BackupError as exc:
        raise fail(str(exc)) from None
    result = {"ok": report.ok, "chain": kind, "chain_id": meta["chain_id"], "source": str(path), "target": _where(db),
              "rows": copied, "audit": report.to_dict()}
    if json_out:
        emit_json(result)
    else:
        total = sum(copied.values())
        console.print(f"copied {total:,} rows of {len(copied)} tables from {path} to {_where(db)}")
        _print_results([{"path": _where(db), "role": kind, "chain_id": meta["chain_id"], "ok": report.ok, "problems": [],
                         "audit": report.to_dict(), "trusted_key": False}], [])
        if report.ok:
            err_console.print(f"next: fivechains {kind} serve --data-dir {path.parent} --db '{_where(db)}' …  "
                              f"(keep {path.name} as a fallback until you are satisfied)")
    if not report.ok:
        raise typer.Exit(1)
