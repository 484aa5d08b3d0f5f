"""How the command talks to people and scripts: rich text by default, JSON with --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console()
err_console = Console(stderr=True)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a clear error (never a traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)  # no line breaks inside paths and commands
    return typer.Exit(code)


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool = True) -> Iterator[Any]:
    """A progress bar on stderr; ``update(done, total)`` moves it. Silent when disabled (--json)."""
    if not enabled:
        yield lambda done, total=None: None
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(description, total=total)

        def update(done: int, new_total: int | None = None) -> None:
            progress.update(task, completed=done, total=new_total if new_total is not None else total)

        yield update
