"""One audit of every chain: checkpoints against the last audit, every new block replayed, each source
chain's cross-link into the judicial chain checked entry by entry.

The judicial checkpoint is read before the supervision one: everything the judicial chain has
anchored was sealed on the supervision chain before that, so a live system never shows an
anchor of an entry the audit has not read.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.checkpoint import open_checkpoint
from chain.errors import ChainError
from chain.hashing import HashSuite, suite_by_name
from chain.keys import paired_hash_suite
from chain.merkle import leaf_hash, verify_consistency
from chain.note import Ed25519NoteVerifier, format_vkey, parse_vkey
from chain.replay import ChainReplay, EntriesDoNotAddUp, name_changed_entries

from .crosslink import AnchorBook, anchor_source
from .readers import ChainReader, JudicialReader, MissingBlock, SupervisionReader
from .state import AuditState, write_misbehaviour

__all__ = ["AuditRequest", "run_audit"]

Progress = Callable[[str, int, int], None]  # (chain kind, entries done, entries to do)
OnBlock = Callable[[Any, list[tuple[int, bytes]], bool], None]  # (header, (index, entry) as sealed, damaged: some entries differ)


@dataclass(frozen=True)
class AuditRequest:
    supervision: str
    judicial: str
    certs: Path
    cert_name: str
    judicial_vkey: str | None = None
    supervision_vkey: str | None = None
    state_dir: Path | None = None
    full: bool = False
    others: tuple[tuple[str, str], ...] = ()  # (kind, URL) of the other source chains anchored in the judicial chain, e.g. ("risk", url)


def run_audit(request: AuditRequest, progress: Progress = lambda kind, done, total: None) -> dict[str, Any]:
    """Audit both chains; the report's ``ok`` is True only if nothing was found. Reading errors raise."""
    state = AuditState.load(request.state_dir)
    judicial_vkey = request.judicial_vkey or state.keys.get("judicial")
    if not judicial_vkey:
        raise ValueError("the judicial chain's key is needed on the first audit: --judicial-vkey VKEY")
    started = time.perf_counter()
    sv_reader, jc_reader = SupervisionReader(request.supervision), JudicialReader(request.judicial, request.certs, request.cert_name)
    other_readers = {kind: SupervisionReader(url) for kind, url in request.others}  # every source chain serves the same public reads
    try:
        jc_verifier = parse_vkey(judicial_vkey)
        jc_cp = jc_reader.checkpoint()
        sources = {"supervision": (sv_reader, request.supervision_vkey), **{k: (r, None) for k, r in other_readers.items()}}
        replays: dict[str, ChainReplay] = {}
        checkpoints: dict[str, str | None] = {}
        for kind, (reader, pinned) in sources.items():
            verifier = parse_vkey(pinned or state.keys.get(kind) or reader.info["vkey"])
            checkpoints[kind] = reader.checkpoint()
            replays[kind] = _replay_for(reader.info["chain_id"], verifier, state, request.full, suite_by_name(reader.info.get("hash_suite", "sha256")))
            if state.keys.get(kind) and pinned is None and state.keys[kind] != reader.info["vkey"]:
                replays[kind].find(f"the {kind} chain now publishes another key than the one pinned in --state")
        sv = replays["supervision"]
        jc = _replay_for(jc_verifier.name, jc_verifier, state, request.full, paired_hash_suite(jc_verifier))  # type: ignore[arg-type]
        resumed = bool(sv.size or jc.size)
        saved = {**(state.crosslinks or {}), **({sv.chain_id: state.crosslink} if state.crosslink else {})}
        books = {r.chain_id: AnchorBook.from_state(saved[r.chain_id]) if resumed and saved.get(r.chain_id) else AnchorBook(r.chain_id)
                 for r in replays.values()}

        def source_block(book: AnchorBook) -> OnBlock:
            def on_block(header: Any, entries: list[tuple[int, bytes]], damaged: bool) -> None:
                # the records of a damaged block are not compared with their anchors: the block's finding names them already
                book.add_supervision_block(header.height, header.first_index, None if damaged else [e for _, e in entries],
                                           header.tree_size, header.time_ms)
            return on_block

        def judicial_block(header: Any, entries: list[tuple[int, bytes]], damaged: bool) -> None:
            for index, data in entries:
                book = books.get(anchor_source(data))
                if book is not None:
                    book.add_judicial_entry(jc.find, header.height, index, data, header.time_ms, gaps_allowed=damaged)
                elif anchor_source(data) is None:
                    jc.find("the judicial entry is not an anchor record", block=header.height, entry=index)

        sizes = {kind: _follow(kind, sources[kind][0], replays[kind], checkpoints[kind], state, request.state_dir,
                               source_block(books[replays[kind].chain_id]), progress) for kind in sources}
        jc_size = _follow("judicial", jc_reader, jc, jc_cp, state, request.state_dir, judicial_block, progress)
        for replay in replays.values():
            if not replay.broken and not jc.broken:
                books[replay.chain_id].check_unanchored(replay.find)
    finally:
        sv_reader.close()
        jc_reader.close()
        for reader in other_readers.values():
            reader.close()

    findings = [f for r in replays.values() for f in r.findings] + jc.findings
    book = books[sv.chain_id]
    report = {
        "ok": not findings,
        "findings": [f.to_dict() for f in findings],
        "mode": "incremental" if resumed else "full",
        **{kind: {"chain": r.chain_id, "blocks": r.next_height, "entries": r.size, "checked_entries": r.size - sizes[kind]}
           for kind, r in replays.items()},
        "judicial": {"chain": jc.chain_id, "blocks": jc.next_height, "entries": jc.size, "checked_entries": jc.size - jc_size},
        "anchoring_lag_ms": book.lag_summary(),
        **{f"{kind}_anchoring_lag_ms": books[r.chain_id].lag_summary() for kind, r in replays.items() if kind != "supervision"},
        "seconds": round(time.perf_counter() - started, 3),
    }
    if request.state_dir is not None and not findings:
        for replay, cp_text in [*((replays[k], checkpoints[k]) for k in replays), (jc, jc_cp)]:
            if cp_text:
                cp = open_checkpoint(cp_text, replay.verifier).checkpoint
                state.checkpoints[replay.chain_id] = {"size": cp.size, "root": base64.b64encode(cp.root).decode(), "checkpoint": cp_text}
                state.positions[replay.chain_id] = replay.position()
        state.keys.update({kind: format_vkey(r.verifier) for kind, r in replays.items()})
        state.keys["judicial"] = format_vkey(jc.verifier)
        state.crosslink = book.to_state()
        state.crosslinks = {chain_id: b.to_state() for chain_id, b in books.items() if chain_id != sv.chain_id}
        state.save(request.state_dir)
    return report


def _replay_for(chain_id: str, verifier: Ed25519NoteVerifier, state: AuditState, full: bool, suite: HashSuite) -> ChainReplay:
    position = state.positions.get(chain_id)
    if position and not full:
        return ChainReplay.resume(chain_id, verifier, position, suite)
    return ChainReplay(chain_id, verifier, suite)


def _follow(kind: str, reader: ChainReader, replay: ChainReplay, cp_text: str | None, state: AuditState,
            state_dir: Path | None, on_block: OnBlock, progress: Progress) -> int:
    """Check the checkpoint against the last audit's, then replay the new blocks up to it. Returns the size replayed from."""
    start = replay.size
    if cp_text is None:
        if state.checkpoints.get(replay.chain_id):
            replay.find("the chain publishes no checkpoint, but one was seen before (rollback)")
        return start
    try:
        checkpoint = open_checkpoint(cp_text, replay.verifier).checkpoint
    except ChainError as exc:
        replay.find(f"the latest checkpoint does not verify with the pinned key: {exc}")
        return start
    _compare_with_last(kind, reader, replay, checkpoint, cp_text, state, state_dir)
    if replay.size > checkpoint.size:
        return start  # a rollback: reported above; nothing new to replay
    try:
        for _, header_text, entries in reader.blocks(replay.next_height, checkpoint.size) if replay.size < checkpoint.size else ():
            damaged = False
            try:
                header = replay.add_block(header_text, entries)
                checked = list(enumerate(entries, start=header.first_index)) if header else []
            except EntriesDoNotAddUp as bad:
                h, damaged = bad.header, True
                sealed = reader.sealed_leaves(h.first_index, h.tree_size, h.tree_size)
                for index, problem in name_changed_entries(h.first_index, entries, sealed, replay.suite):
                    replay.find(problem, block=h.height, entry=index)
                header = replay.add_sealed_leaves(header_text, sealed)
                position = {leaf: h.first_index + k for k, leaf in enumerate(sealed)}  # only what the block really sealed goes on
                checked = sorted((position[leaf], e) for e in entries if (leaf := leaf_hash(e, replay.suite)) in position)
            if header is None:
                break
            on_block(header, checked, damaged)
            progress(kind, replay.size - start, checkpoint.size - start)
            if replay.size >= checkpoint.size:
                break
    except MissingBlock as missing:
        replay.find(f"the chain cannot serve block {missing.height}, though later blocks exist (deleted from its storage)", block=missing.height)
        replay.broken = True
    if not replay.broken and (replay.size != checkpoint.size or replay.root() != checkpoint.root):
        replay.find(f"the published blocks reach {replay.size} entries and do not give the latest signed checkpoint "
                    f"({checkpoint.size} entries)", block=replay.next_height - 1 if replay.next_height else None)
    return start


def _compare_with_last(kind: str, reader: ChainReader, replay: ChainReplay, new: Any, new_text: str,
                       state: AuditState, state_dir: Path | None) -> None:
    """The checkpoint must extend the one accepted last time; otherwise keep the proof of misbehaviour."""
    seen = state.checkpoints.get(replay.chain_id)
    if not seen:
        return
    old_size, old_root = int(seen["size"]), base64.b64decode(seen["root"])
    proof: list[bytes] = []
    if new.size < old_size:
        problem = f"the chain shrank from {old_size} to {new.size} entries since the last audit (rollback)"
    elif new.size == old_size:
        problem = None if new.root == old_root else f"two different signed checkpoints for size {old_size} (fork: history rewritten)"
    else:
        try:
            proof = reader.consistency(old_size, new.size) if old_size else []
        except Exception as exc:  # the chain cannot prove it: that is the finding
            proof, problem = [], f"the chain gives no consistency proof from size {old_size} to {new.size}: {exc.__class__.__name__}"
        else:
            problem = None if not old_size or verify_consistency(old_size, new.size, old_root, new.root, proof, replay.suite) \
                else f"the checkpoint of size {new.size} is not consistent with the one of size {old_size} seen before (fork)"
    if problem is None:
        return
    replay.find(problem)
    if state_dir is not None:
        path = write_misbehaviour(state_dir, kind, {
            "chain": replay.chain_id, "problem": problem, "verifier_key": format_vkey(replay.verifier),
            "earlier_checkpoint": seen["checkpoint"], "later_checkpoint": new_text,
            "consistency_proof": {"old_size": old_size, "new_size": new.size, "hashes": [base64.b64encode(h).decode() for h in proof]},
        })
        replay.find(f"proof of misbehaviour written to {path}")
