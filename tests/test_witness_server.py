"""The witness over real HTTP: a body over the limit is refused with 413 after at most the limit (plus the
socket buffers) was read, then the connection is closed, whatever the client declares or streams."""

from __future__ import annotations

import select
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from servers import WitnessServer

from chain.note import Ed25519NoteSigner, format_vkey
from fivechains.witness_cli import MAX_BODY

FLOOD = 256 * MAX_BODY  # what a hostile client offers; the witness must stop long before
LOOPBACK_SLACK = 48 * MAX_BODY  # socket buffers on both ends (Linux auto-tuning reaches a few MiB each)


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessServer]:
    log = Ed25519NoteSigner("judicial.test/court", Ed25519PrivateKey.generate())
    server = WitnessServer(Path(tmp_path_factory.mktemp("witness")) / "w", "witness.test/w1", format_vkey(log.verifier())).start()
    yield server
    server.stop()


def _flood(port: int, head: bytes, frame: Callable[[bytes], bytes]) -> tuple[int, bytes]:
    """Send ``head`` then up to FLOOD body bytes; stop when the server answers or drops the connection.
    Returns the body bytes the client got to send and what the server answered."""
    piece = b"x" * 65536
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        while sent < FLOOD:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame(piece))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if len(answer) > 65536:
                    break
        except ConnectionResetError:
            pass
    return sent, answer


def _request_head(extra: str) -> bytes:
    return f"POST /add-checkpoint HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def test_a_declared_huge_body_is_refused_before_it_is_read(witness: WitnessServer) -> None:
    sent, answer = _flood(witness.port, _request_head(f"Content-Length: {FLOOD}\r\n"), lambda piece: piece)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"connection: close" in answer.lower()
    assert sent < LOOPBACK_SLACK, f"the witness took {sent} bytes of a body it had refused"


def test_a_streamed_body_without_length_is_cut_at_the_limit(witness: WitnessServer) -> None:
    chunked = lambda piece: b"%x\r\n" % len(piece) + piece + b"\r\n"
    sent, answer = _flood(witness.port, _request_head("Transfer-Encoding: chunked\r\n"), chunked)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"application/problem+json" in answer
    assert sent < LOOPBACK_SLACK, f"the witness took {sent} bytes of a body it had refused"


def test_a_lying_content_length_does_not_smuggle_the_rest(witness: WitnessServer) -> None:
    # declares 10 bytes, then streams on: the extra bytes are not a request, and the connection ends
    sent, answer = _flood(witness.port, _request_head("Content-Length: 10\r\n"), lambda piece: piece)
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    assert sent < LOOPBACK_SLACK


def test_small_requests_are_still_answered(witness: WitnessServer) -> None:
    answer = httpx.post(witness.url + "/add-checkpoint", content=b"no blank line", timeout=10)
    assert answer.status_code == 400
    big = httpx.post(witness.url + "/add-checkpoint", content=b"x" * (MAX_BODY + 1), timeout=10)
    assert big.status_code == 413 and big.headers["content-type"] == "application/problem+json"
