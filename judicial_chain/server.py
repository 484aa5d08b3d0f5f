"""The judicial chain's gRPC service: thin — identify the peer by its client certificate,
call the chain, map refusals to gRPC status codes. Health checking and reflection are on."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from chain.errors import ChainError
from proto import crosschain_pb2 as pb
from proto import crosschain_pb2_grpc as pb_grpc
from proto.channel import MAX_MESSAGE, client_channel  # noqa: F401  (re-exported for callers of the server module)

from .certs import server_certificate
from .service import AnchorError, JudicialChain
from .stream_limit import StreamLimit

log = logging.getLogger(__name__)
SERVICE = "fivechains.crosschain.v1.CrossChain"
MAX_WORKERS = 16  # the gRPC server's threads
MAX_STREAMS = 8  # StreamBlocks (and reflection) streams at once: the other workers stay free for Anchor and the unary reads
STREAM_SECONDS = 300.0  # a StreamBlocks stream ends (OK) after this long; the client reopens it from the next height


def _peer(context: grpc.ServicerContext) -> str:
    names = context.auth_context().get("x509_common_name") or [b""]
    return names[0].decode()


class CrossChainServicer(pb_grpc.CrossChainServicer):
    def __init__(self, chain: JudicialChain, stream_seconds: float = STREAM_SECONDS) -> None:
        self.chain = chain
        self.stream_seconds = stream_seconds

    def _fail(self, context: grpc.ServicerContext, exc: Exception) -> None:
        if isinstance(exc, AnchorError):
            context.abort(grpc.StatusCode[exc.status], exc.detail)
        if isinstance(exc, ChainError):
            context.abort(grpc.StatusCode.FAILED_PRECONDITION if "not sealed" in str(exc) or "not in the tree" in str(exc)
                          else grpc.StatusCode.UNAVAILABLE, str(exc))
        raise exc

    def Anchor(self, request: pb.AnchorRequest, context: grpc.ServicerContext) -> pb.AnchorReceipt:
        try:
            result = self.chain.anchor(_peer(context), request.source_chain_id, request.block_header, request.checkpoint,
                                       request.first_index, list(request.entries), dict(request.lender_names))
        except (AnchorError, ChainError) as exc:
            self._fail(context, exc)
        return pb.AnchorReceipt(
            source_height=result.source_height, first_source_index=result.first_source_index,
            first_judicial_index=result.first_judicial_index, deposit_codes=result.codes,
            judicial_checkpoint=result.checkpoint, replayed=result.replayed)

    def GetCheckpoint(self, request: Any, context: grpc.ServicerContext) -> pb.Checkpoint:
        try:
            return pb.Checkpoint(note=self.chain.latest_checkpoint_text())
        except (AnchorError, ChainError) as exc:
            self._fail(context, exc)

    def GetInclusionProof(self, request: pb.GetInclusionProofRequest, context: grpc.ServicerContext) -> pb.InclusionProof:
        try:
            proof = self.chain.ledger.inclusion_proof(request.index, request.tree_size or None)
        except ChainError as exc:
            self._fail(context, exc)
        return pb.InclusionProof(index=proof.index, tree_size=proof.tree_size, leaf_hash=proof.leaf_hash, hashes=proof.hashes)

    def GetConsistencyProof(self, request: pb.GetConsistencyProofRequest, context: grpc.ServicerContext) -> pb.ConsistencyProof:
        try:
            proof = self.chain.ledger.consistency_proof(request.old_size, request.new_size or None)
        except ChainError as exc:
            self._fail(context, exc)
        return pb.ConsistencyProof(old_size=proof.old_size, new_size=proof.new_size, hashes=proof.hashes)

    def StreamBlocks(self, request: pb.StreamBlocksRequest, context: grpc.ServicerContext) -> Iterator[pb.Block]:
        """Blocks from ``from_height`` on, waiting for new ones; ends (OK) after ``stream_seconds`` so that no
        follower holds a worker for ever: the follower reopens the stream from the height after its last block."""
        height = request.from_height
        store = self.chain.store
        ends = time.monotonic() + self.stream_seconds
        while context.is_active() and time.monotonic() < ends:
            block = store.block(height)
            if block is None:
                latest = store.latest_block()
                if latest is not None and latest.height > height:  # a hole in storage: say so, never wait for it
                    context.abort(grpc.StatusCode.DATA_LOSS, f"block {height} is missing from the chain's storage")
                with self.chain.sealed:
                    self.chain.sealed.wait(timeout=max(0.0, min(1.0, ends - time.monotonic())))
                continue
            first = block.tree_size - self.chain.ledger.block(height).header.entry_count
            entries = [e.data for e in store.entries(first, block.tree_size)]
            yield pb.Block(height=height, header=block.header, entries=entries)
            height += 1


def serve(chain: JudicialChain, port: int, certs_dir: Path, host: str = "127.0.0.1", *, max_workers: int = MAX_WORKERS,
          max_streams: int = MAX_STREAMS, stream_seconds: float = STREAM_SECONDS) -> grpc.Server:
    """Start the mutual-TLS gRPC server (client certificates signed by the consortium CA required).

    At most ``max_streams`` (< ``max_workers``) streams run at once, each for at most ``stream_seconds``."""
    if not 0 < max_streams < max_workers:
        raise ValueError(f"max_streams ({max_streams}) must leave workers for unary calls (max_workers {max_workers})")
    key_path, cert_path = server_certificate(certs_dir)
    credentials = grpc.ssl_server_credentials(
        [(key_path.read_bytes(), cert_path.read_bytes())], root_certificates=(certs_dir / "ca.pem").read_bytes(), require_client_auth=True)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), interceptors=[StreamLimit(max_streams)],
                         options=[("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)])
    pb_grpc.add_CrossChainServicer_to_server(CrossChainServicer(chain, stream_seconds), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([pb.DESCRIPTOR.services_by_name["CrossChain"].full_name, reflection.SERVICE_NAME, health.SERVICE_NAME], server)
    server.add_secure_port(f"{host}:{port}", credentials)
    server.start()
    return server
