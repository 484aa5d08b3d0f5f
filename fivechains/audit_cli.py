"""`fivechains audit`: re-verify both chains from what they publish, and the link between them.

Supervision chain over its public HTTP API, judicial chain over gRPC (a consortium client
certificate). Each chain is replayed block by block (signatures, hash chain, recomputed
roots); its checkpoint must be consistent with the one seen last time (kept in --state); and
every judicial anchor must name a supervision entry with the same digest, lender and time,
once. A rollback or fork leaves a self-contained proof of misbehaviour in the state folder.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import grpc
import httpx
import typer

from chain.audit import Finding
from chain.block import parse_block_header
from chain.checkpoint import open_checkpoint
from chain.errors import ChainError
from chain.merkle import leaf_hash, verify_consistency
from chain.note import format_vkey, parse_note, parse_vkey
from chain.replay import ChainReplay

from .output import console, emit_json, fail, progress_bar

PAGE = 1000


def _supervision(url: str, vkey: str | None, update: Any) -> tuple[ChainReplay, list[tuple[str, str, int] | None], Any, httpx.Client]:
    http = httpx.Client(base_url=url.rstrip("/"), timeout=60)
    info = http.get("/v1/chain").json()
    verifier = parse_vkey(vkey or info["vkey"])
    replay = ChainReplay(info["chain_id"], verifier)  # type: ignore[arg-type]
    records: list[tuple[str, str, int] | None] = []
    start = 0
    while True:
        blocks = http.get("/v1/blocks", params={"start": start, "limit": PAGE}).json()["blocks"]
        if not blocks:
            break
        for b in blocks:
            try:
                header = parse_block_header(parse_note(b["header"]).text)
            except ChainError as exc:
                replay.find(f"the block header is malformed: {exc}", block=b["height"])
                continue
            entries: list[bytes] = []
            for first in range(header.first_index, header.tree_size, PAGE):
                page = http.get("/v1/entries", params={"start": first, "end": min(header.tree_size, first + PAGE)}).json()["entries"]
                entries += [e["data"].encode() for e in page]
            accepted = replay.add_block(b["header"], entries)
            if not accepted and replay.findings and "do not hash to the root" in replay.findings[-1].problem:
                accepted = replay.add_sealed_leaves(b["header"], _name_entries(http, replay, header, entries))
            if accepted:  # (records of a block with a changed entry are kept: its anchors are still checked)
                for data in entries:
                    try:
                        r = json.loads(data)
                        records.append((r["digest"], r["lender"], r["accepted"]))
                    except (ValueError, KeyError, TypeError):
                        records.append(None)
            update(replay.size)
        start += len(blocks)
    cp_text = http.get("/v1/checkpoint").text if replay.size else None
    return replay, records, cp_text, http


def _name_entries(http: httpx.Client, replay: ChainReplay, header: Any, entries: list[bytes]) -> list[bytes]:
    """A block's entries do not add up: find which, against the leaf hashes the chain sealed; return those."""
    from chain.merkle import leaf_hash

    sealed_leaves = []
    for n, data in enumerate(entries):
        index = header.first_index + n
        sealed = base64.b64decode(http.get("/v1/proofs/inclusion", params={"index": index, "tree_size": header.tree_size}).json()["leaf_hash"])
        sealed_leaves.append(sealed)
        if leaf_hash(data) != sealed:
            replay.find("the published entry is not what its block sealed (changed in the database)", block=header.height, entry=index)
    return sealed_leaves


def _judicial(target: str, certs: Path, cert_name: str, vkey: str, supervision: ChainReplay,
              records: list[tuple[str, str, int] | None], update: Any) -> tuple[ChainReplay, str | None, Any, list[int], dict[int, int]]:
    from proto import crosschain_pb2 as pb
    from proto import crosschain_pb2_grpc as pb_grpc
    from proto.channel import client_channel, client_stem

    channel = client_channel(target, certs, client_stem(cert_name))
    stub = pb_grpc.CrossChainStub(channel)
    verifier = parse_vkey(vkey)
    replay = ChainReplay(verifier.name, verifier)  # type: ignore[arg-type]
    cp_text = stub.GetCheckpoint(pb.GetCheckpointRequest(), timeout=30).note
    size = open_checkpoint(cp_text, verifier).checkpoint.size  # type: ignore[arg-type]
    anchored = [0] * len(records)
    anchored_in: dict[int, int] = {}  # supervision index → judicial block height
    if size:
        stream = stub.StreamBlocks(pb.StreamBlocksRequest(from_height=0), timeout=600)
        for block in stream:
            height_before = replay.next_height
            accepted = replay.add_block(block.header, list(block.entries))
            if not accepted and replay.findings and "do not hash to the root" in replay.findings[-1].problem:
                header = parse_block_header(parse_note(block.header).text)
                sealed = []
                for n, data in enumerate(block.entries):
                    index = header.first_index + n
                    leaf = stub.GetInclusionProof(pb.GetInclusionProofRequest(index=index, tree_size=header.tree_size), timeout=30).leaf_hash
                    sealed.append(leaf)
                    if leaf_hash(data) != leaf:
                        replay.find("the published entry is not what its block sealed (changed in the database)", block=header.height, entry=index)
                accepted = replay.add_sealed_leaves(block.header, sealed)
            if accepted:
                for n, data in enumerate(block.entries):
                    index = replay.size - len(block.entries) + n
                    _check_anchor(replay, supervision, records, anchored, anchored_in, height_before, index, data)
            update(replay.size)
            if replay.size >= size or replay.next_height == height_before:
                stream.cancel()
                break
    return replay, cp_text, stub, anchored, anchored_in


def _check_anchor(replay: ChainReplay, supervision: ChainReplay, records: list, anchored: list[int], anchored_in: dict[int, int],
                  height: int, index: int, data: bytes) -> None:
    try:
        entry = json.loads(data)
        source, at = entry["source"], entry["source_index"]
    except (ValueError, KeyError, TypeError):
        replay.find("the judicial entry is not an anchor record", block=height, entry=index)
        return
    if source != supervision.chain_id:
        return  # another source chain: not this audit's business
    if not 0 <= at < len(records) or records[at] is None:
        replay.find(f"anchors supervision entry {at}, which the supervision chain does not publish", block=height, entry=index)
        return
    digest, lender, accepted = records[at]
    if (entry.get("digest"), entry.get("lender"), entry.get("deposit_ms")) != (digest, lender, accepted):
        replay.find(f"anchors supervision entry {at} with a different digest, lender or time", block=height, entry=index)
    anchored[at] += 1
    if anchored[at] > 1:
        replay.find(f"anchors supervision entry {at} a second time", block=height, entry=index)
    anchored_in.setdefault(at, height)


def _consistency(kind: str, replay: ChainReplay, cp_text: str | None, state: dict[str, Any], prove: Any, state_dir: Path | None) -> None:
    """The new checkpoint must extend the one seen last time; if not, keep the proof of misbehaviour."""
    seen = state.get(replay.chain_id)
    if not seen or not cp_text:
        return
    old_size, old_root = seen["size"], base64.b64decode(seen["root"])
    new = open_checkpoint(cp_text, replay.verifier).checkpoint
    problem = None
    if new.size < old_size:
        problem = f"the chain shrank from {old_size} to {new.size} entries since the last audit (rollback)"
    elif old_size and replay.roots.get(old_size, old_root) != old_root:
        problem = f"the tree of size {old_size} now has another root than the one signed before (history rewritten / fork)"
    elif old_size and old_size < new.size:
        hashes = prove(old_size, new.size)
        if not verify_consistency(old_size, new.size, old_root, new.root, hashes):
            problem = f"no consistency proof from size {old_size} to {new.size} (fork)"
    if problem:
        replay.find(problem)
        if state_dir is not None:
            evidence = state_dir / f"misbehaviour-{kind}-{int(time.time())}.json"
            evidence.write_text(json.dumps({"chain": replay.chain_id, "problem": problem, "earlier_checkpoint": seen["checkpoint"],
                                            "later_checkpoint": cp_text, "verifier_key": format_vkey(replay.verifier)}, indent=2))
            replay.find(f"proof of misbehaviour written to {evidence}")


def audit(
    supervision: Annotated[str, typer.Option("--supervision", help="Supervision chain URL.")],
    judicial: Annotated[str, typer.Option("--judicial", help="Judicial chain HOST:PORT (gRPC, mutual TLS).")],
    certs: Annotated[Path, typer.Option("--certs", help="Consortium certificates: CA and this auditor's client certificate.")],
    cert_name: Annotated[str, typer.Option("--cert-name", help="Name of this auditor's client certificate (fivechains judicial certs --client NAME).")],
    judicial_vkey: Annotated[Optional[str], typer.Option("--judicial-vkey", help="The judicial chain's verifier key (kept in --state after the first run).")] = None,
    supervision_vkey: Annotated[Optional[str], typer.Option("--supervision-vkey", help="The supervision chain's key (default: as published, then pinned in --state).")] = None,
    state: Annotated[Optional[Path], typer.Option("--state", help="Folder keeping the checkpoints (and keys) seen last time.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print {ok, findings} as JSON.")] = False,
) -> None:
    """Audit both chains end to end; exit 0 only if everything holds."""
    remembered: dict[str, Any] = {}
    if state is not None:
        state.mkdir(parents=True, exist_ok=True)
        if (state / "state.json").exists():
            remembered = json.loads((state / "state.json").read_text())
    keys = remembered.get("keys", {})
    checkpoints = remembered.get("checkpoints", {})
    try:
        with progress_bar("supervision chain", None, enabled=not json_out) as update:
            sv, records, sv_cp, http = _supervision(supervision, supervision_vkey or keys.get("supervision"), update)
        jv = judicial_vkey or keys.get("judicial")
        if not jv:
            raise fail("the judicial chain's key is needed on the first audit: --judicial-vkey VKEY")
        with progress_bar("judicial chain", None, enabled=not json_out) as update:
            jr, jc_cp, stub, anchored, anchored_in = _judicial(judicial, certs, cert_name, jv, sv, records, update)
    except (httpx.HTTPError, grpc.RpcError, ChainError, KeyError, ValueError) as exc:
        raise fail(f"could not read the chains: {exc.__class__.__name__}: {exc}") from None

    from proto import crosschain_pb2 as pb

    _consistency("supervision", sv, sv_cp, checkpoints, lambda a, b: [base64.b64decode(h) for h in http.get(
        "/v1/proofs/consistency", params={"old_size": a, "new_size": b}).json()["hashes"]], state)
    _consistency("judicial", jr, jc_cp, checkpoints, lambda a, b: list(stub.GetConsistencyProof(
        pb.GetConsistencyProofRequest(old_size=a, new_size=b)).hashes), state)
    if supervision_vkey is None and keys.get("supervision") and keys["supervision"] != format_vkey(sv.verifier):
        sv.find("the supervision chain now signs with another key than the one pinned in --state")

    # every supervision block anchored (the newest may still be on its way: that is lag, not a fault)
    lags = []
    first = 0
    for height, end in enumerate(sv.ends):
        if first < end:
            counts = anchored[first:end]
            if all(c == 1 for c in counts):
                jb = anchored_in[first]
                lags.append(max(0, jr.times.get(jb, 0) - sv.times.get(height, 0)))
            elif height < len(sv.ends) - 2:
                missing = next(i for i in range(first, end) if anchored[i] == 0) if 0 in counts else first
                sv.find("the block is not (fully) anchored in the judicial chain", block=height, entry=missing)
        first = end
    findings: list[Finding] = sv.findings + jr.findings
    report = {
        "ok": not findings,
        "findings": [f.to_dict() for f in findings],
        "supervision": {"chain": sv.chain_id, "blocks": sv.next_height, "entries": sv.size},
        "judicial": {"chain": jr.chain_id, "blocks": jr.next_height, "entries": jr.size},
        "anchoring_lag_ms": {"blocks": len(lags), "max": max(lags, default=0), "mean": int(sum(lags) / len(lags)) if lags else 0},
    }
    if state is not None and not findings:
        for replay, cp_text in ((sv, sv_cp), (jr, jc_cp)):
            if cp_text:
                cp = open_checkpoint(cp_text, replay.verifier).checkpoint
                checkpoints[replay.chain_id] = {"size": cp.size, "root": base64.b64encode(cp.root).decode(), "checkpoint": cp_text}
        keys.update({"supervision": format_vkey(sv.verifier), "judicial": format_vkey(jr.verifier)})
        (state / "state.json").write_text(json.dumps({"keys": keys, "checkpoints": checkpoints}, indent=2))
    if json_out:
        emit_json(report)
    elif report["ok"]:
        console.print(f"[green]OK[/] {sv.chain_id}: {sv.next_height} blocks, {sv.size} entries · {jr.chain_id}: {jr.next_height} blocks, "
                      f"{jr.size} entries · anchoring lag max {report['anchoring_lag_ms']['max']} ms")
    else:
        console.print(f"[bold red]FAILED[/]: {len(findings)} finding(s)")
        for f in findings:
            console.print(f"  • {f}")
    if not report["ok"]:
        raise typer.Exit(1)
