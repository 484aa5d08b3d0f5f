"""A running supervision chain with two registered lenders, for the API tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.keys import public_key_bytes
from supervision_chain.client import LenderClient
from supervision_chain.registry import add_lender
from supervision_chain.service import SupervisionConfig, open_supervision_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import SupervisionServer  # noqa: E402


def register(data_dir: Path, lender_id: str) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    store = open_supervision_store(SupervisionConfig(data_dir))
    try:
        add_lender(store.engine, lender_id, f"Lender {lender_id}", f"GZ-{lender_id}", public_key_bytes(key.public_key()))
    finally:
        store.close()
    return key


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SupervisionServer]:
    data_dir = tmp_path / "supervision"
    data_dir.mkdir()
    srv = SupervisionServer(data_dir, "--seal-interval-ms", "100").start()
    yield srv
    srv.stop()


@pytest.fixture
def lenders(server: SupervisionServer) -> dict[str, Ed25519PrivateKey]:
    return {lid: register(server.data_dir, lid) for lid in ("L1", "L2")}


@pytest.fixture
def client(server, lenders) -> Iterator[LenderClient]:
    with LenderClient(server.url, "L1", lenders["L1"]) as c:
        yield c
