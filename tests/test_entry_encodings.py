"""The public entry encodings in evidence/: parse(encode(x)) == x, the fast (no JSON parser) paths
equal the generic JSON ones byte for byte, and the parsers accept only canonical, well-typed entries."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.anchor_entry import AnchorEntry, anchor_of, encode_anchor_entry, parse_anchor_entry
from evidence.entry_codec import EntryError
from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry, parse_supervision_entry

hex64 = st.binary(min_size=32, max_size=32).map(bytes.hex)
plain_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,40}", fullmatch=True)
names = st.one_of(plain_ids, st.text(min_size=1, max_size=20))  # any text: quotes, CJK, controls take the generic path
times = st.integers(0, 2**53 - 1)
kinds = st.sampled_from(["contract", "disbursement", "repayment", "overdue", "collection", "other"])
supervision_entries = st.builds(SupervisionEntry, hex64, times, hex64, times, names, kinds)
anchor_entries = st.builds(AnchorEntry, times, hex64, times, names, kinds, names, times)


def _generic(entry: object) -> bytes:
    return json.dumps(entry.__dict__, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@given(supervision_entries)
def test_supervision_entry_round_trips_and_both_paths_agree(entry: SupervisionEntry) -> None:
    data = encode_supervision_entry(entry)
    assert data == _generic(entry) == rfc8785.dumps(entry.__dict__)
    assert parse_supervision_entry(data) == parse_supervision_entry(data, fast=False) == entry


@given(anchor_entries)
def test_anchor_entry_round_trips_and_both_paths_agree(entry: AnchorEntry) -> None:
    data = encode_anchor_entry(entry)
    assert data == _generic(entry) == rfc8785.dumps(entry.__dict__)
    assert parse_anchor_entry(data) == parse_anchor_entry(data, fast=False) == entry


@given(supervision_entries, plain_ids, times)
def test_the_anchor_of_an_entry_keeps_everything_but_the_commitment(entry: SupervisionEntry, source: str, index: int) -> None:
    anchored = parse_anchor_entry(encode_anchor_entry(anchor_of(source, index, entry)))
    assert (anchored.digest, anchored.lender_id, anchored.deposit_time_ms, anchored.event_time_ms, anchored.record_type) == (
        entry.digest, entry.lender_id, entry.deposit_time_ms, entry.event_time_ms, entry.record_type)
    assert b"commitment" not in encode_anchor_entry(anchored)


GOOD = SupervisionEntry("ab" * 32, 7, "cd" * 32, 5, "L1", "repayment")


@pytest.mark.parametrize("mangle", [
    lambda d: d.replace(b'"deposit_time_ms":7', b'"deposit_time_ms":7.0'),  # not an integer
    lambda d: d.replace(b'"deposit_time_ms":7', b'"deposit_time_ms":true'),
    lambda d: d.replace(b'"deposit_time_ms":7', b'"deposit_time_ms":-7'),
    lambda d: d.replace(b'"deposit_time_ms":7', b'"deposit_time_ms":9007199254740992'),  # 2^53
    lambda d: d.replace(b'"lender_id":"L1"', b'"lender_id":1'),
    lambda d: d.replace(b'"commitment"', b'"item"'),  # the old field name
    lambda d: d[:-1] + b',"loan_id":"L00001"}',  # an extra field (a private one, say)
    lambda d: d.replace(b",", b", ", 1),  # not compact
    lambda d: json.dumps(json.loads(d), separators=(",", ":")).encode().replace(b'{"commitment":"' + b"ab" * 32 + b'",', b"{") [:-1]
    + b',"commitment":"' + b"ab" * 32 + b'"}',  # keys out of order
    lambda d: d.replace(b"cd" * 32, b"CD" * 32),  # upper-case hex
    lambda d: d.replace(b"cd" * 32, b"cd" * 31),
    lambda d: b"[" + d + b"]",
    lambda d: b"\xff" + d,
])
def test_the_supervision_parser_is_strict(mangle) -> None:
    data = encode_supervision_entry(GOOD)
    assert parse_supervision_entry(data) == GOOD
    with pytest.raises(EntryError):
        parse_supervision_entry(mangle(data))


def test_the_anchor_parser_is_strict() -> None:
    good = AnchorEntry(7, "cd" * 32, 5, "L1", "repayment", "sv/gz", 3)
    data = encode_anchor_entry(good)
    assert parse_anchor_entry(data) == parse_anchor_entry(data.decode()) == good
    for bad in (data.replace(b'"source_index":3', b'"source_index":"3"'), data.replace(b"lender_id", b"lender"),
                data.replace(b'"source":"sv/gz"', b'"source":""'), data + b"\n", json.dumps(json.loads(data), indent=1).encode()):
        with pytest.raises(EntryError):
            parse_anchor_entry(bad)


@settings(max_examples=200, deadline=None)
@given(lenders=st.lists(st.sampled_from(["L1", "银行 \"q\"", "a" * 64, "x.y:z/1-2"]), min_size=1, max_size=8),
       source=st.sampled_from(["s.x/gz", "源 chain"]), first=st.integers(0, 2**53 - 100), times=st.integers(0, 2**53 - 1))
def test_a_blocks_anchor_entries_in_one_pass_equal_the_entry_by_entry_path(lenders, source, first, times) -> None:
    from evidence.anchor_entry import anchor_entries, anchor_of, encode_anchor_entry
    from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry, parse_supervision_entry

    block = [encode_supervision_entry(SupervisionEntry("cd" * 32, times, "ab" * 32, times // 2, lender, "repayment")) for lender in lenders]
    expected = [encode_anchor_entry(anchor_of(source, i, parse_supervision_entry(e))) for i, e in enumerate(block, first)]
    assert anchor_entries(source, first, block) == expected


def test_a_block_with_a_bad_entry_is_refused_naming_it() -> None:
    import pytest as _pytest

    from evidence.anchor_entry import anchor_entries
    from evidence.entry_codec import EntryError
    from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry

    good = encode_supervision_entry(SupervisionEntry("cd" * 32, 5, "ab" * 32, 3, "L1", "repayment"))
    for bad in (good.replace(b'"L1"', b'"L1" '), good.replace(b"5,", b"05,"), b'{"digest":"x"}', good[:-1]):
        with _pytest.raises(EntryError, match="entry 11"):
            anchor_entries("s.x/gz", 10, [good, bad])


@settings(max_examples=200, deadline=None)
@given(lender=st.sampled_from(["L1", "银行 \"q\"", "a" * 64]), source=st.sampled_from(["s.x/gz", "源 chain"]),
       index=st.integers(0, 2**53 - 1), times=st.integers(0, 2**53 - 1))
def test_anchor_facts_read_what_the_strict_parser_reads(lender, source, index, times) -> None:
    from evidence.anchor_entry import anchor_facts

    data = encode_anchor_entry(AnchorEntry(times, "ab" * 32, times // 3, lender, "repayment", source, index))
    entry = parse_anchor_entry(data)
    assert anchor_facts(data) == (entry.source, entry.source_index, entry.digest, entry.lender_id, entry.deposit_time_ms)
    for bad in (data + b" ", data.replace(b"{", b"{ ", 1), data[:-1]):
        with pytest.raises(EntryError):
            anchor_facts(bad)
