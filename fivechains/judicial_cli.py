"""`fivechains judicial …`: run the judicial chain, register source chains, make certificates."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from .chain_dirs import chain_dir_or_fail, locate
from .config_cli import ConfigFile, settings_or_fail
from .output import console, emit_json, fail

judicial_app = typer.Typer(help="Run the judicial chain (司法链).", no_args_is_help=True)
source_app = typer.Typer(help="Source chains allowed to anchor.", no_args_is_help=True)
judicial_app.add_typer(source_app, name="source")

DataDir = Annotated[Path, typer.Option("--data-dir", help="The judicial chain's directory (database and signing key), or the `fivechains up` directory holding it.")]


@judicial_app.command("serve")
def serve_cmd(
    data_dir: DataDir,
    certs: Annotated[Path, typer.Option("--certs", help="Consortium certificates (made here on first use).")],
    port: Annotated[Optional[int], typer.Option(help="gRPC port (mutual TLS) (default: 8500).")] = None,
    witness: Annotated[list[str], typer.Option("--witness", help="URL=VKEY of a witness (repeat).")] = [],  # noqa: B006
    quorum: Annotated[Optional[int], typer.Option(help="Cosignatures needed to publish a checkpoint (default: all witnesses).")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: SQLite in --data-dir); one gRPC process per database.")] = None,
    suite: Annotated[Optional[str], typer.Option("--suite", help="A new chain's suite: ed25519 (Ed25519 + SHA-256, default) or sm2 (SM2 + SM3); an existing chain keeps its own.")] = None,
    config: ConfigFile = None,
) -> None:
    """Serve the cross-chain gRPC service until interrupted."""
    from judicial_chain.server import serve
    from judicial_chain.service import JudicialChain, JudicialConfig

    settings = settings_or_fail(config, {"suite": suite, "judicial": {"data_dir": data_dir, "port": port, "witnesses": list(witness), "quorum": quorum, "db_url": db}})
    jc = settings.judicial
    # an existing chain under the directory given (e.g. the `fivechains up` directory) is served, not a new one beside it
    where = locate(settings.judicial_dir(), "judicial", database=jc.db_url is None) or settings.judicial_dir()
    chain = JudicialChain(JudicialConfig(where, jc.db_url, witnesses=list(jc.witnesses), quorum=jc.quorum,
                                         hash_suite=settings.hash_suite(), key_type=settings.key_type()))
    server = serve(chain, jc.port, certs, host=jc.host)
    port = jc.port
    console.print(f"judicial chain [bold]{chain.config.chain_id}[/] on 127.0.0.1:{port} (gRPC, mutual TLS)\nverifier key: {chain.vkey}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=5).wait()
    chain.close()


@source_app.command("add")
def source_add(
    chain_id: Annotated[str, typer.Argument(help="The source chain's id (its checkpoint origin).")],
    vkey: Annotated[str, typer.Option("--vkey", help="The source chain's verifier key.")],
    data_dir: DataDir,
    create: Annotated[bool, typer.Option("--create", help="Create the judicial chain in --data-dir if it holds none (before its first `serve`).")] = False,
) -> None:
    """Allow a source chain (with this signing key) to anchor."""
    from judicial_chain.service import AnchorError, JudicialChain, JudicialConfig

    where = (locate(data_dir, "judicial") or data_dir) if create else chain_dir_or_fail(data_dir, "judicial")
    chain = JudicialChain(JudicialConfig(where))
    try:
        chain.register_source(chain_id, vkey)
    except AnchorError as exc:
        raise fail(exc.detail) from None
    finally:
        chain.close()
    console.print(f"source [bold]{chain_id}[/] may anchor")


@judicial_app.command("certs")
def certs_cmd(
    certs: Annotated[Path, typer.Option("--certs", help="Where the serving certificates go; the CA's key is kept apart, in ../consortium-ca.")],
    client: Annotated[list[str], typer.Option("--client", help="Make a client certificate for this source chain id.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make the consortium CA, the judicial server certificate and client certificates (keys 0600)."""
    from judicial_chain.certs import client_stem, ensure_consortium

    ca_dir = ensure_consortium(certs, client)
    made = {"ca": str(certs / "ca.pem"), "ca_key_dir": str(ca_dir), "server": str(certs / "judicial-server.pem"),
            "clients": {c: str(certs / f"{client_stem(c)}.pem") for c in client}}
    emit_json(made) if json_out else console.print(f"certificates in {certs}; the CA's private key in {ca_dir} (give it to no server)")


def verify_bundle_cmd(
    bundle: Annotated[Path, typer.Argument(help="An offline proof bundle (.tlog-proof) from the court portal.")],
    pubkey: Annotated[str, typer.Option("--pubkey", help="The judicial chain's verifier key (text, or a file holding it).")],
    record: Annotated[Path | None, typer.Option("--record", help="The evidence file, to check its digest too.")] = None,
    json_record: Annotated[bool, typer.Option("--json-record", help="--record is a JSON record (hashed in RFC 8785 form).")] = False,
    salt: Annotated[str | None, typer.Option("--salt", help="The salt the lender kept with the record.")] = None,
    digest: Annotated[str | None, typer.Option("--digest", help="Or the evidence's digest (hex).")] = None,
    witness: Annotated[list[str], typer.Option("--witness", help="A witness's verifier key (repeat).")] = [],  # noqa: B006
    min_witnesses: Annotated[int, typer.Option("--min-witnesses", help="Cosignatures required from those witnesses.")] = 0,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check a proof bundle offline, with nothing but the judicial chain's public key; exit 1 if it fails."""
    import json as _json

    from chain.errors import ChainError
    from judicial_chain.verification import verify_bundle
    from supervision_chain.records import canonical_json, digest_bytes

    key = Path(pubkey).read_text().strip() if Path(pubkey).is_file() else pubkey
    try:
        if record is not None:
            content = record.read_bytes()
            digest = digest_bytes(canonical_json(_json.loads(content)) if json_record else content, salt)
        facts = verify_bundle(bundle.read_bytes(), key, digest, list(witness), min_witnesses)
    except (ChainError, ValueError, OSError) as exc:
        if json_out:
            emit_json({"ok": False, "error": str(exc)})
            raise typer.Exit(1) from None
        raise fail(f"the bundle does not verify: {exc}", 1) from None
    if json_out:
        emit_json({"ok": True, **facts})
    else:
        console.print(f"[green]verified[/]: deposit by {facts['lender_id']} at {facts['deposit_time_ms']} (supervision index {facts['source_index']}), "
                      f"judicial entry {facts['index']} in the tree of size {facts['tree_size']} of {facts['judicial_chain']}")


judge_app = typer.Typer(help="Judges' accounts for the court portal.", no_args_is_help=True)
judicial_app.add_typer(judge_app, name="judge")


def _judicial_engine(data_dir: Path):  # type: ignore[no-untyped-def]
    from judicial_chain.portal.accounts import create_tables
    from judicial_chain.service import JudicialChain, JudicialConfig

    chain = JudicialChain(JudicialConfig(chain_dir_or_fail(data_dir, "judicial")))  # the running chain's, never a new one
    create_tables(chain.store.engine)
    return chain


@judge_app.command("add")
def judge_add(
    judge_id: Annotated[str, typer.Argument(help="The judge's id, e.g. J001.")],
    name: Annotated[str, typer.Option("--name")],
    data_dir: DataDir,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a judge: prints a one-time password and an API token (shown once, stored only as hashes)."""
    from judicial_chain.portal.accounts import AccountError, add_judge

    chain = _judicial_engine(data_dir)
    try:
        made = add_judge(chain.store.engine, judge_id, name)
    except AccountError as exc:
        raise fail(str(exc)) from None
    finally:
        chain.close()
    if json_out:
        emit_json({"id": made.id, "name": made.name, "password": made.password, "token": made.token})
    else:
        console.print(f"judge [bold]{made.id}[/] ({made.name})\none-time password: {made.password}\nAPI token: {made.token}\n"
                      "(shown once; the password must be changed at first sign-in and expires unused after 72 h)")


@judge_app.command("reset-password")
def judge_reset_password(judge_id: str, data_dir: DataDir, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Issue a new one-time password (forgotten, or the first one expired); it must be changed at sign-in."""
    from judicial_chain.portal.accounts import AccountError, reset_password

    chain = _judicial_engine(data_dir)
    try:
        password = reset_password(chain.store.engine, judge_id)
    except AccountError as exc:
        raise fail(str(exc)) from None
    finally:
        chain.close()
    if json_out:
        emit_json({"id": judge_id, "password": password})
    else:
        console.print(f"judge {judge_id}: new one-time password {password} (shown once; change it at sign-in)")


@judge_app.command("list")
def judge_list(data_dir: DataDir, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List judges."""
    from judicial_chain.portal.accounts import list_judges

    chain = _judicial_engine(data_dir)
    try:
        judges = list_judges(chain.store.engine)
    finally:
        chain.close()
    if json_out:
        emit_json(judges)
    else:
        for j in judges:
            console.print(f"{j['id']}  {j['name']}  {'enabled' if j['enabled'] else '[red]disabled[/]'}")


@judge_app.command("disable")
def judge_disable(judge_id: str, data_dir: DataDir) -> None:
    """Disable a judge: the password and the token stop working."""
    from judicial_chain.portal.accounts import AccountError, disable_judge

    chain = _judicial_engine(data_dir)
    try:
        disable_judge(chain.store.engine, judge_id)
    except AccountError as exc:
        raise fail(str(exc)) from None
    finally:
        chain.close()
    console.print(f"judge {judge_id} disabled")


@judicial_app.command("portal")
def portal_serve(data_dir: DataDir, port: Annotated[Optional[int], typer.Option(help="HTTP port (default: 8600).")] = None,
                 db: Annotated[Optional[str], typer.Option("--db", help="The judicial chain's database URL (default: SQLite in --data-dir).")] = None,
                 service: Annotated[Optional[str], typer.Option("--service", help="The service chain's URL: verdicts then name who holds each loan's claim.")] = None,
                 service_token_file: Annotated[Optional[Path], typer.Option("--service-token-file", help="The service chain's court.token (with --service).")] = None,
                 supervision_chain: Annotated[str, typer.Option("--supervision-chain", help="The supervision chain the service chain follows.")] = "supervision.fivechains.local/gz",
                 config: ConfigFile = None) -> None:
    """Serve the court portal's API (reads the judicial chain in --data-dir or --db)."""
    import uvicorn

    from judicial_chain.portal.api import create_portal_app
    from judicial_chain.portal.holders import ClaimHolders
    from judicial_chain.service import JudicialChain, JudicialConfig

    if bool(service) != bool(service_token_file):
        raise fail("--service and --service-token-file go together (the court's token of the service chain)")
    settings = settings_or_fail(config, {"judicial": {"data_dir": data_dir, "db_url": db}, "portal": {"port": port}})
    where = chain_dir_or_fail(settings.judicial_dir(), "judicial", database=settings.judicial.db_url is None)  # reads a chain, makes none
    chain = JudicialChain(JudicialConfig(where, settings.judicial.db_url))
    portal = settings.portal
    holders = ClaimHolders(service, service_token_file, supervision_chain=supervision_chain) if service and service_token_file else None
    console.print(f"court portal on http://{portal.host}:{portal.port} (API docs /docs)" + (f"; claim holders from {service}" if holders else ""))
    uvicorn.run(create_portal_app(chain, trust_forwarded_proto=portal.trust_forwarded_proto, holders=holders), host=portal.host, port=portal.port,
                log_level="warning")
