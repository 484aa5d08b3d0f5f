"""The cross-link over real gRPC with mutual TLS: what adds up is anchored once; what does
not is refused with the right status code and nothing stored."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chain.block import seal_block
from chain.ledger import Ledger
from chain.merkle import leaf_hash, verify_inclusion
from chain.note import Ed25519NoteSigner, format_vkey
from chain_sql import open_store
from judicial_chain.certs import client_stem, ensure_consortium, issue
from judicial_chain.server import client_channel, serve
from judicial_chain.service import JudicialChain, JudicialConfig
from proto import crosschain_pb2 as pb
from proto import crosschain_pb2_grpc as pb_grpc
from supervision_chain.records import Item, entry_bytes, new_item_salt

from .source_ledger import SOURCE, Source

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import free_port  # noqa: E402


@pytest.fixture
def world(tmp_path: Path):
    certs = tmp_path / "certs"
    ensure_consortium(certs, [SOURCE, "other.test/chain"])
    judicial = JudicialChain(JudicialConfig(tmp_path / "judicial"))
    source = Source(tmp_path / "source.db")
    judicial.register_source(SOURCE, format_vkey(source.signer.verifier()))
    port = free_port()
    server = serve(judicial, port, certs)
    channel = client_channel(f"127.0.0.1:{port}", certs, client_stem(SOURCE))
    yield judicial, source, pb_grpc.CrossChainStub(channel), channel, certs, port
    channel.close()
    server.stop(grace=1).wait()
    judicial.close()
    source.store.close()


def _refused(call, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == code, caught.value.details()
    return caught.value.details()


def test_anchor_is_checked_idempotent_and_provable(world) -> None:
    judicial, source, stub, channel, _, _ = world
    source.add_block(3)
    receipt = stub.Anchor(source.request(0))
    assert receipt.first_source_index == 0 and len(receipt.deposit_codes) == 3 and not receipt.replayed
    again = stub.Anchor(source.request(0))
    assert again.replayed and list(again.deposit_codes) == list(receipt.deposit_codes)
    assert judicial.ledger.sealed_size() == 3  # nothing new stored by the retry
    source.add_block(2)
    second = stub.Anchor(source.request(1))
    assert (second.first_source_index, second.first_judicial_index, len(second.deposit_codes)) == (3, 3, 2)
    # the judicial entry names source, index, digest, lender and deposit time; its proof verifies
    proof = stub.GetInclusionProof(pb.GetInclusionProofRequest(index=4))
    entry = judicial.store.entries(4, 5)[0].data
    assert b'"source":"supervision.test/gz"' in entry and b'"source_index":4' in entry and b'"lender_id":"L1"' in entry and b"commitment" not in entry
    cp = judicial.ledger.latest_checkpoint().checkpoint
    assert verify_inclusion(leaf_hash(entry), 4, proof.tree_size, list(proof.hashes), cp.root)
    assert stub.GetCheckpoint(pb.GetCheckpointRequest()).note.startswith(judicial.config.chain_id + "\n5\n")
    assert list(stub.GetConsistencyProof(pb.GetConsistencyProofRequest(old_size=3)).hashes)
    blocks = stub.StreamBlocks(pb.StreamBlocksRequest(from_height=0))
    first = next(blocks)
    assert first.height == 0 and len(first.entries) == 3
    blocks.cancel()
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="fivechains.crosschain.v1.CrossChain"))
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    assert "fivechains.crosschain.v1.CrossChain" in ProtoReflectionDescriptorDatabase(channel).get_services()


def test_a_cross_link_that_does_not_add_up_is_refused_and_nothing_stored(world) -> None:
    judicial, source, stub, _, _, _ = world
    source.add_block(3)
    source.add_block(2)
    changed = source.request(0)
    changed.entries[1] = changed.entries[1].replace(b'"record_type":"repayment"', b'"record_type":"contract"')
    assert changed.entries[1] != source.request(0).entries[1]
    assert "do not add up" in _refused(lambda: stub.Anchor(changed), grpc.StatusCode.INVALID_ARGUMENT)
    missing = source.request(0)
    del missing.entries[2]
    _refused(lambda: stub.Anchor(missing), grpc.StatusCode.INVALID_ARGUMENT)
    _refused(lambda: stub.Anchor(source.request(1)), grpc.StatusCode.FAILED_PRECONDITION)  # block 0 first
    forged = source.request(0)
    intruder = Ed25519NoteSigner(SOURCE, Ed25519PrivateKey.generate())
    forged.block_header = seal_block(source.ledger.block(0).header, intruder).to_text()
    _refused(lambda: stub.Anchor(forged), grpc.StatusCode.UNAUTHENTICATED)
    wrong_cp = source.request(0)
    wrong_cp.checkpoint = source.store.checkpoint(5)
    _refused(lambda: stub.Anchor(wrong_cp), grpc.StatusCode.INVALID_ARGUMENT)
    assert judicial.ledger.sealed_size() == 0 and judicial.store.size() == 0  # nothing stored by any of them
    stub.Anchor(source.request(0))
    assert judicial.store.size() == 3


def test_a_forked_source_block_is_refused(world, tmp_path) -> None:
    judicial, source, stub, _, _, _ = world
    source.add_block(2)
    stub.Anchor(source.request(0))
    # the same key signs a different block 0: a rewritten history, refused, nothing stored
    fork_store = open_store(tmp_path / "fork.db")
    fork = Ledger.create(fork_store, SOURCE, source.signer)
    now = int(time.time() * 1000)
    fork.append([entry_bytes("L9", Item(f"{99:064x}", "other", "x", now, new_item_salt()), bytes(32), now) for _ in range(2)])
    fork.seal()
    stored = fork_store.block(0)
    forged = pb.AnchorRequest(source_chain_id=SOURCE, block_header=stored.header, checkpoint=fork_store.checkpoint(2),
                              first_index=0, entries=[e.data for e in fork_store.entries(0, 2)])
    assert "different content" in _refused(lambda: stub.Anchor(forged), grpc.StatusCode.FAILED_PRECONDITION)
    assert judicial.store.size() == 2
    fork_store.close()


def test_only_registered_sources_with_their_own_certificate(world, tmp_path) -> None:
    judicial, source, _, _, certs, port = world
    source.add_block(1)
    other = client_channel(f"127.0.0.1:{port}", certs, client_stem("other.test/chain"))
    stub = pb_grpc.CrossChainStub(other)
    assert "certificate" in _refused(lambda: stub.Anchor(source.request(0)), grpc.StatusCode.PERMISSION_DENIED)
    other.close()
    # a certificate from another CA is not accepted at all
    rogue = tmp_path / "rogue"
    issue(rogue, client_stem(SOURCE), SOURCE, server=False, ca_dir=tmp_path / "rogue-ca")  # a CA of its own
    (rogue / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())  # trust the real server, present a rogue client cert
    channel = client_channel(f"127.0.0.1:{port}", rogue, client_stem(SOURCE))
    _refused(lambda: pb_grpc.CrossChainStub(channel).Anchor(source.request(0), timeout=10), grpc.StatusCode.UNAVAILABLE)
    channel.close()
    assert judicial.store.size() == 0
