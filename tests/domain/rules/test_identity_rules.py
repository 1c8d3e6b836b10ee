"""身份证号码, 统一社会信用代码 and mobile number rules: one stable code per problem, each edge in a table."""

from __future__ import annotations

from datetime import date

import pytest
from rule_kit import USCC, codes, id_ending_in, id_number, prefixed

GOOD = id_number(date(1965, 5, 10))
FULLWIDTH = GOOD.translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)})


def test_the_synthetic_applicant_passes_every_rule() -> None:
    assert codes() == []


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (id_ending_in("X"), []),  # upper-case X check character
        (id_ending_in("X")[:17] + "x", ["ID_LOWER_X"]),  # the right check character, written lower-case
        (GOOD[:17] + ("0" if GOOD[17] != "0" else "1"), ["ID_CHECK"]),
        (id_ending_in("X")[:17] + "0", ["ID_CHECK"]),
        (FULLWIDTH, ["ID_FULLWIDTH"]),  # never silently converted
        (GOOD[:6] + " " + GOOD[6:17], ["ID_SPACE"]),
        (GOOD + " ", ["ID_SPACE"]),
        (" " + GOOD, ["ID_SPACE"]),
        (GOOD[:6] + GOOD[8:17], ["ID_15_DIGIT"]),  # 15-digit legacy number: convert it
        (GOOD[:17], ["ID_FORMAT"]),
        ("34160219650510ABCD", ["ID_FORMAT"]),
        ("", []),  # REQUIRED_ID_NUMBER says it (below)
    ],
)
def test_id_number_shapes(number: str, expected: list[str]) -> None:
    assert prefixed("ID_", id_number=number) == expected


@pytest.mark.parametrize(
    ("birth", "valid"),
    [("19640229", True), ("19650229", False), ("20000229", True), ("19000229", False), ("19651301", False),
     ("19650431", False), ("19650400", False)],
)
def test_29_february_and_impossible_dates(birth: str, valid: bool) -> None:
    first17 = "341602" + birth + "007"
    from lianban.domain.identity import id_check_digit

    number = first17 + id_check_digit(first17)
    assert ("ID_DATE" in codes(id_number=number)) is not valid


@pytest.mark.parametrize(
    ("birth", "expected"),
    [(date(2030, 1, 1), ["ID_FUTURE"]), (date(2025, 6, 21), ["ID_FUTURE"]), (date(2000, 1, 1), ["ID_AGE"]),
     (date(1985, 6, 21), ["ID_AGE"]), (date(1985, 6, 20), []), (date(1954, 6, 21), []),
     (date(1954, 6, 20), ["ID_AGE"])],
)
def test_birth_after_approval_or_outside_working_age(birth: date, expected: list[str]) -> None:
    """Approved 2025-06-20: born later is ID_FUTURE; 40–70 years old then is a retirement applicant."""
    assert [c for c in prefixed("ID_", id_number=id_number(birth))] == expected


@pytest.mark.parametrize(
    ("area", "expected"),
    [("341602", []), ("341623", []), ("110105", []), ("810000", []), ("830000", []), ("001602", ["ID_AREA"]),
     ("991602", ["ID_AREA"]), ("340002", ["ID_AREA"]), ("191602", ["ID_AREA"])],
)
def test_area_codes(area: str, expected: list[str]) -> None:
    assert prefixed("ID_", id_number=id_number(date(1965, 5, 10), area=area)) == expected


@pytest.mark.parametrize(
    ("uscc", "expected"),
    [(USCC, []), (USCC[:17] + ("0" if USCC[17] != "0" else "1"), ["USCC_CHECK"]),
     (USCC.lower(), ["USCC_ALPHABET"]), (USCC[:10] + "I" + USCC[11:], ["USCC_ALPHABET"]),
     (USCC[:17], ["USCC_FORMAT"]), ("91ABCDEF" + USCC[8:], ["USCC_FORMAT"]), ("", [])],
)
def test_unified_social_credit_code(uscc: str, expected: list[str]) -> None:
    assert prefixed("USCC_", employer_uscc=uscc) == expected


@pytest.mark.parametrize(
    ("phone", "ok"),
    [("13912345678", True), ("19912345678", True), ("1391234567", False), ("139123456789", False),
     ("23912345678", False), ("12912345678", False), ("１３９１２３４５６７８", False), ("139 1234 5678", False)],
)
def test_mobile_numbers(phone: str, ok: bool) -> None:
    assert ("PHONE" not in codes(phone=phone)) is ok
