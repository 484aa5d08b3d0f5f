"""The encodings that are signed and hashed: canonical, and the fast paths equal the slow ones."""

from __future__ import annotations

import json

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from supervision_chain.records import Item, entry_bytes, item_bytes

ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,20}", fullmatch=True)
any_text = st.text(max_size=20)


@given(digest=st.from_regex(r"[0-9a-f]{64}", fullmatch=True), loan=st.one_of(ids, any_text), event=st.integers(0, 2**53 - 1),
       kind=st.sampled_from(["contract", "repayment", "other"]))
def test_item_bytes_are_rfc8785(digest, loan, event, kind) -> None:
    item = Item(digest, kind, loan, event)
    assert item_bytes(item) == rfc8785.dumps({"digest": digest, "event": event, "loan": loan, "type": kind})


@given(lender=st.one_of(ids, any_text))
def test_entry_bytes_are_json_with_sorted_keys(lender) -> None:
    item = Item("ab" * 32, "repayment", "loan-1", 5)
    data = entry_bytes(lender, item, bytes(32), 7)
    parsed = json.loads(data)
    assert parsed == {"accepted": 7, "digest": "ab" * 32, "event": 5, "item": "00" * 32, "lender": lender, "type": "repayment"}
    assert data == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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
