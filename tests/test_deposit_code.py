"""Deposit codes catch every single wrong character and every swap of neighbours."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.deposit_codes import ALPHABET, CodeError, check_char, format_code, is_valid, new_code, new_codes, normalize

bodies = st.text(alphabet=ALPHABET, min_size=13, max_size=13)


def test_fresh_codes_are_valid_and_distinct() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(is_valid(c) and len(c) == 14 for c in codes)
    code = next(iter(codes))
    assert normalize(format_code(code).lower()) == code
    assert normalize(" " + format_code(code) + " ") == code


def test_a_blocks_codes_at_once_are_valid_distinct_and_use_every_character_at_every_position() -> None:
    codes = new_codes(5000)
    assert len(set(codes)) == 5000 and all(is_valid(c) and len(c) == 14 and c[-1] == check_char(c[:13]) for c in codes)
    for position in range(13):  # each character position draws from all 32 (missing one by chance: < 10^-60)
        assert {c[position] for c in codes} == set(ALPHABET)
    assert new_codes(0) == [] and len(new_codes(1)) == 1


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
