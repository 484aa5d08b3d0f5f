"""Bearer tokens for commands that talk to a server: from a file or the environment, not the command line.

A token typed as ``--token T`` is visible to every local user in the process list (``ps``, /proc) and stays
in the shell's history. It is still accepted, with a warning; ``--token-file PATH`` or the environment
variable are the ways to pass it. The token itself is never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .output import err_console, fail

__all__ = ["TokenFile", "token_option", "resolve_token"]

TokenFile = Annotated[Optional[Path], typer.Option("--token-file", help="Read the token from this file (keep it mode 0600).")]


def token_option(envvar: str, what: str) -> typer.models.OptionInfo:
    """The ``--token`` option: ``envvar`` is the preferred way, the flag warns."""
    return typer.Option("--token", envvar=envvar, show_envvar=False,
                        help=f"{what} (prefer {envvar} or --token-file: a flag is visible in the process list).")


def resolve_token(ctx: typer.Context, token: str | None, token_file: Path | None, envvar: str) -> str | None:
    """The token from --token-file, the environment or --token (warned about); None if none was given."""
    source = ctx.get_parameter_source("token")  # typer may vendor its own click: compare the enum by name
    from_command_line = token is not None and getattr(source, "name", None) == "COMMANDLINE"
    if token_file is not None:
        if from_command_line:
            raise fail("give either --token-file or --token, not both")
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read the token file {token_file}: {exc.__class__.__name__}") from None
        if not token:
            raise fail(f"the token file {token_file} is empty")
        return token
    if from_command_line:
        err_console.print(f"[yellow]warning:[/] a token given with --token is visible to other users in the process list and is kept "
                          f"in your shell history; use --token-file PATH or the {envvar} environment variable instead", highlight=False, soft_wrap=True)
    return token or None
