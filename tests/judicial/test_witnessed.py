"""The judicial chain publishes a checkpoint only with k-of-n witness cosignatures (real witness
servers on loopback), and the proof bundles carry them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chain.errors import ChainError
from chain.note import format_vkey
from judicial_chain.service import JudicialChain, JudicialConfig
from judicial_chain.verification import Evidence, Verifier, verify_bundle

from .source_ledger import SOURCE, Source

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from servers import free_port  # noqa: E402


def _witness(tmp_path: Path, name: str, log_vkey: str) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    log = open(tmp_path / f"{name}.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "witness", "serve", "--data-dir", str(tmp_path / name), "--name", name,
                             "--log", log_vkey, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400", "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    found = None
    for _ in range(600):  # up (answers) and its key printed: both, within 30 s
        log.seek(0)
        found = re.search(r"verifier key: (\S+)", log.read())
        try:
            if found and httpx.get(url + "/docs", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"the witness exited; see {log.name}"
        time.sleep(0.05)
    assert found, f"the witness printed no key; see {log.name}"
    vkey = found.group(1)
    return proc, url, vkey


def test_checkpoints_are_published_with_a_witness_quorum(tmp_path) -> None:
    judicial = JudicialChain(JudicialConfig(tmp_path / "judicial"))
    jvkey = judicial.vkey
    judicial.close()
    witnesses = [_witness(tmp_path, f"witness{i}.test", jvkey) for i in range(2)]
    try:
        specs = [f"{url}={vkey}" for _, url, vkey in witnesses]
        judicial = JudicialChain(JudicialConfig(tmp_path / "judicial", witnesses=specs, quorum=2))
        source = Source(tmp_path / "source.db")
        judicial.register_source(SOURCE, format_vkey(source.signer.verifier()))
        for height in range(2):
            source.add_block(3)
            result = judicial.anchor(SOURCE, SOURCE, *source.anchor_args(height))
        published = judicial.published_checkpoint()
        assert published.checkpoint.size == 6 and len(published.note.signatures) == 3  # the log's and two cosignatures
        bundle = Verifier(judicial).verify([Evidence(result.codes[0], digest=f"{3:064x}")])[0].bundle
        wkeys = [vkey for _, _, vkey in witnesses]
        assert verify_bundle(bundle, jvkey, f"{3:064x}", wkeys, min_witnesses=2)["source_index"] == 3
        with pytest.raises(ChainError):
            verify_bundle(bundle, jvkey, f"{3:064x}", wkeys[:1] + [format_vkey(judicial.signer.verifier())], min_witnesses=2)
        # one witness goes away: the next checkpoint cannot gather the quorum and is not published
        witnesses[1][0].send_signal(signal.SIGTERM)
        witnesses[1][0].wait(timeout=30)
        source.add_block(2)
        judicial.anchor(SOURCE, SOURCE, *source.anchor_args(2))
        assert judicial.ledger.latest_checkpoint().checkpoint.size == 8
        assert judicial.published_checkpoint().checkpoint.size == 6
        judicial.close()
        source.store.close()
    finally:
        for proc, _, _ in witnesses:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
