"""Borrower identifiers: valid ones normalised, every wrong check character named, the OPRF input and the pseudonym."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.borrower_ids import (
    OPRF_INPUT_PREFIX,
    USCC_CHARSET,
    BorrowerId,
    BorrowerIdError,
    check_character_enterprise,
    check_character_person,
    oprf_input,
    parse_borrower_id,
    parse_enterprise_code,
    parse_person_id,
    pseudonym,
)
from evidence.loan_reports import BORROWER_KINDS, parse_report

FAST = settings(max_examples=60, deadline=None)
PUBLISHED_CODES = [  # published unified social credit codes (the GB 32100 example, and large companies' licences)
    "91350100M000100Y43",
    "9144030071526726XG",
    "91330100716105852F",
    "914403001922038216",
]


@st.composite
def person_prefixes(draw: Any) -> str:
    """17 digits: a region starting 1–8, a real birth date 1900..2020, a 3-digit sequence."""
    region = str(draw(st.integers(1, 8))) + draw(st.text("0123456789", min_size=5, max_size=5))
    born = draw(st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)))
    return region + born.strftime("%Y%m%d") + draw(st.text("0123456789", min_size=3, max_size=3))


ENTERPRISE_PREFIXES = st.text(USCC_CHARSET, min_size=17, max_size=17)


def test_reference_person_id() -> None:
    assert check_character_person("11010519491231002") == "X"
    assert parse_borrower_id("11010519491231002X") == BorrowerId("person", "11010519491231002X")
    assert parse_borrower_id("11010519491231002x").value == "11010519491231002X"
    assert parse_borrower_id(" １１０１０５１９４９１２３１００２ｘ ").value == "11010519491231002X"  # full-width, spaces


@pytest.mark.parametrize("code", PUBLISHED_CODES)
def test_published_enterprise_codes(code: str) -> None:
    assert parse_borrower_id(code) == BorrowerId("enterprise", code)
    assert parse_borrower_id(code.lower()).value == code
    assert parse_enterprise_code(code).kind == "enterprise"


@FAST
@given(prefix=person_prefixes())
def test_valid_person_ids(prefix: str) -> None:
    value = prefix + check_character_person(prefix)
    assert parse_borrower_id(value.lower()) == BorrowerId("person", value)
    assert parse_borrower_id(value, "person") == parse_person_id(value)


@FAST
@given(prefix=ENTERPRISE_PREFIXES)
def test_valid_enterprise_codes(prefix: str) -> None:
    value = prefix + check_character_enterprise(prefix)
    assert parse_borrower_id(value.lower(), "enterprise") == BorrowerId("enterprise", value)
    if not (value[0] != "9" and value[:17].isdigit() and value[17] in "0123456789X"):  # a code shaped like a person's needs the kind
        assert parse_borrower_id(value) == BorrowerId("enterprise", value)


@FAST
@given(prefix=person_prefixes())
def test_every_wrong_person_check_character_is_named(prefix: str) -> None:
    expected = check_character_person(prefix)
    for wrong in sorted(set("0123456789X") - {expected}):
        with pytest.raises(BorrowerIdError, match=f"check character should be {expected}, not {wrong}$"):
            parse_borrower_id(prefix + wrong)


@FAST
@given(prefix=ENTERPRISE_PREFIXES)
def test_every_wrong_enterprise_check_character_is_named(prefix: str) -> None:
    expected = check_character_enterprise(prefix)
    for wrong in sorted(set(USCC_CHARSET) - {expected}):
        with pytest.raises(BorrowerIdError, match=f"check character should be {expected}, not {wrong}$"):
            parse_enterprise_code(prefix + wrong)


def test_check_character_of_all_zero_weights_sum() -> None:
    """Σ ≡ 0 (mod 31) gives check value 31, written as 0."""
    assert check_character_enterprise("0" * 17) == "0"
    assert check_character_person("0" * 17) == "1"


@pytest.mark.parametrize(("text", "message"), [
    ("11010519491231002", "must be 18 characters, not 17"),
    ("11010519491231002X1", "must be 18 characters, not 19"),
    ("", "must be 18 characters, not 0"),
    ("91350100M000100Y4", "must be 18 characters, not 17"),
])
def test_wrong_length(text: str, message: str) -> None:
    with pytest.raises(BorrowerIdError, match=message):
        parse_borrower_id(text)


@pytest.mark.parametrize("letter", "IOSVZ")
def test_letters_outside_the_uscc_set(letter: str) -> None:
    code = "91350100M000100Y43"
    with pytest.raises(BorrowerIdError, match=f"no I, O, S, V, Z\\), not '{letter}'"):
        parse_borrower_id(code[:9] + letter + code[10:])


def test_letters_in_a_person_id() -> None:
    for bad in ("1101051949123100AX", "11010519491231002Y", "A1010519491231002X"):
        with pytest.raises(BorrowerIdError, match="17 digits and a final digit or X"):
            parse_person_id(bad)
    with pytest.raises(BorrowerIdError, match="unified social credit code: check character"):
        parse_borrower_id("1101051949123100AX")  # not person-shaped: read as a code, whose check fails


@pytest.mark.parametrize(("date", "message"), [
    ("19490230", "does not exist"),
    ("19491301", "does not exist"),
    ("20230229", "does not exist"),
    ("18991231", "before 1900"),
    ("29991231", "in the future"),
])
def test_impossible_birth_dates(date: str, message: str) -> None:
    prefix = "110105" + date + "002"
    with pytest.raises(BorrowerIdError, match=message):
        parse_borrower_id(prefix + check_character_person(prefix))


def test_birth_date_against_today_and_leap_day() -> None:
    prefix = "110105" + "20240229" + "002"
    value = prefix + check_character_person(prefix)
    assert parse_person_id(value, today=dt.date(2024, 2, 29)).value == value
    with pytest.raises(BorrowerIdError, match="in the future"):
        parse_person_id(value, today=dt.date(2024, 2, 28))


def test_region_code() -> None:
    for first in "09":
        prefix = first + "10105" + "19491231" + "002"
        with pytest.raises(BorrowerIdError, match=f"first digit is 1–8, not {first}"):
            parse_person_id(prefix + check_character_person(prefix))


def test_messages_do_not_repeat_the_identifier() -> None:
    with pytest.raises(BorrowerIdError) as caught:
        parse_borrower_id("110105194912310023")
    assert "1101051949" not in str(caught.value)


def test_kind_is_checked() -> None:
    with pytest.raises(BorrowerIdError, match="one of person, enterprise"):
        parse_borrower_id("11010519491231002X", "company")
    with pytest.raises(BorrowerIdError, match="unified social credit code"):
        parse_borrower_id("11010519491231002X", "enterprise")
    assert {parse_borrower_id("11010519491231002X").kind, parse_borrower_id(PUBLISHED_CODES[0]).kind} == set(BORROWER_KINDS)


def test_oprf_inputs_of_person_and_enterprise_differ() -> None:
    person = parse_person_id("11010519491231002X")
    assert oprf_input(person) == OPRF_INPUT_PREFIX + b"person\x00" + b"11010519491231002X"
    # the same 18 characters as both kinds (a digit-only code) must still give different inputs
    value = "1" * 17
    value += check_character_person(value)
    digits = BorrowerId("enterprise", value)
    assert oprf_input(BorrowerId("person", value)) != oprf_input(digits)
    assert oprf_input(parse_enterprise_code(PUBLISHED_CODES[0])).startswith(b"fivechains.borrower/v1\x00enterprise\x00")


def test_pseudonym_is_accepted_by_reports() -> None:
    output = bytes(range(64))
    name = pseudonym(output)
    assert name == bytes(range(32)).hex() and len(name) == 64 and name == name.lower()
    report = parse_report("consent", {"borrower": name, "purpose": "credit check", "valid_from": "2026-01-01", "valid_to": "2026-12-31"})
    assert report.borrower == name  # type: ignore[union-attr]
    with pytest.raises(BorrowerIdError, match="64-byte"):
        pseudonym(bytes(32))
