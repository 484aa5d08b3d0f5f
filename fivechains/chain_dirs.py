"""Where a chain lives inside a ``--data-dir``: the chain's own directory, or the `fivechains up` directory holding it.

`fivechains up --data-dir DATA` keeps each chain in a subdirectory (DATA/supervision, DATA/judicial). A command
given DATA must act on the chain in DATA/supervision, never open (and so create) an empty database beside it
and report success. Only the commands that create chains (``ledger init``, ``up``, the ``serve`` verbs) may be
given a directory with no chain; every other command resolves its directory here and refuses one with no chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .output import fail
from .settings import CHAIN_SUBDIRS

__all__ = ["DATABASES", "KEY_FILE", "ChainKind", "NoChainHere", "chain_dir", "chain_dir_or_fail", "holds_any_chain", "locate"]

ChainKind = Literal["supervision", "judicial", "risk", "credit", "service", "ledger"]
DATABASES: dict[str, str] = {"supervision": "supervision.db", "judicial": "judicial.db", "risk": "risk.db", "credit": "credit.db", "service": "service.db",
                            "ledger": "ledger.db"}
KEY_FILE = "signer.key"  # every chain's signing key; the only file a chain on PostgreSQL keeps in its directory
CREATE_HINT = {
    "supervision": "fivechains up --data-dir {dir} (or fivechains supervision serve --data-dir {dir})",
    "judicial": "fivechains up --data-dir {dir} (or fivechains judicial serve --data-dir {dir} --certs CERTS)",
    "risk": "fivechains up --data-dir {dir} (or fivechains risk serve --data-dir {dir} --supervision URL)",
    "credit": "fivechains up --data-dir {dir} (or fivechains credit serve --data-dir {dir} --supervision URL)",
    "service": "fivechains up --data-dir {dir} (or fivechains service serve --data-dir {dir} --supervision URL)",
    "ledger": "fivechains ledger init --data-dir {dir} --chain-id ID",
}


class NoChainHere(ValueError):
    """The directory holds no chain of the kind asked for (neither itself nor its `up` subdirectory)."""


def _marker(kind: str, database: bool) -> str:
    """The file that says a directory holds the chain: its SQLite database, or (for a chain whose database
    is elsewhere, given by --db) its signing key."""
    return DATABASES[kind] if database else KEY_FILE


def locate(given: Path, kind: str, *, database: bool = True) -> Path | None:
    """The directory of the ``kind`` chain: ``given`` itself, or its `up` subdirectory; None if neither holds one."""
    candidates = [given] + ([given / CHAIN_SUBDIRS[kind]] if kind in CHAIN_SUBDIRS else [])
    marker = _marker(kind, database)
    return next((c for c in candidates if (c / marker).is_file()), None)


def chain_dir(given: Path, kind: str, *, database: bool = True) -> Path:
    """Like :func:`locate`, but a directory without the chain is an error naming what was looked for."""
    found = locate(given, kind, database=database)
    if found is not None:
        return found
    marker = _marker(kind, database)
    looked = [given / marker] + ([given / CHAIN_SUBDIRS[kind] / marker] if kind in CHAIN_SUBDIRS else [])
    raise NoChainHere(f"no {kind} chain in {given}: expected {' or '.join(str(p) for p in looked)}. "
                      f"Nothing was created. Give the chain's directory or the `fivechains up` directory holding it; "
                      f"to start a new chain: {CREATE_HINT[kind].format(dir=given)}")


def chain_dir_or_fail(given: Path, kind: str, *, database: bool = True) -> Path:
    """For commands: :func:`chain_dir`, or exit 2 with its message."""
    try:
        return chain_dir(given, kind, database=database)
    except NoChainHere as exc:
        raise fail(str(exc)) from None


def holds_any_chain(given: Path) -> bool:
    """Whether ``given`` (or an `up` subdirectory of it) holds any chain: a database or a signing key."""
    places = [given, *(given / sub for sub in CHAIN_SUBDIRS.values())]
    return any((p / name).is_file() for p in places for name in (*DATABASES.values(), KEY_FILE))

