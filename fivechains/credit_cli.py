"""`fivechains credit …`: run the credit chain (征信链), and the lenders', the bureau operator's and the regulator's tools.

A lender computes pseudonyms (blinded: the bureau never sees an identifier) and checks an applicant with the
applicant's anchored consent, signing with its key; the bureau's operator prints a borrower's own report and
files disputes; anyone verifies a report offline with the credit chain's public key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .chain_dirs import locate
from .config_cli import ConfigFile, settings_or_fail
from .output import console, fail

credit_app = typer.Typer(help="The credit chain (征信链): pseudonyms, consent-bound multi-head checks, borrowers' reports, disputes.",
                         no_args_is_help=True)

DEFAULT_SERVER = "http://127.0.0.1:8900"


def build_credit_chain(settings: Any, supervision: str | None, supervision_token_file: Path | None, judicial: str | None) -> Any:
    """The credit chain of these settings (used by `credit serve` and `up`)."""
    from credit_chain.config import CreditConfig
    from credit_chain.rules import DEFAULT_RULES, RulesError
    from credit_chain.service import CreditChain

    cr = settings.credit
    folder = locate(settings.credit_dir(), "credit", database=cr.db_url is None) or settings.credit_dir()
    config = CreditConfig(folder, cr.db_url, cr.chain_id, supervision_url=supervision, supervision_token_file=supervision_token_file,
                          feed_interval_ms=cr.feed_interval_ms, seal_interval_ms=cr.seal_interval_ms, judicial_target=judicial,
                          certs_dir=settings.certs() if judicial else None, rules_path=cr.rules or DEFAULT_RULES,
                          evaluations_per_day=cr.evaluations_per_day, hash_suite=settings.hash_suite(), key_type=settings.key_type())
    try:
        return CreditChain(config)
    except RulesError as exc:
        raise fail(f"the rule file cannot be used: {exc}") from None


@credit_app.command("serve")
def serve(
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Database, keys and tokens live here (default: DATA_DIR/credit).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: 8900).")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: SQLite in --data-dir).")] = None,
    supervision: Annotated[Optional[str], typer.Option("--supervision", help="The supervision chain's URL (its report feed).")] = None,
    supervision_token_file: Annotated[Optional[Path], typer.Option("--supervision-token-file", help="The supervision chain's regulator token (the feed's credential).")] = None,
    judicial: Annotated[Optional[str], typer.Option("--judicial", help="HOST:PORT of the judicial chain to anchor sealed blocks to.")] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Consortium certificates (CA and this chain's client certificate).")] = None,
    rules: Annotated[Optional[Path], typer.Option("--rules", help="The bureau's rule file (TOML).")] = None,
    suite: Annotated[Optional[str], typer.Option("--suite", help="A new chain's suite: ed25519 or sm2; an existing chain keeps its own.")] = None,
    config: ConfigFile = None,
) -> None:
    """Serve the credit chain (OpenAPI docs at /docs, pages at /credit/). Flags override FIVECHAINS_* and --config."""
    import uvicorn

    from credit_chain.api import create_app

    settings = settings_or_fail(config, {"certs_dir": certs, "suite": suite, "credit": {"data_dir": data_dir, "host": host, "port": port,
                                                                                        "db_url": db, "rules": rules}})
    if judicial and not settings.certs_dir:
        raise fail("--judicial needs --certs DIR (mutual TLS)")
    if supervision and not supervision_token_file:
        raise fail("--supervision needs --supervision-token-file (the feed is the regulator's)")
    chain = build_credit_chain(settings, supervision, supervision_token_file, judicial)
    cr = settings.credit
    console.print(f"credit chain [bold]{chain.config.chain_id}[/]  http://{cr.host}:{cr.port}  (API docs /docs, pages /credit/)")
    uvicorn.run(create_app(chain), host=cr.host, port=cr.port, log_level="warning", timeout_graceful_shutdown=30)
