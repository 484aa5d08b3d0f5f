"""Entry point of the `fivechains` command: one verb group per role."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

# verb → (module, attribute): a role's module (and its web, database or RPC libraries) is
# imported only when that verb runs, so a quick command such as an incremental audit starts fast.
ROLES: dict[str, tuple[str, str]] = {
    "keys": ("fivechains.ledger_cli", "keys_app"),
    "ledger": ("fivechains.ledger_cli", "ledger_app"),
    "supervision": ("fivechains.supervision_cli", "supervision_app"),
    "regulator": ("fivechains.supervision_cli", "regulator_app"),
    "lender": ("fivechains.supervision_cli", "lender_app"),
    "judicial": ("fivechains.judicial_cli", "judicial_app"),
    "court": ("fivechains.court_cli", "court_app"),
    "risk": ("fivechains.risk_cli", "risk_app"),
    "credit": ("fivechains.credit_cli", "credit_app"),
    "service": ("fivechains.service_cli", "service_app"),
    "up": ("fivechains.up_cli", "up"),
    "verify-bundle": ("fivechains.judicial_cli", "verify_bundle_cmd"),
    "audit": ("fivechains.audit_cli", "audit"),
    "witness": ("fivechains.witness_cli", "witness_app"),
    "mirror": ("fivechains.mirror_cli", "mirror"),
    "config": ("fivechains.config_cli", "config_app"),
    "backup": ("fivechains.backup_cli", "backup_app"),
    "db": ("fivechains.db_cli", "db_app"),
}


class LazyRoles(TyperGroup):
    """The root command: lists every verb, imports a verb's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*ROLES, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in ROLES:
            return super().get_command(ctx, name)
        module, attribute = ROLES[name]
        target: Any = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            command: click.Command = typer.main.get_group(target)
        else:
            single = typer.Typer(add_completion=False)
            single.command(name)(target)
            command = typer.main.get_command(single)
        command.name = name
        return command


app = typer.Typer(
    name="fivechains",
    cls=LazyRoles,
    help="Five Chains: verifiable supervision and judicial chains for online-lending evidence.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def roles() -> None:
    """Five Chains: verifiable supervision and judicial chains for online-lending evidence."""


@app.command("demo")
def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the demo ledger lives.")] = Path("data/demo"),
    records: Annotated[int, typer.Option(help="How many sample records to deposit.")] = 5000,
    keep_running: Annotated[bool, typer.Option("--keep-running/--no-keep-running", help="Leave the system up for the browser.")] = False,
    suite: Annotated[str, typer.Option("--suite", help="ed25519 (Ed25519 + SHA-256) or sm2 (SM2 + SM3, 国密) for every chain and the lender.")] = "ed25519",
) -> None:
    """Show the system working: ledger, deposits and codes, then a case for the court portal."""
    from .demo import run_demo

    if suite not in ("ed25519", "sm2"):
        raise typer.BadParameter("--suite is ed25519 or sm2")
    run_demo(data_dir, records, keep_running=keep_running, suite=suite)


if __name__ == "__main__":
    app()
