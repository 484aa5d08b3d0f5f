"""`fivechains judicial …`: run the judicial chain, register source chains, make certificates."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from .output import console, emit_json, fail

judicial_app = typer.Typer(help="Run the judicial chain (司法链).", no_args_is_help=True)
source_app = typer.Typer(help="Source chains allowed to anchor.", no_args_is_help=True)
judicial_app.add_typer(source_app, name="source")

DataDir = Annotated[Path, typer.Option("--data-dir", help="The judicial chain's database and signing key.")]


@judicial_app.command("serve")
def serve_cmd(
    data_dir: DataDir,
    certs: Annotated[Path, typer.Option("--certs", help="Consortium certificates (made here on first use).")],
    port: Annotated[int, typer.Option(help="gRPC port (mutual TLS).")] = 8500,
) -> None:
    """Serve the cross-chain gRPC service until interrupted."""
    from judicial_chain.server import serve
    from judicial_chain.service import JudicialChain, JudicialConfig

    chain = JudicialChain(JudicialConfig(data_dir))
    server = serve(chain, port, certs)
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
) -> None:
    """Allow a source chain (with this signing key) to anchor."""
    from judicial_chain.service import AnchorError, JudicialChain, JudicialConfig

    chain = JudicialChain(JudicialConfig(data_dir))
    try:
        chain.register_source(chain_id, vkey)
    except AnchorError as exc:
        raise fail(exc.detail) from None
    finally:
        chain.close()
    console.print(f"source [bold]{chain_id}[/] may anchor")


@judicial_app.command("certs")
def certs_cmd(
    certs: Annotated[Path, typer.Option("--certs", help="Where the consortium CA and certificates live.")],
    client: Annotated[list[str], typer.Option("--client", help="Make a client certificate for this source chain id.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make the consortium CA, the judicial server certificate and client certificates (keys 0600)."""
    from judicial_chain.certs import client_stem, ensure_consortium

    ensure_consortium(certs, client)
    made = {"ca": str(certs / "ca.pem"), "server": str(certs / "judicial-server.pem"),
            "clients": {c: str(certs / f"{client_stem(c)}.pem") for c in client}}
    emit_json(made) if json_out else console.print(f"certificates in {certs}")
