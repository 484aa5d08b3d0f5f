"""`fivechains ledger …` and `fivechains keys …`: run and inspect one ledger from the shell.

A ledger's data directory holds ``ledger.db`` (unless ``--db`` names another database)
and the chain's signing key ``signer.key`` (mode 0600) with ``signer.key.pub``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from chain.audit import AuditReport, audit_ledger
from chain.errors import ChainError
from chain.hashing import suite_by_name
from chain.keys import CHAIN_SUITES, KEY_TYPES, chain_suite, generate_keypair, load_private_key
from chain.ledger import Ledger
from chain.merkle import leaf_hash
from chain.note import NoteSigner, NoteVerifier, SM2NoteVerifier, format_vkey, note_signer, parse_vkey
from chain.tlog_proof import format_tlog_proof, parse_tlog_proof, verify_tlog_proof
from chain_sql import open_store

from .chain_dirs import DATABASES, KEY_FILE, chain_dir_or_fail
from .output import console, emit_json, fail, progress_bar

ledger_app = typer.Typer(help="Create, append to, seal, prove and audit one ledger.", no_args_is_help=True)
keys_app = typer.Typer(help="Ed25519 or SM2 key files (private key 0600 PKCS#8 PEM, public key beside it).", no_args_is_help=True)

DataDir = Annotated[Path, typer.Option("--data-dir", help="The ledger's directory (database and signing key).")]
DbUrl = Annotated[Optional[str], typer.Option("--db", help="Database URL; default: an SQLite file in --data-dir.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]
Suite = Annotated[Optional[str], typer.Option("--suite", help=f"A new chain's suite: {' or '.join(CHAIN_SUITES)} (SM2 keys with SM3 trees); "
                                              "an existing chain keeps its own (default: ed25519).")]

DB_FILE = DATABASES["ledger"]


def _store(data_dir: Path, db: str | None):
    return open_store(db or data_dir / DB_FILE)


def _existing_store(data_dir: Path, db: str | None):
    """The ledger's store; a directory without one is refused, never given a new empty database."""
    return _store(chain_dir_or_fail(data_dir, "ledger", database=db is None), db)


def _signer(data_dir: Path, name: str) -> NoteSigner:
    return note_signer(name, load_private_key(data_dir / KEY_FILE))


def open_ledger(data_dir: Path, db: str | None = None, *, sealing: bool = False) -> Ledger:
    """Open the ledger in ``data_dir``; with ``sealing`` also load its signing key."""
    store = _existing_store(data_dir, db)
    meta = store.meta()
    if not meta:
        store.close()
        raise fail(f"no ledger in {data_dir} (run: fivechains ledger init --data-dir {data_dir} --chain-id ID)")
    return Ledger(store, signer=_signer(data_dir, meta["chain_id"]) if sealing else None)


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option("--out", help="Private key file to write (0600); the public key goes to FILE.pub.")],
    name: Annotated[Optional[str], typer.Option("--name", help="Key name, to print the signed-note verifier key.")] = None,
    key_type: Annotated[str, typer.Option("--type", help=f"Key type: {' or '.join(KEY_TYPES)} (SM2: GB/T 32918 with SM3).")] = "ed25519",
    json_out: JsonOut = False,
) -> None:
    """Generate an Ed25519 or SM2 key pair."""
    try:
        private, _public = generate_keypair(out, key_type.lower())
    except ChainError as exc:
        raise fail(str(exc)) from None
    result = {"private_key": str(out), "public_key": str(out) + ".pub", "type": key_type.lower()}
    if name:
        result["vkey"] = format_vkey(note_signer(name, private).verifier())
    if json_out:
        emit_json(result)
    else:
        console.print(f"wrote [bold]{out}[/] (private, mode 0600) and [bold]{out}.pub[/]")
        if name:
            console.print(f"verifier key: {result['vkey']}")


@ledger_app.command("init")
def ledger_init(
    data_dir: DataDir,
    chain_id: Annotated[str, typer.Option("--chain-id", help="Origin of the chain's checkpoints, e.g. supervision.example/gz.")],
    hash_suite: Annotated[Optional[str], typer.Option("--hash-suite", help="sha256 or sm3 (default: the --suite's).")] = None,
    suite_name: Suite = None,
    db: DbUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Create a ledger (and its signing key, on first use: an existing key file keeps its type)."""
    try:
        key_type, default_hash = chain_suite(suite_name or "ed25519")
        suite = suite_by_name(hash_suite or default_hash)
        data_dir.mkdir(parents=True, exist_ok=True)
        key_file = data_dir / KEY_FILE
        if not key_file.exists():
            generate_keypair(key_file, key_type)
        ledger = Ledger.create(_store(data_dir, db), chain_id, _signer(data_dir, chain_id), suite)
    except (ChainError, ValueError) as exc:
        raise fail(str(exc)) from None
    vkey = format_vkey(ledger.verifier)
    if json_out:
        emit_json({"chain_id": chain_id, "hash_suite": suite.name, "vkey": vkey, "data_dir": str(data_dir)})
    else:
        console.print(f"ledger [bold]{chain_id}[/] ({suite.name}) ready in {data_dir}\nverifier key: {vkey}")


@ledger_app.command("append")
def ledger_append(
    data_dir: DataDir,
    files: Annotated[Optional[list[Path]], typer.Argument(help="Files; each file's bytes are one entry.")] = None,
    lines: Annotated[Optional[Path], typer.Option("--lines", help="A text file; each non-empty line is one entry.")] = None,
    db: DbUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Append entries durably (they are proved once sealed)."""
    entries = [f.read_bytes() for f in files or []]
    if lines:
        entries += [line for line in lines.read_bytes().split(b"\n") if line]
    if not entries:
        raise fail("nothing to append: give files or --lines FILE")
    ledger = open_ledger(data_dir, db)
    result = ledger.append(entries)
    last = result.first_index + len(entries) - 1
    if json_out:
        emit_json({"first_index": result.first_index, "count": len(entries), "leaf_hashes": [h.hex() for h in result.leaf_hashes]})
    else:
        console.print(f"appended {len(entries)} entries as {result.first_index}–{last}")


@ledger_app.command("seal")
def ledger_seal(data_dir: DataDir, db: DbUrl = None, json_out: JsonOut = False) -> None:
    """Seal every appended entry into a signed block and checkpoint."""
    try:
        block = open_ledger(data_dir, db, sealing=True).seal()
    except ChainError as exc:
        raise fail(str(exc)) from None
    if block is None:
        result = {"sealed": False}
    else:
        h = block.header
        result = {"sealed": True, "height": h.height, "tree_size": h.tree_size, "entries": h.entry_count, "root": h.root.hex()}
    if json_out:
        emit_json(result)
    elif block is None:
        console.print("nothing to seal")
    else:
        console.print(f"sealed block {result['height']}: {result['entries']} entries, tree size {result['tree_size']}")


@ledger_app.command("checkpoint")
def ledger_checkpoint(data_dir: DataDir, db: DbUrl = None) -> None:
    """Print the latest signed checkpoint (C2SP tlog-checkpoint)."""
    cp = open_ledger(data_dir, db).latest_checkpoint()
    if cp is None:
        raise fail("nothing sealed yet")
    typer.echo(cp.to_text(), nl=False)


@ledger_app.command("prove")
def ledger_prove(
    index: Annotated[int, typer.Argument(help="Entry index.")],
    data_dir: DataDir,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the proof here (default: print it).")] = None,
    db: DbUrl = None,
) -> None:
    """Write an offline proof of one entry (C2SP tlog-proof) against the latest checkpoint."""
    ledger = open_ledger(data_dir, db)
    cp = ledger.latest_checkpoint()
    if cp is None:
        raise fail("nothing sealed yet")
    try:
        proof = ledger.inclusion_proof(index, cp.checkpoint.size)
    except ChainError as exc:
        raise fail(str(exc)) from None
    text = format_tlog_proof(index, proof.hashes, cp.to_text())
    if out:
        out.write_text(text)
        console.print(f"wrote the proof of entry {index} to {out}")
    else:
        typer.echo(text, nl=False)


@ledger_app.command("verify-proof")
def ledger_verify_proof(
    proof_file: Annotated[Path, typer.Argument(help="A .tlog-proof file.")],
    entry: Annotated[Path, typer.Option("--entry", help="The entry's bytes, as a file.")],
    vkey: Annotated[str, typer.Option("--vkey", help="The log's verifier key (text or a file holding it).")],
    hash_suite: Annotated[Optional[str], typer.Option("--hash-suite", help="sha256 or sm3 (default: sm3 for an SM2 key, else sha256).")] = None,
    json_out: JsonOut = False,
) -> None:
    """Check a proof offline, with nothing but the log's public key."""
    try:
        verifier = parse_vkey(Path(vkey).read_text().strip() if Path(vkey).is_file() else vkey)
        suite = suite_by_name(hash_suite or ("sm3" if isinstance(verifier, SM2NoteVerifier) else "sha256"))
        proof = parse_tlog_proof(proof_file.read_bytes())
        signed = verify_tlog_proof(proof, leaf_hash(entry.read_bytes(), suite), verifier, suite=suite)
    except (ChainError, ValueError, OSError) as exc:
        if json_out:
            emit_json({"ok": False, "error": str(exc)})
            raise typer.Exit(1) from None
        raise fail(f"proof rejected: {exc}", 1) from None
    cp = signed.checkpoint
    if json_out:
        emit_json({"ok": True, "origin": cp.origin, "index": proof.index, "tree_size": cp.size})
    else:
        console.print(f"[green]verified[/]: entry {proof.index} is in {cp.origin} at tree size {cp.size}")


def print_audit(report: AuditReport, json_out: bool) -> None:
    if json_out:
        emit_json(report.to_dict())
        return
    if report.ok:
        console.print(f"[green]OK[/] {report.chain}: {report.blocks} blocks, {report.entries} entries, sealed size {report.sealed_size}")
        return
    console.print(f"[bold red]FAILED[/] {report.chain}: {len(report.findings) + report.omitted} finding(s)")
    for f in report.findings:
        console.print(f"  • {f}")
    if report.omitted:
        console.print(f"  … and {report.omitted} more")


@ledger_app.command("audit")
def ledger_audit(
    data_dir: DataDir,
    vkey: Annotated[Optional[str], typer.Option("--vkey", help="Trusted verifier key (text or file); default: the one in the database.")] = None,
    db: DbUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Re-verify the ledger from its raw rows; exit 1 naming every block and entry that breaks."""
    store = _existing_store(data_dir, db)
    if not store.meta():
        store.close()
        raise fail(f"no ledger in {data_dir}")
    verifier: NoteVerifier | None = None
    if vkey:
        verifier = parse_vkey(Path(vkey).read_text().strip() if Path(vkey).is_file() else vkey)  # type: ignore[assignment]
    with progress_bar("auditing", None, enabled=not json_out) as update:
        report = audit_ledger(store, verifier, progress=update)
    print_audit(report, json_out)
    if not report.ok:
        raise typer.Exit(1)
