"""`fivechains up`: the supervision API and the judicial gRPC service together, on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .output import console


def up(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Everything lives under here: supervision/, judicial/, certs/.")],
    supervision_port: Annotated[int, typer.Option("--supervision-port", help="Deposit API (HTTP).")] = 8400,
    judicial_port: Annotated[int, typer.Option("--judicial-port", help="Cross-chain service (gRPC, mutual TLS).")] = 8500,
    portal_port: Annotated[int, typer.Option("--portal-port", help="Court portal (HTTP API).")] = 8600,
    seal_interval_ms: Annotated[int, typer.Option(help="Seal every T ms (or 10,000 entries).")] = 500,
    witness: Annotated[list[str], typer.Option("--witness", help="URL=VKEY of a witness (repeat); checkpoints are then published only when cosigned.")] = [],  # noqa: B006
    quorum: Annotated[int, typer.Option(help="Cosignatures needed to publish a checkpoint (default: all witnesses).")] = 0,
) -> None:
    """Run the system: supervision chain → cross-link → judicial chain, keys and certificates made on first start."""
    import uvicorn

    from judicial_chain.certs import ensure_consortium
    from judicial_chain.server import serve
    from judicial_chain.service import JudicialChain, JudicialConfig
    from supervision_chain.api import create_app
    from supervision_chain.service import SupervisionChain, SupervisionConfig

    certs = data_dir / "certs"
    supervision = SupervisionChain(SupervisionConfig(data_dir / "supervision", seal_interval_ms=seal_interval_ms,
                                                     judicial_target=f"127.0.0.1:{judicial_port}", certs_dir=certs))
    ensure_consortium(certs, [supervision.config.chain_id])
    judicial = JudicialChain(JudicialConfig(data_dir / "judicial", witnesses=list(witness), quorum=quorum))
    judicial.register_source(supervision.config.chain_id, supervision.vkey)
    server = serve(judicial, judicial_port, certs)
    import threading

    from judicial_chain.portal.api import create_portal_app

    portal = uvicorn.Server(uvicorn.Config(create_portal_app(judicial), host="127.0.0.1", port=portal_port, log_level="warning"))
    portal.install_signal_handlers = lambda: None  # the main server owns the signals
    portal_thread = threading.Thread(target=portal.run, name="portal", daemon=True)
    portal_thread.start()
    console.print(f"judicial chain   [bold]{judicial.config.chain_id}[/]  grpcs://127.0.0.1:{judicial_port} (mutual TLS, certificates in {certs})")
    console.print(f"supervision chain [bold]{supervision.config.chain_id}[/]  http://127.0.0.1:{supervision_port}  (API docs /docs)")
    console.print(f"court portal      http://127.0.0.1:{portal_port}  (API docs /docs; judges: fivechains judicial judge add ID --name N --data-dir {data_dir / 'judicial'})")
    console.print(f"regulator token in {data_dir / 'supervision' / 'regulator.token'}")
    try:
        uvicorn.run(create_app(supervision), host="127.0.0.1", port=supervision_port, log_level="warning", timeout_graceful_shutdown=30)
    finally:
        portal.should_exit = True
        portal_thread.join(timeout=10)
        server.stop(grace=5).wait()
        judicial.close()
