"""The judicial chain recomputes a source block's root with the source's own tree hash (named in its signed
header), so an SM2 + SM3 supervision chain anchors into an Ed25519 + SHA-256 judicial chain and the reverse."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chain.hashing import suite_by_name
from chain.keys import generate_private_key
from chain.ledger import Ledger
from chain.note import format_vkey, note_signer
from chain_sql import open_store
from judicial_chain.service import JudicialChain, JudicialConfig
from supervision_chain.records import Item, commitment, entry_bytes, new_item_salt

SOURCE = "supervision.mixed.test/gz"


def _source_block(path: Path, key_type: str, hash_suite: str) -> tuple[str, tuple[str, str, int, list[bytes]]]:
    store = open_store(path)
    ledger = Ledger.create(store, SOURCE, note_signer(SOURCE, generate_private_key(key_type)), suite_by_name(hash_suite))
    now = int(time.time() * 1000)
    items = [Item(f"{i:064x}", "repayment", f"loan-{i}", now, new_item_salt()) for i in range(5)]
    ledger.append([entry_bytes("L1", item, commitment(item), now) for item in items])
    height = ledger.seal().header.height
    stored = store.block(height)
    header = ledger.block(height).header
    entries = [e.data for e in store.entries(header.first_index, header.tree_size)]
    return format_vkey(ledger.verifier), (stored.header, store.checkpoint(stored.tree_size), header.first_index, entries)


@pytest.mark.parametrize(("source", "judicial"), [(("sm2", "sm3"), ("ed25519", "sha256")), (("ed25519", "sha256"), ("sm2", "sm3"))])
def test_a_source_of_the_other_suite_anchors(tmp_path: Path, source: tuple[str, str], judicial: tuple[str, str]) -> None:
    vkey, (header, checkpoint, first, entries) = _source_block(tmp_path / "source.db", *source)
    chain = JudicialChain(JudicialConfig(tmp_path / "judicial", key_type=judicial[0], hash_suite=judicial[1]))
    try:
        assert chain.ledger.suite.name == judicial[1]
        chain.register_source(SOURCE, vkey)
        result = chain.anchor(SOURCE, SOURCE, header, checkpoint, first, entries)
        assert len(result.codes) == 5 and result.checkpoint
        again = chain.anchor(SOURCE, SOURCE, header, checkpoint, first, entries)  # the same block again: the same codes
        assert again.replayed and again.codes == result.codes
    finally:
        chain.close()
