"""StreamBlocks followers cannot hold every gRPC worker: streams over the cap are refused with
RESOURCE_EXHAUSTED, streams end after a bounded time, and unary calls are answered all along."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from judicial_chain.certs import client_stem, ensure_consortium
from judicial_chain.server import client_channel, serve
from judicial_chain.service import JudicialChain, JudicialConfig
from proto import crosschain_pb2 as pb
from proto import crosschain_pb2_grpc as pb_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import free_port  # noqa: E402

MEMBER = "mirror.test/member"
WORKERS, STREAMS = 4, 3  # as many streams as leave one worker: without the cap a fourth stream would take it


def _world(tmp_path: Path, stream_seconds: float) -> Iterator[tuple[JudicialChain, pb_grpc.CrossChainStub, int]]:
    certs = tmp_path / "certs"
    ensure_consortium(certs, [MEMBER])
    judicial = JudicialChain(JudicialConfig(tmp_path / "judicial"))
    judicial.ledger.append([b"entry-0", b"entry-1"])
    judicial.ledger.seal()  # block 0 and a checkpoint to serve
    server = serve(judicial, port := free_port(), certs, max_workers=WORKERS, max_streams=STREAMS, stream_seconds=stream_seconds)
    channel = client_channel(f"127.0.0.1:{port}", certs, client_stem(MEMBER))
    yield judicial, pb_grpc.CrossChainStub(channel), port
    channel.close()
    server.stop(grace=1).wait()
    judicial.close()


@pytest.fixture
def world(tmp_path: Path):
    yield from _world(tmp_path, stream_seconds=300)


@pytest.fixture
def short_streams(tmp_path: Path):
    yield from _world(tmp_path, stream_seconds=1.0)


def _follow(stub: pb_grpc.CrossChainStub) -> grpc.Future:
    """A stream that is running on the server: it has sent block 0 and now waits for block 1."""
    stream = stub.StreamBlocks(pb.StreamBlocksRequest(from_height=0), timeout=60)
    assert next(stream).height == 0
    return stream


def test_streams_over_the_cap_are_refused_and_unary_calls_still_answered(world) -> None:
    judicial, stub, _ = world
    streams = [_follow(stub) for _ in range(STREAMS)]
    extra = stub.StreamBlocks(pb.StreamBlocksRequest(from_height=0), timeout=10)
    with pytest.raises(grpc.RpcError) as refused:
        next(extra)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    for _ in range(2 * WORKERS):  # every unary call finds a worker while the streams are open
        assert stub.GetCheckpoint(pb.GetCheckpointRequest(), timeout=5).note.startswith(judicial.config.chain_id + "\n2\n")
        assert stub.GetInclusionProof(pb.GetInclusionProofRequest(index=1), timeout=5).tree_size == 2
    with pytest.raises(grpc.RpcError) as anchor:  # Anchor is served too (this one is refused on its merits, not for want of a worker)
        stub.Anchor(pb.AnchorRequest(source_chain_id=MEMBER), timeout=5)
    assert anchor.value.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)
    streams[0].cancel()  # a cancelled stream gives its place back
    deadline = time.monotonic() + 10
    while True:
        try:
            streams[0] = _follow(stub)
            break
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline
            time.sleep(0.1)
    for stream in streams:
        stream.cancel()


def test_a_stream_ends_after_its_time_and_resumes_where_it_was(short_streams) -> None:
    judicial, stub, _ = short_streams
    started = time.monotonic()
    stream = stub.StreamBlocks(pb.StreamBlocksRequest(from_height=0), timeout=30)
    assert [b.height for b in stream] == [0]  # block 0, then the stream ends cleanly (status OK) for want of time
    assert stream.code() == grpc.StatusCode.OK and time.monotonic() - started < 10
    judicial.ledger.append([b"entry-2"])
    judicial.ledger.seal()
    assert [b.height for b in stub.StreamBlocks(pb.StreamBlocksRequest(from_height=1), timeout=30)] == [1]  # reopened after it
    # the ended streams gave their places back: the full cap can be opened again
    streams = [_follow(stub) for _ in range(STREAMS)]
    for s in streams:
        s.cancel()


def test_the_mirror_keeps_following_when_a_stream_ends_by_time(short_streams, tmp_path: Path) -> None:
    import os
    import subprocess

    judicial, _, port = short_streams
    root = Path(__file__).resolve().parents[2]
    mirror = subprocess.Popen([sys.executable, "-m", "fivechains.cli", "mirror", "--judicial", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "copy"),
                               "--certs", str(tmp_path / "certs"), "--cert-name", MEMBER, "--judicial-vkey", judicial.vkey],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(root)})
    try:
        time.sleep(4)  # several stream lifetimes
        assert mirror.poll() is None, f"the mirror stopped (exit {mirror.returncode}) when its stream ended"
    finally:
        mirror.kill()
        mirror.wait()
