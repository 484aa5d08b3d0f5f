"""`fivechains config …`: the effective configuration (flags, FIVECHAINS_* environment, TOML file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .output import console, emit_json, fail
from .settings import Settings, SettingsError, load_settings, masked

config_app = typer.Typer(help="Show or check the configuration the services would start with.", no_args_is_help=True)
ConfigFile = Annotated[Optional[Path], typer.Option("--config", envvar="FIVECHAINS_CONFIG", help="TOML file (or FIVECHAINS_CONFIG).")]


def settings_or_fail(config: Path | None, flags: dict[str, Any]) -> Settings:
    """For the serving commands: the effective settings, every wrong value reported at once; logging set up."""
    from service_kit.observability import configure_logging

    try:
        settings = load_settings(config, flags)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    log = settings.log
    configure_logging(log.level, log.format, log.access)
    os.environ.update({"FIVECHAINS_LOG__LEVEL": log.level, "FIVECHAINS_LOG__FORMAT": log.format,  # worker processes: alike
                       "FIVECHAINS_LOG__ACCESS": str(log.access).lower()})
    return settings


@config_app.command("show")
def show(config: ConfigFile = None, json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the effective configuration, secrets masked; exit 2 with every wrong value if it is not valid."""
    try:
        effective = masked(load_settings(config))
    except SettingsError as exc:
        raise fail(str(exc)) from None
    if json_out:
        emit_json(effective)
        return
    for line in _lines("", effective):
        console.print(line, highlight=False, markup=False)


@config_app.command("check")
def check(config: ConfigFile = None) -> None:
    """Validate the configuration; exit 0 if the services could start with it."""
    try:
        load_settings(config)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    console.print("[green]OK[/] the configuration is valid")


def _lines(prefix: str, value: dict[str, Any]) -> list[str]:
    """TOML-like lines: top-level keys first, then one [section] each."""
    flat = [f"{k} = {v!r}" for k, v in value.items() if not isinstance(v, dict)]
    for section, inner in value.items():
        if isinstance(inner, dict):
            flat += ["", f"[{section}]", *(f"{k} = {v!r}" for k, v in inner.items())]
    return flat
