"""What the two chains publish, read the way any auditor can: the supervision chain's public
HTTP API and the judicial chain's gRPC service (mutual TLS with a consortium certificate).

Both readers answer the same questions — the latest signed checkpoint, the blocks with their
entries from a height on, the leaf hashes a block sealed, a consistency proof — so the audit
treats the two chains alike.
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import httpx

from chain.block import parse_block_header
from chain.note import parse_note

__all__ = ["ChainReader", "PublishedBlock", "SupervisionReader", "JudicialReader", "MissingBlock"]

PAGE = 1000  # the supervision API's largest page of blocks or entries

PublishedBlock = tuple[int, str, list[bytes]]  # height as listed, signed header note, entries


class MissingBlock(Exception):
    """The chain cannot serve a block below its newest one (a hole in its storage)."""

    def __init__(self, height: int, detail: str) -> None:
        super().__init__(detail)
        self.height = height


class ChainReader(Protocol):
    def checkpoint(self) -> str | None: ...
    def blocks(self, from_height: int, up_to_size: int) -> Iterator[PublishedBlock]: ...
    def sealed_leaves(self, first: int, end: int, tree_size: int) -> list[bytes]: ...
    def consistency(self, old_size: int, new_size: int) -> list[bytes]: ...
    def close(self) -> None: ...


class SupervisionReader:
    """The supervision chain over HTTP (`/v1/chain`, `/v1/blocks`, `/v1/entries`, `/v1/proofs/…`)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=60)
        self.info = self._json("/v1/chain")

    def _json(self, path: str, **params: int) -> dict:
        answer = self.http.get(path, params=params)
        answer.raise_for_status()
        return answer.json()

    def checkpoint(self) -> str | None:
        answer = self.http.get("/v1/checkpoint")
        if answer.status_code == 404:
            return None  # nothing sealed yet
        answer.raise_for_status()
        return answer.text

    def blocks(self, from_height: int, up_to_size: int) -> Iterator[PublishedBlock]:
        """Blocks from ``from_height`` until one reaches ``up_to_size``; entries by their stored index."""
        pending: deque[tuple[int, bytes]] = deque()
        fetched_to = None
        start = from_height
        while True:
            listed = self._json("/v1/blocks", start=start, limit=PAGE)["blocks"]
            if not listed:
                return
            for b in listed:
                try:
                    header = parse_block_header(parse_note(b["header"]).text)
                    first, end = header.first_index, header.tree_size
                except Exception:  # a malformed header is the replay's to report
                    yield b["height"], b["header"], []
                    continue
                if fetched_to is None:
                    fetched_to = first
                while fetched_to < end:  # entries come in pages that ignore block boundaries
                    stop = min(fetched_to + PAGE, max(end, up_to_size))
                    page = self._json("/v1/entries", start=fetched_to, end=stop)["entries"]
                    pending.extend((e["index"], e["data"].encode()) for e in page)
                    fetched_to = stop
                while pending and pending[0][0] < first:
                    pending.popleft()
                entries = []
                while pending and pending[0][0] < end:
                    entries.append(pending.popleft()[1])
                yield b["height"], b["header"], entries
                if end >= up_to_size:
                    return
            start = listed[-1]["height"] + 1

    def sealed_leaves(self, first: int, end: int, tree_size: int) -> list[bytes]:
        return [base64.b64decode(self._json("/v1/proofs/inclusion", index=i, tree_size=tree_size)["leaf_hash"]) for i in range(first, end)]

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        return [base64.b64decode(h) for h in self._json("/v1/proofs/consistency", old_size=old_size, new_size=new_size)["hashes"]]

    def close(self) -> None:
        self.http.close()


class JudicialReader:
    """The judicial chain over gRPC: GetCheckpoint, StreamBlocks, GetInclusionProof, GetConsistencyProof."""

    def __init__(self, target: str, certs: Path, cert_name: str) -> None:
        from proto import crosschain_pb2 as pb
        from proto import crosschain_pb2_grpc as pb_grpc
        from proto.channel import client_channel, client_stem

        self.pb = pb
        self.channel = client_channel(target, certs, client_stem(cert_name))
        self.stub = pb_grpc.CrossChainStub(self.channel)

    def checkpoint(self) -> str | None:
        return self.stub.GetCheckpoint(self.pb.GetCheckpointRequest(), timeout=30).note or None

    def blocks(self, from_height: int, up_to_size: int) -> Iterator[PublishedBlock]:
        """Blocks from ``from_height`` until the one that reaches ``up_to_size``. The server ends a stream after
        its time (or refuses one while all stream slots are busy): it is reopened from the next height."""
        import time

        import grpc

        expected, stalls = from_height, 0
        while stalls < 5:
            stream = self.stub.StreamBlocks(self.pb.StreamBlocksRequest(from_height=expected), timeout=3600)
            before = expected
            try:
                for block in stream:
                    expected = block.height + 1
                    yield block.height, block.header, list(block.entries)
                    try:
                        if parse_block_header(parse_note(block.header).text).tree_size >= up_to_size:
                            return
                    except Exception:
                        return  # the replay reports the header; nothing after it can be placed
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.DATA_LOSS:  # type: ignore[attr-defined]
                    raise MissingBlock(expected, exc.details()) from None  # type: ignore[attr-defined]
                if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:  # type: ignore[attr-defined]
                    raise
                time.sleep(1.0)
            finally:
                stream.cancel()
            stalls = 0 if expected > before else stalls + 1
        raise MissingBlock(expected, "the judicial chain's stream kept ending before the checkpoint's size")

    def sealed_leaves(self, first: int, end: int, tree_size: int) -> list[bytes]:
        request = self.pb.GetInclusionProofRequest
        return [self.stub.GetInclusionProof(request(index=i, tree_size=tree_size), timeout=30).leaf_hash for i in range(first, end)]

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        request = self.pb.GetConsistencyProofRequest(old_size=old_size, new_size=new_size)
        return list(self.stub.GetConsistencyProof(request, timeout=30).hashes)

    def close(self) -> None:
        self.channel.close()
