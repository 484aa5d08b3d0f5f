"""Backup archives of a chain's data directory: consistent database snapshots, secrets kept 0600.

An archive is a gzip'd tar holding ``manifest.json`` first, then every file of the data directory
(keys, regulator token, certificates, …) with its mode, and each SQLite database as a snapshot taken
with SQLite's online backup API (never a byte copy of a live WAL file), or a ``pg_dump`` of a
PostgreSQL database. The manifest names what each database holds (chain id, ledger size, latest
signed checkpoint) and a SHA-256 of every member.

Nothing here talks to people: ``fivechains.backup_cli`` does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.engine import make_url

__all__ = [
    "FORMAT", "MANIFEST", "PG_DUMP", "BackupError", "Member", "chain_role", "ledger_summary", "snapshot_sqlite",
    "data_files", "write_archive", "read_manifest", "extract_archive", "pg_tool", "libpq_url", "pg_dump", "pg_restore",
    "sqlite_databases",
]

FORMAT = "fivechains-backup/1"
MANIFEST = "manifest.json"
PG_DUMP = "postgresql.dump"
SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".lock")  # SQLite side files and lock files: never archived
SECRET_MODE = 0o600


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for people."""


@dataclass
class Member:
    """One file to put into the archive: where it is now, its name inside, and its mode."""

    source: Path
    name: str
    mode: int
    kind: str = "file"  # file | sqlite | postgresql
    info: dict[str, Any] = field(default_factory=dict)


# --- what a database holds ---------------------------------------------------------------------


def chain_role(tables: set[str]) -> str:
    """What kind of chain a database holds, from its tables."""
    if "sv_lender" in tables:
        return "supervision"
    if "jc_source" in tables:
        return "judicial"
    if "rk_warning" in tables:
        return "risk"
    if "cr_loan" in tables:
        return "credit"
    if "sc_record" in tables:
        return "service"
    if "ledger_meta" in tables:
        return "ledger"
    return "other"


def ledger_summary(url: str) -> dict[str, Any]:
    """Chain id, role, ledger size, sealed size, blocks and the latest signed checkpoint of a database."""
    from sqlalchemy import inspect

    from chain_sql import open_store

    store = open_store(url)
    try:
        tables = set(inspect(store.read_engine).get_table_names())
        summary: dict[str, Any] = {"role": chain_role(tables)}
        meta = store.meta() if "ledger_meta" in tables else {}
        if meta:
            latest = store.latest_block()
            summary.update(chain_id=meta.get("chain_id"), hash_suite=meta.get("hash_suite"), vkey=meta.get("vkey"),
                           size=store.size(), sealed_size=latest.tree_size if latest else 0,
                           blocks=latest.height + 1 if latest else 0, latest_checkpoint=store.latest_checkpoint())
        return summary
    finally:
        store.close()


# --- SQLite --------------------------------------------------------------------------------------


def sqlite_databases(data_dir: Path) -> list[Path]:
    """Every SQLite database under ``data_dir``, ordered so that anchors are never ahead of what they name:
    mirrors and plain ledgers first, then judicial chains, then supervision chains (a chain is snapshotted
    after the chains it anchors into, so a restored outbox never points past what its judicial copy holds)."""
    found = [p for p in sorted(data_dir.rglob("*.db")) if p.is_file() and _is_sqlite(p)]
    order = {"other": 0, "ledger": 0, "judicial": 1, "supervision": 2, "risk": 2, "credit": 2, "service": 2}
    return sorted(found, key=lambda p: (order[chain_role(_sqlite_tables(p))], str(p)))


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _sqlite_tables(path: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def snapshot_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database through the online backup API, in one step: the
    copy is one read transaction, which in WAL mode never blocks the service's writers."""
    src = sqlite3.connect(str(source), timeout=60)
    dst = sqlite3.connect(str(target))
    try:
        src.execute("PRAGMA busy_timeout=60000")
        src.backup(dst)  # pages=-1: every page in one step, one snapshot
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file; the service turns WAL back on
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the snapshot of {source} fails SQLite's quick_check: {check}")
    finally:
        dst.close()
        src.close()
    os.chmod(target, SECRET_MODE)


# --- PostgreSQL ----------------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """Path of a PostgreSQL client program: the newest /usr/lib/postgresql/*/bin (as scripts/lib/postgres.sh
    looks), else the PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    for bin_dir in versions:
        if os.access(bin_dir / name, os.X_OK):
            return str(bin_dir / name)
    found = shutil.which(name)
    if found:
        return found
    raise BackupError(f"{name} not found (looked in /usr/lib/postgresql/*/bin and PATH): install the PostgreSQL client, "
                      "e.g. apt-get install postgresql-client")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (postgresql+psycopg://…) as libpq wants it (postgresql://…)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise BackupError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _run_pg(args: list[str], what: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def pg_dump(url: str, target: Path) -> None:
    """``pg_dump --format=custom`` of the database at ``url`` (one consistent snapshot, taken while it runs)."""
    _run_pg([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(target),
             "--dbname", libpq_url(url)], "pg_dump")
    os.chmod(target, SECRET_MODE)


def pg_restore(dump: Path, url: str) -> None:
    _run_pg([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
             "--dbname", libpq_url(url), str(dump)], "pg_restore")


# --- files of a data directory ----------------------------------------------------------------------


def data_files(data_dir: Path, databases: list[Path]) -> list[Member]:
    """Every regular file under ``data_dir`` except the databases (snapshotted apart), SQLite side files,
    lock files and half-written temporary files (names starting with a dot)."""
    skip = {p.resolve() for p in databases}
    members = []
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        if (path.is_symlink() or not path.is_file() or path.resolve() in skip or path.name.endswith(SKIP_SUFFIXES)
                or any(part.startswith(".") for part in rel.parts)):
            continue
        members.append(Member(path, rel.as_posix(), path.stat().st_mode & 0o777))
    return members


# --- the archive --------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _host() -> str:
    return socket.gethostname()


def write_archive(out: Path, data_dir: Path, members: list[Member], extra: dict[str, Any],
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write ``members`` and their manifest to ``out`` (made 0600, renamed into place when complete)."""
    entries = []
    for m in members:
        entry = {"path": m.name, "kind": m.kind, "mode": f"{m.mode:04o}", "bytes": m.source.stat().st_size, "sha256": _sha256(m.source)}
        entry.update(m.info)
        entries.append(entry)
    manifest = {"format": FORMAT, "created_ms": int(time.time() * 1000), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": _host(), "data_dir": str(data_dir.resolve()), "members": entries, **extra}
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_MODE)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            blob = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(blob), 0o644, manifest["created_ms"] // 1000
            tar.addfile(info, io.BytesIO(blob))
            for done, m in enumerate(members, 1):
                info = tar.gettarinfo(str(m.source), arcname=m.name)
                info.mode, info.uid, info.gid, info.uname, info.gname = m.mode, 0, 0, "", ""
                with m.source.open("rb") as f:
                    tar.addfile(info, f)
                if progress:
                    progress(done, len(members))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive} is not a readable backup archive: {exc}") from None


def read_manifest(archive: Path) -> dict[str, Any]:
    with _open(archive) as tar:
        try:
            f = tar.extractfile(MANIFEST)
        except KeyError:
            f = None
        if f is None:
            raise BackupError(f"{archive} has no {MANIFEST}: not a fivechains backup")
        manifest = json.loads(f.read())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} is a {manifest.get('format')!r} archive; this fivechains reads {FORMAT}")
    return manifest


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"the archive names an unsafe path {name!r}: refusing it")
    return path


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for info in tar:
        if info.name == MANIFEST:
            continue
        if not info.isfile():
            raise BackupError(f"the archive holds {info.name!r}, which is not a regular file: refusing it")
        _safe_name(info.name)
        yield info


def extract_archive(archive: Path, target: Path, manifest: dict[str, Any],
                    progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Write every member under ``target`` with its recorded mode (never through a link, never outside
    ``target``); return the problems found against the manifest's checksums (empty if none)."""
    expected = {m["path"]: m for m in manifest["members"]}
    seen: set[str] = set()
    problems: list[str] = []
    with _open(archive) as tar:
        for done, info in enumerate(_members(tar), 1):
            dest = target.joinpath(*_safe_name(info.name).parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            mode = int(expected[info.name]["mode"], 8) if info.name in expected else SECRET_MODE
            digest = hashlib.sha256()
            src = tar.extractfile(info)
            assert src is not None
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "wb") as f:
                for chunk in iter(partial(src.read, 1 << 20), b""):
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(dest, mode)
            seen.add(info.name)
            if info.name not in expected:
                problems.append(f"{info.name}: in the archive but not in its manifest")
            elif digest.hexdigest() != expected[info.name]["sha256"]:
                problems.append(f"{info.name}: its SHA-256 differs from the manifest's (changed after the backup)")
            if progress:
                progress(done, len(expected))
    problems += [f"{name}: in the manifest but missing from the archive" for name in sorted(set(expected) - seen)]
    return problems
