"""A supervision ledger to anchor from, for the judicial tests (real blocks, real signatures)."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.ledger import Ledger
from chain.note import Ed25519NoteSigner
from chain_sql import open_store
from proto import crosschain_pb2 as pb
from supervision_chain.records import Item, commitment, entry_bytes, new_item_salt

SOURCE = "supervision.test/gz"


class Source:
    """Sealed supervision blocks whose entries carry digests f"{n:064x}" for n = 0, 1, 2, …"""

    def __init__(self, path: Path) -> None:
        self.signer = Ed25519NoteSigner(SOURCE, Ed25519PrivateKey.generate())
        self.store = open_store(path)
        self.ledger = Ledger.create(self.store, SOURCE, self.signer)
        self.n = 0
        self.digests: list[str] = []  # digests to use first, before the f"{n:064x}" ones

    def add_block(self, count: int) -> int:
        now = int(time.time() * 1000)
        digests = [self.digests.pop(0) if self.digests else f"{self.n + i:064x}" for i in range(count)]
        items = [Item(d, "repayment", f"loan-{self.n + i}", now, new_item_salt()) for i, d in enumerate(digests)]
        entries = [entry_bytes("L1", item, commitment(item), now) for item in items]
        self.ledger.append(entries)
        self.n += count
        return self.ledger.seal().header.height

    def request(self, height: int) -> pb.AnchorRequest:
        stored = self.store.block(height)
        header = self.ledger.block(height).header
        entries = self.store.entries(header.first_index, header.tree_size)
        return pb.AnchorRequest(source_chain_id=SOURCE, block_header=stored.header, checkpoint=self.store.checkpoint(stored.tree_size),
                                first_index=header.first_index, entries=[e.data for e in entries])


    def anchor_args(self, height: int) -> tuple[str, str, int, list[bytes]]:
        request = self.request(height)
        return request.block_header, request.checkpoint, request.first_index, list(request.entries)
