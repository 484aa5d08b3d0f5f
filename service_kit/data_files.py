"""Secrets a service keeps in its data directory — tokens made once, 0600, complete before anyone can read
them — and the lock that lets processes starting together share them."""

from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["secret_token", "data_dir_lock"]


def secret_token(data_dir: Path, name: str) -> str:
    """The token in ``data_dir/name``, made on first use (random, 0600, written whole, never replaced)."""
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w") as f:  # mkstemp made it 0600
                f.write(secrets.token_urlsafe(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # atomic, and never replaces a token another process made first
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


@contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the data directory while keys are made (processes starting together)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / ".init.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
