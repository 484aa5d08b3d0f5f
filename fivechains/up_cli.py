"""`fivechains up`: the supervision API, the judicial gRPC service, the court portal, the risk, credit and service chains together, on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .config_cli import ConfigFile, settings_or_fail
from .output import console


def suite_label(ledger: object) -> str:
    """"SM2 + SM3" or "Ed25519 + SHA256": a running chain's signatures and tree hash."""
    from chain.note import SM2NoteVerifier

    signatures = "SM2" if isinstance(ledger.verifier, SM2NoteVerifier) else "Ed25519"  # type: ignore[attr-defined]
    return f"{signatures} + {ledger.suite.name.upper()}"  # type: ignore[attr-defined]


def _side_server(app: Any, host: str, port: int, name: str) -> tuple[Any, Any]:
    """A chain's HTTP server in a thread of `up` (the main server owns the signals)."""
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    return server, thread


def up(
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Everything lives under here: supervision/, judicial/, certs/, consortium-ca/ (default: data).")] = None,
    supervision_port: Annotated[Optional[int], typer.Option("--supervision-port", help="Deposit API (HTTP) (default: 8400).")] = None,
    judicial_port: Annotated[Optional[int], typer.Option("--judicial-port", help="Cross-chain service (gRPC, mutual TLS) (default: 8500).")] = None,
    portal_port: Annotated[Optional[int], typer.Option("--portal-port", help="Court portal (HTTP API) (default: 8600).")] = None,
    risk_port: Annotated[Optional[int], typer.Option("--risk-port", help="Risk-control chain (HTTP API and pages) (default: 8800).")] = None,
    credit_port: Annotated[Optional[int], typer.Option("--credit-port", help="Credit chain (HTTP API and pages) (default: 8900).")] = None,
    service_port: Annotated[Optional[int], typer.Option("--service-port", help="Service chain (HTTP API and pages) (default: 9000).")] = None,
    seal_interval_ms: Annotated[Optional[int], typer.Option(help="Seal every T ms (or 10,000 entries) (default: 500).")] = None,
    witness: Annotated[list[str], typer.Option("--witness", help="URL=VKEY of a witness (repeat); checkpoints are then published only when cosigned.")] = [],  # noqa: B006
    quorum: Annotated[Optional[int], typer.Option(help="Cosignatures needed to publish a checkpoint (default: all witnesses).")] = None,
    suite: Annotated[Optional[str], typer.Option("--suite", help="A new chain's suite: ed25519 (Ed25519 + SHA-256, default) or sm2 (SM2 + SM3); an existing chain keeps its own.")] = None,
    config: ConfigFile = None,
) -> None:
    """Run the system: supervision chain → cross-link → judicial chain, keys and certificates made on first start.

    Flags override FIVECHAINS_* variables and the --config file (see `fivechains config show`).
    """
    import uvicorn

    from judicial_chain.certs import ensure_consortium
    from judicial_chain.server import serve
    from judicial_chain.service import JudicialChain, JudicialConfig
    from supervision_chain.api import create_app
    from supervision_chain.service import SupervisionChain, SupervisionConfig

    settings = settings_or_fail(config, {"data_dir": data_dir, "suite": suite, "supervision": {"port": supervision_port, "seal_interval_ms": seal_interval_ms},
                                         "judicial": {"port": judicial_port, "witnesses": list(witness), "quorum": quorum},
                                         "portal": {"port": portal_port}, "risk": {"port": risk_port},
                                         "credit": {"port": credit_port}, "service": {"port": service_port}})
    sv, jc = settings.supervision, settings.judicial
    supervision_port, judicial_port, portal_port = sv.port, jc.port, settings.portal.port
    certs = settings.certs()
    supervision = SupervisionChain(SupervisionConfig(settings.supervision_dir(), sv.db_url, sv.chain_id, sv.seal_entries, sv.seal_interval_ms,
                                                     late_after_ms=sv.late_after_ms, judicial_target=f"127.0.0.1:{judicial_port}", certs_dir=certs,
                                                     hash_suite=settings.hash_suite(), key_type=settings.key_type()))
    credit = None
    credit_url, credit_token = None, None
    if settings.credit.enabled:  # the credit chain follows the same feed, checks consents against it, anchors like it
        from .credit_cli import build_credit_chain

        credit = build_credit_chain(settings, f"http://{sv.host}:{supervision_port}", settings.supervision_dir() / "regulator.token",
                                    f"127.0.0.1:{judicial_port}")
        credit_url, credit_token = f"http://{settings.credit.host}:{settings.credit.port}", credit.config.data_dir / "regulator.token"
    risk = None
    if settings.risk.enabled:  # the risk chain follows the supervision chain's report feed and anchors like it
        from service_kit.data_files import secret_token

        from .risk_cli import build_risk_chain

        secret_token(settings.judicial_dir(), "outcomes.token")  # the portal's, read by the risk chain for failures at court
        risk = build_risk_chain(settings, f"http://{sv.host}:{supervision_port}", settings.supervision_dir() / "regulator.token",
                                f"127.0.0.1:{judicial_port}", f"http://{settings.portal.host}:{portal_port}",
                                settings.judicial_dir() / "outcomes.token", credit_url, credit_token)
    service = None
    if settings.service.enabled:  # the service chain follows the feed's anchored deposits (with their codes), anchors like the others
        from .service_cli import build_service_chain

        service = build_service_chain(settings, f"http://{sv.host}:{supervision_port}", settings.supervision_dir() / "regulator.token",
                                      f"127.0.0.1:{judicial_port}")
    others = [c for c in (risk, credit, service) if c is not None]
    sources = [supervision.config.chain_id] + [c.config.chain_id for c in others]
    ca_dir = ensure_consortium(certs, sources)  # the CA key apart, in ca_dir: the servers read only certs
    judicial = JudicialChain(JudicialConfig(settings.judicial_dir(), jc.db_url, witnesses=list(jc.witnesses), quorum=jc.quorum,
                                            hash_suite=settings.hash_suite(), key_type=settings.key_type()))
    judicial.register_source(supervision.config.chain_id, supervision.vkey)
    for other in others:
        judicial.register_source(other.config.chain_id, other.vkey)
    server = serve(judicial, judicial_port, certs, host=jc.host)
    import threading

    from judicial_chain.portal.api import create_portal_app

    holders = None
    if service:  # the court sees who holds each verified loan's claim (transfers are recorded on the service chain)
        from judicial_chain.portal.holders import ClaimHolders

        holders = ClaimHolders(f"http://{settings.service.host}:{settings.service.port}", service.config.data_dir / "court.token",
                               supervision_chain=supervision.config.chain_id)
    from service_kit.five_views import set_views

    portal_app = create_portal_app(judicial, trust_forwarded_proto=settings.portal.trust_forwarded_proto, holders=holders)
    apps: dict[str, tuple[Any, str, int]] = {"judicial": (portal_app, settings.portal.host, portal_port)}
    if risk:
        from risk_chain.api import create_app as create_risk_app

        apps["risk"] = (create_risk_app(risk), settings.risk.host, settings.risk.port)
    if credit:
        from credit_chain.api import create_app as create_credit_app

        apps["credit"] = (create_credit_app(credit), settings.credit.host, settings.credit.port)
    if service:
        from service_chain.api import create_app as create_service_app

        apps["service"] = (create_service_app(service), settings.service.host, settings.service.port)
    supervision_app = create_app(supervision)
    apps["supervision"] = (supervision_app, sv.host, supervision_port)
    views = {name: f"http://{host}:{port}" for name, (_, host, port) in apps.items()}
    for app, _, _ in apps.values():  # the regulator's pages link the five views
        set_views(app, views)
    portal = uvicorn.Server(uvicorn.Config(portal_app, host=settings.portal.host, port=portal_port, log_level="warning"))
    portal.install_signal_handlers = lambda: None  # the main server owns the signals
    portal_thread = threading.Thread(target=portal.run, name="portal", daemon=True)
    portal_thread.start()
    side = [_side_server(app, host, port, name) for name, (app, host, port) in apps.items() if name in ("risk", "credit", "service")]
    console.print(f"suites            supervision {suite_label(supervision.ledger)}, judicial {suite_label(judicial.ledger)}")
    console.print(f"judicial chain   [bold]{judicial.config.chain_id}[/]  grpcs://{jc.host}:{judicial_port} (mutual TLS, certificates in {certs}; "
                  f"the consortium CA key in {ca_dir}: keep it off serving hosts)")
    console.print(f"supervision chain [bold]{supervision.config.chain_id}[/]  http://{sv.host}:{supervision_port}  (API docs /docs)")
    console.print(f"court portal      http://{settings.portal.host}:{portal_port}  (API docs /docs; judges: fivechains judicial judge add ID --name N --data-dir {settings.judicial_dir()})")
    if risk:
        console.print(f"risk chain        [bold]{risk.config.chain_id}[/]  http://{settings.risk.host}:{settings.risk.port}  "
                      f"(API docs /docs, regulator's pages /risk/; token in {risk.config.data_dir / 'regulator.token'})")
    if credit:
        console.print(f"credit chain      [bold]{credit.config.chain_id}[/]  http://{settings.credit.host}:{settings.credit.port}  "
                      f"(API docs /docs, pages /credit/; tokens in {credit.config.data_dir}: regulator.token, operator.token)")
    if service:
        console.print(f"service chain     [bold]{service.config.chain_id}[/]  http://{settings.service.host}:{settings.service.port}  "
                      f"(API docs /docs, pages /service/; tokens in {service.config.data_dir}: regulator.token, operator.token, court.token)")
    console.print(f"regulator token in {settings.supervision_dir() / 'regulator.token'}")
    try:
        uvicorn.run(supervision_app, host=sv.host, port=supervision_port, log_level="warning", timeout_graceful_shutdown=30)
    finally:
        portal.should_exit = True
        portal_thread.join(timeout=10)
        for side_server, side_thread in side:
            side_server.should_exit = True
        for side_server, side_thread in side:
            side_thread.join(timeout=30)
        server.stop(grace=5).wait()
        judicial.close()
