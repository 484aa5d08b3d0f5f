"""Blocks: the entries sealed since the previous block, framed as a signed, hash-chained header.

The header is a signed note (same signature format as checkpoints), so one verifier serves
both. The block hash covers the whole signed note, signature included, and the next block
names it: change any header, or drop or reorder a block, and every later block says so.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from .encoding import b64decode_strict
from .errors import NoteError
from .hashing import HashSuite, suite_by_name
from .note import Note, parse_note, sign_note, verify_note

__all__ = ["BLOCK_TAG", "GENESIS_PREV", "BlockHeader", "Block", "seal_block", "open_block", "parse_block_header"]

BLOCK_TAG = "fivechains.block/v1"
GENESIS_PREV = bytes(32)
_FIELDS = ("chain", "height", "prev", "size", "root", "count", "time", "hash")


@dataclass(frozen=True)
class BlockHeader:
    """What a block commits to. ``tree_size``/``root`` are the tree after this block."""

    chain_id: str
    height: int
    prev_hash: bytes
    tree_size: int
    root: bytes
    entry_count: int
    time_ms: int
    hash_suite: str = "sha256"

    @property
    def first_index(self) -> int:
        return self.tree_size - self.entry_count

    def to_text(self) -> str:
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        values = (
            self.chain_id,
            str(self.height),
            b64(self.prev_hash),
            str(self.tree_size),
            b64(self.root),
            str(self.entry_count),
            str(self.time_ms),
            self.hash_suite,
        )
        return BLOCK_TAG + "\n" + "".join(f"{k} {v}\n" for k, v in zip(_FIELDS, values))


def _number(value: str, field: str) -> int:
    if not value.isdigit() or (len(value) > 1 and value[0] == "0"):
        raise NoteError(f"block header field {field!r} is not a decimal number: {value!r}")
    return int(value)


def _hash(value: str, field: str) -> bytes:
    try:
        raw = b64decode_strict(value)
    except ValueError:
        raise NoteError(f"block header field {field!r} is not base64") from None
    if len(raw) != 32:
        raise NoteError(f"block header field {field!r} is {len(raw)} bytes, expected 32")
    return raw


def parse_block_header(text: str) -> BlockHeader:
    """Parse a header's note text (no signatures); strict, so one text has one meaning."""
    lines = text.split("\n")
    if len(lines) != len(_FIELDS) + 2 or lines[0] != BLOCK_TAG or lines[-1] != "":
        raise NoteError("not a fivechains.block/v1 header")
    values: dict[str, str] = {}
    for field, line in zip(_FIELDS, lines[1:-1]):
        key, sep, value = line.partition(" ")
        if key != field or not sep or not value:
            raise NoteError(f"block header line {line!r} should be '{field} <value>'")
        values[field] = value
    header = BlockHeader(
        chain_id=values["chain"],
        height=_number(values["height"], "height"),
        prev_hash=_hash(values["prev"], "prev"),
        tree_size=_number(values["size"], "size"),
        root=_hash(values["root"], "root"),
        entry_count=_number(values["count"], "count"),
        time_ms=_number(values["time"], "time"),
        hash_suite=values["hash"],
    )
    if header.entry_count > header.tree_size:
        raise NoteError("block header counts more entries than its tree holds")
    if header.to_text() != text:
        raise NoteError("block header is not in canonical form")
    return header


@dataclass(frozen=True)
class Block:
    """A header together with its signed note."""

    header: BlockHeader
    note: Note

    def to_text(self) -> str:
        return self.note.to_text()

    def block_hash(self, suite: HashSuite | None = None) -> bytes:
        suite = suite or suite_by_name(self.header.hash_suite)
        return suite.hash(self.to_text().encode())

    @property
    def key_id(self) -> int:
        return self.note.signatures[0].key_id


def seal_block(header: BlockHeader, signer: object) -> Block:
    """Sign ``header`` with the chain's note signer."""
    return Block(header, sign_note(header.to_text(), [signer]))


def open_block(text: str, verifier: object) -> Block:
    """Parse a signed block and verify its signature; raises NoteError if either fails."""
    note = parse_note(text)
    verify_note(note, [verifier])
    return Block(parse_block_header(note.text), note)
