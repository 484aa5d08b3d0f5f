"""Naming what changed in a block, and carrying an audit's position and cross-link between runs."""

from __future__ import annotations

import json

from hypothesis import assume, given
from hypothesis import strategies as st

from chain.merkle import leaf_hash
from chain.replay import CHANGED, INSERTED, MOVED, REMOVED, ChainReplay, name_changed_entries
from evidence.anchor_entry import AnchorEntry, encode_anchor_entry
from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry
from fivechains.audit.crosslink import AnchorBook

FIRST = 1000
entries_strategy = st.lists(st.binary(min_size=1, max_size=8), min_size=2, max_size=40, unique=True)


@given(entries_strategy, st.data())
def test_one_change_is_named_at_its_own_index(entries: list[bytes], data: st.DataObject) -> None:
    sealed = [leaf_hash(e) for e in entries]
    k = data.draw(st.integers(0, len(entries) - 1))
    kind = data.draw(st.sampled_from(["edit", "delete", "insert", "copy-in", "swap"]))
    published = list(entries)
    if kind == "edit":
        published[k] = published[k] + b"\x00"
        assume(published[k] not in entries)
        expected = [(FIRST + k, CHANGED)]
    elif kind == "delete":
        del published[k]
        expected = [(FIRST + k, REMOVED)]
    elif kind == "insert":
        published.insert(k, b"forged, never sealed")
        expected = [(FIRST + k, INSERTED)]
    elif kind == "copy-in":  # a copy of another sealed entry, which a set comparison would miss
        published.insert(k, entries[(k + 1) % len(entries)])
        expected = [(FIRST + k, INSERTED)]
    else:
        k = min(k, len(entries) - 2)
        published[k], published[k + 1] = published[k + 1], published[k]
        expected = [(FIRST + k, MOVED), (FIRST + k + 1, MOVED)]
    assert name_changed_entries(FIRST, published, sealed) == expected


@given(entries_strategy)
def test_an_untouched_block_names_nothing(entries: list[bytes]) -> None:
    assert name_changed_entries(FIRST, entries, [leaf_hash(e) for e in entries]) == []


def test_anchor_book_checks_order_identity_and_survives_a_save() -> None:
    found: list[tuple] = []
    find = lambda problem, block=None, entry=None: found.append((problem, block, entry))  # noqa: E731
    record = lambda i, lender="L1": encode_supervision_entry(SupervisionEntry("00" * 32, 5, f"{i:064x}", 5, lender, "repayment"))  # noqa: E731
    anchor = lambda i, lender="L1": encode_anchor_entry(AnchorEntry(5, f"{i:064x}", 5, lender, "repayment", "sv", i))  # noqa: E731
    book = AnchorBook("sv")
    book.add_supervision_block(0, 0, [record(i) for i in range(3)], 3, 1_000)
    book.add_supervision_block(1, 3, [record(i) for i in range(3, 6)], 6, 2_000)
    for i in range(3):
        book.add_judicial_entry(find, 0, 10 + i, anchor(i), 1_500)
    assert not found and book.lags == [(0, 500)]
    book = AnchorBook.from_state(json.loads(json.dumps(book.to_state())))  # what --state keeps
    book.add_judicial_entry(find, 1, 13, anchor(2), 2_500)  # entry 2 again
    book.add_judicial_entry(find, 1, 14, anchor(4, lender="L2"), 2_500)  # 3 skipped, 4 with another lender
    book.add_judicial_entry(find, 1, 15, anchor(9), 2_500)  # never published
    problems = [p for p, _, _ in found]
    assert [e for _, _, e in found] == [13, 14, 14, 15]
    assert "a second time" in problems[0] and "skipped" in problems[1] and "another digest, lender" in problems[2]
    assert "does not publish" in problems[3]


def test_a_replay_resumes_where_it_stood() -> None:
    from chain.keys import generate_private_key
    from chain.note import Ed25519NoteSigner

    signer = Ed25519NoteSigner("x.test/log", generate_private_key())
    replay = ChainReplay("x.test/log", signer.verifier())
    replay.edge.push([leaf_hash(i.to_bytes(2, "big")) for i in range(300)])
    replay.next_height, replay.prev_hash = 7, b"\x01" * 32
    again = ChainReplay.resume("x.test/log", signer.verifier(), json.loads(json.dumps(replay.position())))
    assert (again.size, again.root(), again.next_height, again.prev_hash) == (300, replay.root(), 7, b"\x01" * 32)
