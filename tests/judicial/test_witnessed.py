"""The judicial chain publishes a checkpoint only with k-of-n witness cosignatures (real witness
servers on loopback), and the proof bundles carry them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chain.errors import ChainError
from chain.note import format_vkey
from judicial_chain.service import JudicialChain, JudicialConfig
from judicial_chain.verification import Evidence, Verifier, verify_bundle

from .source_ledger import SOURCE, Source

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from servers import WitnessServer  # noqa: E402


def test_checkpoints_are_published_with_a_witness_quorum(tmp_path) -> None:
    judicial = JudicialChain(JudicialConfig(tmp_path / "judicial"))
    jvkey = judicial.vkey
    judicial.close()
    witnesses = [WitnessServer(tmp_path / f"witness{i}.test", f"witness{i}.test", jvkey) for i in range(2)]
    try:
        for witness in witnesses:
            witness.start()
        specs = [f"{w.url}={w.vkey}" for w in witnesses]
        judicial = JudicialChain(JudicialConfig(tmp_path / "judicial", witnesses=specs, quorum=2))
        source = Source(tmp_path / "source.db")
        judicial.register_source(SOURCE, format_vkey(source.signer.verifier()))
        for height in range(2):
            source.add_block(3)
            result = judicial.anchor(SOURCE, SOURCE, *source.anchor_args(height))
        published = judicial.published_checkpoint()
        assert published.checkpoint.size == 6 and len(published.note.signatures) == 3  # the log's and two cosignatures
        bundle = Verifier(judicial).verify([Evidence(result.codes[0], digest=f"{3:064x}")])[0].bundle
        wkeys = [w.vkey for w in witnesses]
        assert verify_bundle(bundle, jvkey, f"{3:064x}", wkeys, min_witnesses=2)["source_index"] == 3
        with pytest.raises(ChainError):
            verify_bundle(bundle, jvkey, f"{3:064x}", wkeys[:1] + [format_vkey(judicial.signer.verifier())], min_witnesses=2)
        # one witness goes away: the next checkpoint cannot gather the quorum and is not published
        witnesses[1].stop()
        source.add_block(2)
        judicial.anchor(SOURCE, SOURCE, *source.anchor_args(2))
        assert judicial.ledger.latest_checkpoint().checkpoint.size == 8
        assert judicial.published_checkpoint().checkpoint.size == 6
        judicial.close()
        source.store.close()
    finally:
        for witness in witnesses:
            witness.stop()
