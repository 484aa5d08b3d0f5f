"""Entry point of the `fivechains` command: one verb group per role."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .audit_cli import audit
from .court_cli import court_app
from .demo import run_demo
from .judicial_cli import judicial_app, verify_bundle_cmd
from .ledger_cli import keys_app, ledger_app
from .mirror_cli import mirror
from .supervision_cli import lender_app, regulator_app, supervision_app
from .up_cli import up
from .witness_cli import witness_app

app = typer.Typer(
    name="fivechains",
    help="Five Chains: verifiable supervision and judicial chains for online-lending evidence.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(ledger_app, name="ledger")
app.add_typer(supervision_app, name="supervision")
app.add_typer(regulator_app, name="regulator")
app.add_typer(lender_app, name="lender")
app.add_typer(judicial_app, name="judicial")
app.add_typer(court_app, name="court")
app.command("up")(up)
app.command("verify-bundle")(verify_bundle_cmd)
app.command("audit")(audit)
app.add_typer(witness_app, name="witness")
app.command("mirror")(mirror)


@app.command("demo")
def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the demo ledger lives.")] = Path("data/demo"),
    records: Annotated[int, typer.Option(help="How many sample records to deposit.")] = 5000,
    keep_running: Annotated[bool, typer.Option("--keep-running/--no-keep-running", help="Leave the system up for the browser.")] = False,
) -> None:
    """Show the system working: ledger, deposits and codes, then a case for the court portal."""
    run_demo(data_dir, records, keep_running=keep_running)


if __name__ == "__main__":
    app()
