"""Real servers for tests: `fivechains … serve` in a child process on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SupervisionServer:
    """`fivechains supervision serve` on 127.0.0.1; restartable on the same data directory."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SupervisionServer:
        args = [sys.executable, "-m", "fivechains.cli", "supervision", "serve", "--data-dir", str(self.data_dir),
                "--port", str(self.port), *self.extra]
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {log.name}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not come up within 30 s")

    @property
    def token(self) -> str:
        return (self.data_dir / "regulator.token").read_text().strip()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@contextlib.contextmanager
def fresh_database(admin_url: str, prefix: str = "t") -> Iterator[str]:
    """A new, empty PostgreSQL database on the cluster of ``admin_url`` (a random name); dropped afterwards.

    The admin connection pings before use, so the database is dropped even after a test restarted the server.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class WitnessServer:
    """`fivechains witness serve` on 127.0.0.1 for one log; ``vkey`` is read from what it prints."""

    def __init__(self, data_dir: Path, name: str, log_vkey: str) -> None:
        self.data_dir, self.name, self.log_vkey = data_dir, name, log_vkey
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.vkey = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WitnessServer:
        import re

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir.parent / f"witness-{self.port}.log"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fivechains.cli", "witness", "serve", "--data-dir", str(self.data_dir), "--name", self.name,
                 "--log", self.log_vkey, "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400", "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # up (answers) and its key printed: both
            if self.process.poll() is not None:
                raise RuntimeError(f"the witness exited with {self.process.returncode}; see {log_path}")
            found = re.search(r"verifier key: (\S+)", log_path.read_text())
            try:
                if found and httpx.get(self.url + "/docs", timeout=1).status_code == 200:
                    self.vkey = found.group(1)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the witness did not come up within 30 s; see {log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
