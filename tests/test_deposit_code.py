"""Deposit codes catch every single wrong character and every swap of neighbours."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.deposit_codes import ALPHABET, CodeError, check_char, format_code, is_valid, new_code, normalize

bodies = st.text(alphabet=ALPHABET, min_size=13, max_size=13)


def test_fresh_codes_are_valid_and_distinct() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(is_valid(c) and len(c) == 14 for c in codes)
    code = next(iter(codes))
    assert normalize(format_code(code).lower()) == code
    assert normalize(" " + format_code(code) + " ") == code


@given(bodies.map(lambda body: body + check_char(body)))
@settings(max_examples=300)
def test_every_single_substitution_is_caught(code: str) -> None:
    for i, original in enumerate(code):
        for replacement in ALPHABET:
            if replacement != original:
                assert not is_valid(code[:i] + replacement + code[i + 1 :])


@given(bodies.map(lambda body: body + check_char(body)))
@settings(max_examples=300)
def test_every_adjacent_swap_is_caught(code: str) -> None:
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            assert not is_valid(code[:i] + code[i + 1] + code[i] + code[i + 2 :])


@pytest.mark.parametrize("text", ["", "ABC", "ABCD-EFGH-JKMN-PQRS", "ABCD-EFGH-JKMN-P*", "ABCD-EFGH-JKMN-PU"])
def test_malformed_codes_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(CodeError):
        normalize(text)


def test_confusable_letters_are_read_as_digits() -> None:
    code = new_code()
    spoken = code.replace("1", "l").replace("0", "o")
    assert normalize(spoken) == code


def test_judicial_entry_fast_path_equals_json() -> None:
    import json

    from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry
    from judicial_chain.service import judicial_entry

    for lender in ("L1", "银行 \"q\""):
        data = judicial_entry("s.x/gz", 7, encode_supervision_entry(SupervisionEntry("cd" * 32, 5, "ab" * 32, 3, lender, "repayment")))
        expected = {"deposit_time_ms": 5, "digest": "ab" * 32, "event_time_ms": 3, "lender_id": lender, "source": "s.x/gz",
                    "source_index": 7, "record_type": "repayment"}
        assert json.loads(data) == expected
        assert data == json.dumps(expected, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
