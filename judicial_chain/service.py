"""The judicial chain as one object: anchors source blocks, issues deposit codes, answers proofs.

An anchor is accepted only if it adds up: the source's signature on the block and its
checkpoint, the block following the last one anchored (same previous hash, same tree), and
the entries recomputing the signed root from the source tree's right edge kept here. Then
one judicial entry and one deposit code per record are stored in one transaction with the
new state, and the judicial ledger is sealed, so the receipt carries a checkpoint that
covers every code it returns.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chain.block import GENESIS_PREV, open_block
from chain.checkpoint import open_checkpoint
from chain.errors import NoteError, StorageError
from chain.hashing import suite_by_name
from chain.keys import load_or_create_signer
from chain.ledger import Ledger
from chain.merkle import leaf_hashes
from chain.note import NoteVerifier, format_vkey, parse_vkey
from chain.tiles import RightEdge
from chain_sql import insert_rows, open_store
from chain_sql.migrations import upgrade_schema
from evidence.anchor_entry import anchor_entries, anchor_of, encode_anchor_entry
from evidence.deposit_codes import new_codes
from evidence.entry_codec import EntryError
from evidence.supervision_entry import parse_supervision_entry

from .models import MIGRATIONS, AnchoredBlock, CodeRow, LenderName, Source, SourceState

SOURCES = Source.__table__  # type: ignore[attr-defined]
SOURCE_STATES = SourceState.__table__  # type: ignore[attr-defined]
ANCHORED_BLOCKS = AnchoredBlock.__table__  # type: ignore[attr-defined]
CODES = CodeRow.__table__  # type: ignore[attr-defined]
LENDER_NAMES = LenderName.__table__  # type: ignore[attr-defined]

DEFAULT_CHAIN_ID = "judicial.fivechains.local/gz-internet-court"
KEY_FILE = "signer.key"
MAX_ENTRIES_PER_ANCHOR = 100_000


class AnchorError(Exception):
    """An anchor refused; ``status`` names the gRPC status code the server answers with."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class JudicialConfig:
    data_dir: Path
    db_url: str | None = None
    chain_id: str = DEFAULT_CHAIN_ID
    witnesses: list[str] = field(default_factory=list)  # URL=VKEY of each consortium witness
    quorum: int = 0  # publish a checkpoint only with this many witness cosignatures (0: no witnesses)
    hash_suite: str = "sha256"  # for a new chain: "sha256" or "sm3" (an existing chain keeps its own)
    key_type: str = "ed25519"  # for a new chain's signing key: "ed25519" or "sm2" (an existing key file decides)


@dataclass
class AnchorResult:
    source_height: int
    first_source_index: int
    first_judicial_index: int
    codes: list[str]  # codes[i] names judicial entry first_judicial_index + i (source index first_source_index + i)
    checkpoint: str
    replayed: bool = False


@dataclass
class _Parsed:
    entries: list[bytes] = field(default_factory=list)
    judicial: list[bytes] = field(default_factory=list)


def edge_bytes(edge: RightEdge) -> bytes:
    return b"".join(bytes([len(level)]) + b"".join(level) for level in edge.partials)


def edge_from_bytes(blob: bytes, size: int, suite: Any) -> RightEdge:
    partials, pos, width = [], 0, suite.digest_size
    while pos < len(blob):
        count = blob[pos]
        pos += 1
        partials.append([blob[pos + i * width : pos + (i + 1) * width] for i in range(count)])
        pos += count * width
    return RightEdge(suite, size, partials)


def judicial_entry(source: str, index: int, data: bytes) -> bytes:
    """Who deposited what, when: the public judicial record of one supervision entry (its commitment
    stays behind). EntryError (a ValueError) unless ``data`` is a canonical supervision entry."""
    return encode_anchor_entry(anchor_of(source, index, parse_supervision_entry(data)))


class JudicialChain:
    def __init__(self, config: JudicialConfig) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.signer = load_or_create_signer(config.data_dir / KEY_FILE, config.chain_id, config.key_type)
        self.store = open_store(config.db_url or config.data_dir / "judicial.db")
        upgrade_schema(self.store, MIGRATIONS)  # creates a new database, brings an older one up to date
        self.ledger = Ledger.open_or_create(self.store, config.chain_id, self.signer, suite_by_name(config.hash_suite))
        self.vkey = format_vkey(self.signer.verifier())
        self._lock = threading.Lock()
        self.sealed = threading.Condition()
        self.cosigning = None
        if config.witnesses:
            from .witnessing import Cosigning, WitnessEndpoint

            self.cosigning = Cosigning(self.ledger, [WitnessEndpoint.parse(w) for w in config.witnesses], config.quorum or len(config.witnesses))

    def close(self) -> None:
        self.store.close()

    # --- sources ---------------------------------------------------------------------------

    def register_source(self, chain_id: str, vkey: str) -> None:
        verifier = parse_vkey(vkey)
        if verifier.name != chain_id:
            raise AnchorError("INVALID_ARGUMENT", f"the key is named {verifier.name!r}, not {chain_id!r}")
        with self.store.engine.begin() as conn:
            existing = conn.execute(select(SOURCES.c.vkey).where(SOURCES.c.chain_id == chain_id)).scalar_one_or_none()
            if existing is None:
                conn.execute(SOURCES.insert().values(chain_id=chain_id, vkey=vkey, enabled=True))
            elif existing != vkey:
                raise AnchorError("ALREADY_EXISTS", f"source {chain_id} is registered with another key")

    def source_verifier(self, chain_id: str) -> NoteVerifier:
        with self.store.read_engine.connect() as conn:
            row = conn.execute(select(SOURCES).where(SOURCES.c.chain_id == chain_id)).first()
        if row is None or not row.enabled:
            raise AnchorError("PERMISSION_DENIED", f"{chain_id!r} is not a registered source chain")
        return parse_vkey(row.vkey)  # type: ignore[return-value]

    # --- anchoring --------------------------------------------------------------------------

    def anchor(self, peer: str, source_chain_id: str, header_text: str, checkpoint_text: str,
               first_index: int, entries: list[bytes], lender_names: dict[str, str] | None = None) -> AnchorResult:
        """Check a cross-link and store it; raises AnchorError (nothing stored) if it does not add up."""
        if peer != source_chain_id:
            raise AnchorError("PERMISSION_DENIED", f"the client certificate is for {peer!r}, the request for {source_chain_id!r}")
        if len(entries) > MAX_ENTRIES_PER_ANCHOR:
            raise AnchorError("INVALID_ARGUMENT", f"at most {MAX_ENTRIES_PER_ANCHOR} entries per anchor")
        verifier = self.source_verifier(source_chain_id)
        try:
            block = open_block(header_text, verifier)
            cp = open_checkpoint(checkpoint_text, verifier, origin=source_chain_id).checkpoint
        except NoteError as exc:
            raise AnchorError("UNAUTHENTICATED", f"the source's signature does not verify: {exc}") from None
        h = block.header
        if h.chain_id != source_chain_id or (cp.size, cp.root) != (h.tree_size, h.root):
            raise AnchorError("INVALID_ARGUMENT", "the checkpoint does not match the block (size or root)")
        with self._lock:
            state = self._state(source_chain_id)
            next_height = state.next_height if state else 0
            if h.height < next_height:
                return self._replay(source_chain_id, h.height, block.block_hash())
            if h.height > next_height:
                raise AnchorError("FAILED_PRECONDITION", f"block {next_height} of {source_chain_id} must be anchored before block {h.height}")
            prev = state.last_block_hash if state else GENESIS_PREV
            if h.prev_hash != prev:
                raise AnchorError("FAILED_PRECONDITION", f"block {h.height} does not follow the last anchored block (fork or rewrite)")
            if len(entries) != h.entry_count or first_index != h.first_index:
                raise AnchorError("INVALID_ARGUMENT", f"block {h.height} holds entries {h.first_index}–{h.tree_size - 1}; the request sent others")
            try:  # the source's own tree hash, which its signed header names (not necessarily this chain's)
                suite = suite_by_name(h.hash_suite)
            except ValueError as exc:
                raise AnchorError("INVALID_ARGUMENT", f"block {h.height}: {exc}") from None
            edge = edge_from_bytes(state.edge, state.tree_size, suite) if state else RightEdge(suite)
            edge.push(leaf_hashes(entries, suite))
            if edge.root() != h.root:
                raise AnchorError("INVALID_ARGUMENT", f"the entries of block {h.height} do not add up to its signed root")
            try:
                judicial = anchor_entries(source_chain_id, first_index, entries)
            except EntryError as exc:
                raise AnchorError("INVALID_ARGUMENT", f"block {h.height}: {exc} (not a supervision deposit record)") from None
            self._remember_names(source_chain_id, lender_names or {})
            return self._store(source_chain_id, block, checkpoint_text, edge, entries, judicial, state is None)

    def _remember_names(self, source: str, names: dict[str, str]) -> None:
        if not names:
            return
        with self.store.engine.begin() as conn:
            for lender_id, name in names.items():
                if conn.execute(LENDER_NAMES.update().where(LENDER_NAMES.c.chain_id == source, LENDER_NAMES.c.lender_id == lender_id).values(name=name[:200])).rowcount == 0:
                    conn.execute(LENDER_NAMES.insert().values(chain_id=source, lender_id=lender_id, name=name[:200]))

    def lender_names(self, source: str, lender_ids: set[str]) -> dict[str, str]:
        with self.store.read_engine.connect() as conn:
            return dict(conn.execute(select(LENDER_NAMES.c.lender_id, LENDER_NAMES.c.name).where(LENDER_NAMES.c.chain_id == source, LENDER_NAMES.c.lender_id.in_(list(lender_ids)))).all())

    def _state(self, chain_id: str) -> Any:
        with self.store.read_engine.connect() as conn:
            return conn.execute(select(SOURCE_STATES).where(SOURCE_STATES.c.chain_id == chain_id)).first()

    def _store(self, source: str, block: Any, checkpoint_text: str, edge: RightEdge, entries: list[bytes],
               judicial: list[bytes], first_anchor: bool) -> AnchorResult:
        h = block.header
        now = int(time.time() * 1000)
        codes: list[str] = []
        placed: list[int] = []

        def rows(conn: Connection, first: int) -> None:
            codes[:] = new_codes(len(entries))
            placed[:] = [first]
            # in code order: the codes' index takes them left to right, each page once, instead of at random
            insert_rows(conn, CODES, ("code", "judicial_index"), sorted(zip(codes, range(first, first + len(codes)))))
            conn.execute(ANCHORED_BLOCKS.insert().values(chain_id=source, height=h.height, block_hash=block.block_hash(), first_source_index=h.first_index,
                                           first_judicial_index=first, count=len(entries), anchored_ms=now))
            values = dict(next_height=h.height + 1, tree_size=h.tree_size, edge=edge_bytes(edge), last_block_hash=block.block_hash(),
                          last_checkpoint=checkpoint_text)
            if first_anchor:
                conn.execute(SOURCE_STATES.insert().values(chain_id=source, **values))
            else:
                conn.execute(SOURCE_STATES.update().where(SOURCE_STATES.c.chain_id == source).values(**values))

        for _attempt in range(3):  # a code collision (2^-65 per pair) just means new codes
            try:
                self.ledger.append(judicial, also=rows)
                break
            except StorageError as exc:
                if not isinstance(exc.__cause__, IntegrityError) or "jc_code" not in str(exc.__cause__):
                    raise
        self.ledger.seal()
        if self.cosigning is not None:
            self.cosigning.cosign_latest()
        with self.sealed:
            self.sealed.notify_all()
        published = self.published_checkpoint()
        return AnchorResult(h.height, h.first_index, placed[0], codes, published.to_text() if published else "")

    def _replay(self, source: str, height: int, block_hash: bytes) -> AnchorResult:
        """The same block again: the same codes, nothing new. A different block: a fork, refused."""
        with self.store.read_engine.connect() as conn:
            row = conn.execute(select(ANCHORED_BLOCKS).where(ANCHORED_BLOCKS.c.chain_id == source, ANCHORED_BLOCKS.c.height == height)).first()
            if row is None or row.block_hash != block_hash:
                raise AnchorError("FAILED_PRECONDITION", f"block {height} of {source} was anchored with different content (fork or rewrite)")
            found = conn.execute(select(CODES.c.code, CODES.c.judicial_index).where(
                CODES.c.judicial_index >= row.first_judicial_index, CODES.c.judicial_index < row.first_judicial_index + row.count)).all()
        by_index = {j: code for code, j in found}
        codes = [by_index[row.first_judicial_index + n] for n in range(row.count)]
        published = self.published_checkpoint()
        return AnchorResult(height, row.first_source_index, row.first_judicial_index, codes, published.to_text() if published else "", replayed=True)

    def published_checkpoint(self) -> Any:
        """The newest checkpoint that may be shown: with witnesses, the newest with the quorum of cosignatures."""
        if self.cosigning is None:
            return self.ledger.latest_checkpoint()
        witnesses = [w.verifier for w in self.cosigning.witnesses]
        for _size, note in reversed(self.store.checkpoints()):
            try:
                return open_checkpoint(note, self.ledger.verifier, witnesses=witnesses, min_witnesses=self.cosigning.quorum)
            except NoteError:
                continue
        return None

    def latest_checkpoint_text(self) -> str:
        cp = self.published_checkpoint()
        if cp is None:
            raise AnchorError("NOT_FOUND", "no checkpoint has been published yet")
        return cp.to_text()


__all__ = ["JudicialChain", "JudicialConfig", "AnchorError", "AnchorResult"]
