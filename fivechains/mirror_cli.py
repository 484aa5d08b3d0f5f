"""`fivechains mirror`: follow the judicial chain over gRPC, verify each block as it arrives, keep a full copy.

The copy is an ordinary ledger database (DIR/ledger.db), so `fivechains ledger audit
--data-dir DIR --vkey VKEY` audits it like the original.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from .output import console, emit_json, fail, progress_bar


def mirror(
    judicial: Annotated[str, typer.Option("--judicial", help="Judicial chain HOST:PORT (gRPC, mutual TLS).")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the copy lives (ledger.db).")],
    certs: Annotated[Path, typer.Option("--certs", help="Consortium CA and this member's client certificate.")],
    cert_name: Annotated[str, typer.Option("--cert-name", help="Name of this member's client certificate.")],
    judicial_vkey: Annotated[str, typer.Option("--judicial-vkey", help="The judicial chain's verifier key.")],
    once: Annotated[bool, typer.Option("--once", help="Stop when caught up with the latest checkpoint (default: follow).")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Mirror the judicial chain; a block that does not verify stops the mirror (exit 1), nothing of it stored."""
    import grpc

    from chain.checkpoint import open_checkpoint
    from chain.errors import ChainError
    from chain.keys import paired_hash_suite
    from chain.ledger import Ledger
    from chain.note import parse_vkey
    from chain_sql import open_store
    from proto import crosschain_pb2 as pb
    from proto import crosschain_pb2_grpc as pb_grpc
    from proto.channel import client_channel, client_stem

    verifier = parse_vkey(judicial_vkey)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(data_dir / "ledger.db")
    store.initialize({"chain_id": verifier.name, "hash_suite": paired_hash_suite(verifier).name, "vkey": judicial_vkey})
    ledger = Ledger(store)
    channel = client_channel(judicial, certs, client_stem(cert_name))
    stub = pb_grpc.CrossChainStub(channel)
    latest = ledger.latest_block()
    start = latest.header.height + 1 if latest else 0
    imported = 0
    try:
        note = stub.GetCheckpoint(pb.GetCheckpointRequest(), timeout=30).note
        target = open_checkpoint(note, verifier).checkpoint.size  # type: ignore[arg-type]
        with progress_bar("mirroring", target, enabled=not json_out) as update:
            while not (once and ledger.sealed_size() >= target):
                try:  # the server ends a stream after its time: reopen it from the next height
                    for block in stub.StreamBlocks(pb.StreamBlocksRequest(from_height=start + imported)):
                        ledger.import_block(block.header, list(block.entries))
                        imported += 1
                        update(ledger.sealed_size())
                        if once and ledger.sealed_size() >= target:
                            break
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:  # type: ignore[attr-defined]
                        raise
                    time.sleep(1.0)  # every stream slot is taken: try again shortly
        if ledger.sealed_size() == target:
            (data_dir / "checkpoint").write_text(note)  # the signed checkpoint the copy matches
    except ChainError as exc:
        raise fail(f"refused block {start + imported}: {exc}", 1) from None
    except grpc.RpcError as exc:
        raise fail(f"the judicial chain did not answer: {exc.code().name}: {exc.details()}") from None  # type: ignore[attr-defined]
    finally:
        channel.close()
        store.close()
    result = {"imported_blocks": imported, "tree_size": target}
    emit_json(result) if json_out else console.print(f"mirrored {imported} new block(s); the copy holds {target} entries")
