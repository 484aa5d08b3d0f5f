"""The encodings that are signed and hashed: canonical, and the fast paths equal the slow ones."""

from __future__ import annotations

import json

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from evidence.supervision_entry import SupervisionEntry, parse_supervision_entry
from supervision_chain.records import Item, commitment, entry_bytes, item_bytes, new_item_salt

ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,20}", fullmatch=True)
any_text = st.text(max_size=20)


hex64 = st.binary(min_size=32, max_size=32).map(bytes.hex)


@given(digest=hex64, loan=st.one_of(ids, any_text), event=st.integers(0, 2**53 - 1),
       kind=st.sampled_from(["contract", "repayment", "other"]), salt=hex64,
       metadata=st.none() | st.dictionaries(st.text(max_size=5), st.integers(0, 9) | st.text(max_size=5), max_size=3))
def test_item_bytes_are_rfc8785(digest, loan, event, kind, salt, metadata) -> None:
    item = Item(digest, kind, loan, event, salt, metadata)
    fields = {"digest": digest, "event_time_ms": event, "loan_id": loan, "record_type": kind, "commitment_salt": salt}
    if metadata is not None:
        fields["metadata"] = metadata
    assert item_bytes(item) == rfc8785.dumps(fields)


@given(lender=st.one_of(ids, st.text(min_size=1, max_size=20)))
def test_entry_bytes_are_the_public_entry(lender) -> None:
    item = Item("ab" * 32, "repayment", "loan-1", 5, new_item_salt())
    data = entry_bytes(lender, item, commitment(item), 7)
    parsed = json.loads(data)
    assert parsed == {"commitment": commitment(item).hex(), "deposit_time_ms": 7, "digest": "ab" * 32, "event_time_ms": 5,
                      "lender_id": lender, "record_type": "repayment"}
    assert data == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert parse_supervision_entry(data) == SupervisionEntry(commitment(item).hex(), 7, "ab" * 32, 5, lender, "repayment")
    assert b"loan-1" not in data and item.commitment_salt.encode() not in data


def test_item_salts_are_fresh_and_change_the_commitment() -> None:
    salts = {new_item_salt() for _ in range(100)}
    assert len(salts) == 100 and all(len(s) == 64 and s == s.lower() and bytes.fromhex(s) for s in salts)
    a, b = (Item("ab" * 32, "repayment", "L00001", 5, s) for s in list(salts)[:2])
    assert commitment(a) != commitment(b)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@given(value=json_values)
def test_canonical_json_is_rfc8785(value) -> None:
    from supervision_chain.records import canonical_json

    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        return  # values RFC 8785 refuses (e.g. integers beyond 2^53) are not our fast path's either
    assert canonical_json(value) == expected
