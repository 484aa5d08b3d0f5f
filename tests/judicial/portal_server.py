"""The court portal for tests: the real app under uvicorn on a free loopback port, in this process,
over a judicial chain on disk (so a test can stop it and start another on the same database)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from servers import free_port  # noqa: E402  (tests/ is on sys.path, see conftest.py)

from chain.note import format_vkey
from judicial_chain.portal.api import create_portal_app
from judicial_chain.service import JudicialChain, JudicialConfig

from .source_ledger import SOURCE, Source


class Portal:
    """`create_portal_app` served by uvicorn in a thread; ``stop`` runs the app's shutdown like a real stop."""

    def __init__(self, data_dir: Path, db_url: str | None = None, **options: Any) -> None:
        self.chain = JudicialChain(JudicialConfig(data_dir, db_url))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_portal_app(self.chain, **options)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def board(self) -> Any:
        return self.app.state.board

    def start(self) -> Portal:
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the portal did not come up")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.chain.close()


def anchor_some(data_dir: Path, source_db: Path, count: int = 4) -> list[str]:
    """Anchor ``count`` supervision entries (digests f"{n:064x}") into the judicial chain in ``data_dir``; their codes."""
    judicial = JudicialChain(JudicialConfig(data_dir))
    source = Source(source_db)
    try:
        judicial.register_source(SOURCE, format_vkey(source.signer.verifier()))
        source.add_block(count)
        return list(judicial.anchor(SOURCE, SOURCE, *source.anchor_args(0)).codes)
    finally:
        judicial.close()
        source.store.close()


def wait_done(url: str, job_id: str, headers: dict[str, str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = httpx.get(f"{url}/v1/verifications/{job_id}", headers=headers, timeout=30).json()
        if view["status"] in ("done", "failed"):
            return view
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {view}")
