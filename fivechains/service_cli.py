"""`fivechains service …`: run the service chain (服务链), and the lenders', funders' and buyers', operator's and regulator's tools.

A lender sends a pool of loans (records with their deposit codes), certifies it and proposes a pledge or transfer;
the funder or buyer accepts or releases; anyone checks a pool certificate and a loan's proof offline with the
service chain's public key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .chain_dirs import locate
from .config_cli import ConfigFile, settings_or_fail
from .output import console, fail

service_app = typer.Typer(help="The service chain (服务链): pool certificates, the pledge registry, transfers of loans.", no_args_is_help=True)

DEFAULT_SERVER = "http://127.0.0.1:8700"


def build_service_chain(settings: Any, supervision: str | None, supervision_token_file: Path | None, judicial: str | None) -> Any:
    """The service chain of these settings (used by `service serve` and `up`)."""
    from service_chain.config import ServiceConfig
    from service_chain.rules import DEFAULT_RULES, RulesError
    from service_chain.service import ServiceChain

    sc = settings.service
    folder = locate(settings.service_dir(), "service", database=sc.db_url is None) or settings.service_dir()
    config = ServiceConfig(folder, sc.db_url, sc.chain_id, supervision_url=supervision, supervision_token_file=supervision_token_file,
                           feed_interval_ms=sc.feed_interval_ms, seal_interval_ms=sc.seal_interval_ms, judicial_target=judicial,
                           certs_dir=settings.certs() if judicial else None, rules_path=sc.rules or DEFAULT_RULES,
                           hash_suite=settings.hash_suite(), key_type=settings.key_type())
    try:
        return ServiceChain(config)
    except RulesError as exc:
        raise fail(f"the rule file cannot be used: {exc}") from None


@service_app.command("serve")
def serve(
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Database, keys and tokens live here (default: DATA_DIR/service).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: 8700).")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: SQLite in --data-dir).")] = None,
    supervision: Annotated[Optional[str], typer.Option("--supervision", help="The supervision chain's URL (its report feed).")] = None,
    supervision_token_file: Annotated[Optional[Path], typer.Option("--supervision-token-file", help="The supervision chain's regulator token (the feed's credential).")] = None,
    judicial: Annotated[Optional[str], typer.Option("--judicial", help="HOST:PORT of the judicial chain to anchor sealed blocks to.")] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Consortium certificates (CA and this chain's client certificate).")] = None,
    rules: Annotated[Optional[Path], typer.Option("--rules", help="The platform's rule file (TOML).")] = None,
    suite: Annotated[Optional[str], typer.Option("--suite", help="A new chain's suite: ed25519 or sm2; an existing chain keeps its own.")] = None,
    config: ConfigFile = None,
) -> None:
    """Serve the service chain (OpenAPI docs at /docs, pages at /service/). Flags override FIVECHAINS_* and --config."""
    import uvicorn

    from service_chain.api import create_app

    settings = settings_or_fail(config, {"certs_dir": certs, "suite": suite, "service": {"data_dir": data_dir, "host": host, "port": port,
                                                                                         "db_url": db, "rules": rules}})
    if judicial and not settings.certs_dir:
        raise fail("--judicial needs --certs DIR (mutual TLS)")
    if supervision and not supervision_token_file:
        raise fail("--supervision needs --supervision-token-file (the feed is the regulator's)")
    chain = build_service_chain(settings, supervision, supervision_token_file, judicial)
    sc = settings.service
    console.print(f"service chain [bold]{chain.config.chain_id}[/]  http://{sc.host}:{sc.port}  (API docs /docs, pages /service/)")
    uvicorn.run(create_app(chain), host=sc.host, port=sc.port, log_level="warning", timeout_graceful_shutdown=30)
