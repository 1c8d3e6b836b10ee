"""GB 11643 ID numbers, GB 32100 credit codes, phone numbers and masking (lianban.domain.identity)."""

from __future__ import annotations

from datetime import date

import pytest

from lianban.domain.identity import (
    BOZHOU_AREAS,
    id_birth_date,
    id_check_digit,
    id_is_male,
    id_problem,
    mask_id,
    mask_name,
    mask_phone,
    phone_problem,
    redact_text,
    uscc_check_char,
    uscc_problem,
)
from simulators.people import make_id_number

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Published codes whose check character the GB 32100 formula (below) confirms.
PUBLIC_USCC = ("91350100M000100Y43", "91110000600037341L", "91440300708461136T", "91110108551385082Q")


def iso7064_mod11_2(first17: str) -> str:
    """GB 11643 written as the standard states it: weights 2^(18-i) mod 11, check = (12 - S mod 11) mod 11."""
    s = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    check = (12 - s % 11) % 11
    return "X" if check == 10 else str(check)


def gb32100(first17: str) -> str:
    """GB 32100 as the standard states it: weights 3^(i-1) mod 31, C18 = 31 - S mod 31 (31 → 0)."""
    s = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return USCC_ALPHABET[(31 - s % 31) % 31]


def test_synthetic_id_has_the_standard_check_digit_and_embeds_birth_area_and_sex() -> None:
    value = make_id_number("341622", date(1965, 1, 15), 6, male=False)
    assert value[:14] == "34162219650115" and value[17] == iso7064_mod11_2(value[:17])
    assert id_problem(value) is None
    assert id_birth_date(value) == date(1965, 1, 15) and not id_is_male(value)
    assert id_is_male(make_id_number("341622", date(1965, 1, 15), 6, male=True))


def test_check_digit_x() -> None:
    value = make_id_number("341622", date(1965, 1, 15), 1, male=True)  # found by search
    assert value == "34162219650115003X"
    assert id_check_digit(value[:17]) == iso7064_mod11_2(value[:17]) == "X"
    assert id_problem(value) is None


@pytest.mark.parametrize("seq", range(0, 40))
def test_check_digit_agrees_with_the_standard_formula(seq: int) -> None:
    value = make_id_number("341623", date(1970 + seq % 7, 1 + seq % 12, 1 + seq % 28), seq, seq % 2 == 0)
    assert id_check_digit(value[:17]) == iso7064_mod11_2(value[:17])


@pytest.mark.parametrize("digits", ["3416231970010100", "341623197001010012"])
def test_a_check_digit_is_worked_out_from_17_digits_only(digits: str) -> None:
    with pytest.raises(ValueError, match="17 digits"):
        id_check_digit(digits)


def test_wrong_check_digit_is_rejected() -> None:
    value = make_id_number("341602", date(1964, 11, 3), 42, male=True)
    wrong = next(c for c in "0123456789X" if c != value[17])
    assert id_problem(value[:17] + wrong) == "身份证号码校验位错误"


@pytest.mark.parametrize("birth", ["19650230", "19651301", "19650000"])
def test_impossible_birth_date_is_rejected(birth: str) -> None:
    first17 = f"341621{birth}003"
    assert id_problem(first17 + id_check_digit(first17)) == "身份证号码中的出生日期无效"


@pytest.mark.parametrize("value", ["", "34162219650115003", "34162219650115003X1", "3416221965011500AX"])
def test_wrong_length_or_shape_is_rejected(value: str) -> None:
    assert id_problem(value) == "身份证号码应为18位（末位可为X）"


@pytest.mark.parametrize("code", PUBLIC_USCC)
def test_public_credit_codes_are_valid(code: str) -> None:
    assert gb32100(code[:17]) == code[17]  # the example itself is right, by the standard
    assert uscc_check_char(code[:17]) == code[17]
    assert uscc_problem(code) is None


@pytest.mark.parametrize("position", [0, 2, 8, 12, 16, 17])
def test_one_changed_character_in_a_credit_code_is_caught(position: int) -> None:
    code = PUBLIC_USCC[0]
    swapped = "1" if code[position] != "1" else "2"
    assert uscc_problem(code[:position] + swapped + code[position + 1:]) == "统一社会信用代码校验位错误"


@pytest.mark.parametrize("code", ["91350100M000100Y4", "91350100M000100YI3", "9135010OM000100Y43", ""])
def test_malformed_credit_code_is_rejected(code: str) -> None:
    assert uscc_problem(code) == "统一社会信用代码应为18位（数字或大写字母，不含I、O、S、V、Z）"


def test_phone_numbers() -> None:
    assert phone_problem("13812345678") is None
    for bad in ("1381234567", "138123456789", "23812345678", "12812345678", ""):
        assert phone_problem(bad) == "联系电话应为以1开头的11位手机号码"


def test_bozhou_areas() -> None:
    assert set(BOZHOU_AREAS) == {"341602", "341621", "341622", "341623"}


def test_masking_keeps_only_what_a_clerk_needs() -> None:
    value = make_id_number("341622", date(1965, 1, 15), 6, male=True)
    assert mask_id(value) == "341622********" + value[-4:]
    assert mask_id("12345") == "*****"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三") == "张*" and mask_name("欧阳修文") == "欧***" and mask_name("") == ""


@pytest.mark.parametrize("id_number", ["34162219650115006X", "34162219650115006x", "34162219650115006Ｘ",
                                       "３４１６２２１９６５０１１５００６Ｘ", "341622196501150065"])
def test_an_id_number_in_free_text_is_masked_whatever_width_it_was_typed_in(id_number: str) -> None:
    said = redact_text(f"申请人{id_number}，电话１３８１２３４５６７８，已受理")
    assert id_number not in said and "１３８１２３４５６７８" not in said and said.endswith("，已受理")
    assert "********" in said and "****" in said


@pytest.mark.parametrize("written", [
    "ID{id}", "{id}号", "{id3}", "{id_spaced}", "{id_dashed}", "{id17}5X",  # next to letters, grouped, a digit too many
])
def test_an_id_number_written_as_people_write_it_is_masked(written: str) -> None:
    """Found by a search for leaks: a department's reason quoting the applicant's ID next to a letter, grouped by
    spaces or hyphens, or typed with a digit too many went into the ledger and on to 皖事通办 in the clear."""
    value = make_id_number("341621", date(1965, 12, 19), 3, male=True)
    text = "申请人刘红（" + written.format(
        id=value, id3=value.lower(), id17=value[:17], id_spaced=f"{value[:6]} {value[6:14]} {value[14:]}",
        id_dashed="-".join(value[i:i + 4] for i in range(0, 18, 4))) + "），材料已收"
    said = redact_text(text)
    assert value[6:14] not in said.replace(" ", "").replace("-", ""), said
    assert "341621********" in said and said.endswith("），材料已收")


def test_a_first_generation_id_number_of_15_digits_is_masked() -> None:
    said = redact_text("旧证341621651219003，新证见档案")
    assert "651219" not in said and said == "旧证341621******003，新证见档案"  # not the day of birth's last digit


@pytest.mark.parametrize("text", ["电话 138-0013-8000 341622-19900101-0012", "138 0013 8000 341622 1990 0101 0012",
                                  "1 341622 19900101 0012", "No.12 3416 2219 9001 0100 12"])
def test_an_id_number_written_just_after_another_number_is_still_masked(text: str) -> None:
    """Found in review: a run of the number before and the ID's start, no ID itself (no birth date), was passed
    over whole, and the ID it had begun was never looked at."""
    assert "19900101" not in redact_text(text).replace(" ", "").replace("-", "")


@pytest.mark.parametrize("phone", ["+8615962194150", "8615962194150", "+86 159 6219 4150", "0086-159-6219-4150",
                                   "159-6219-4150", "159 6219 4150", "＋８６１５９６２１９４１５０"])
def test_a_mobile_number_with_the_country_code_or_grouped_is_masked(phone: str) -> None:
    said = redact_text(f"电话{phone}，请联系")
    digits = "".join(c for c in said if c.isdigit())
    assert "6219" not in said and "６２１９" not in said and digits.endswith(("4150", "４１５０")), said
    assert said.startswith("电话") and said.endswith("，请联系") and "****" in said


@pytest.mark.parametrize("text", ["sm3=3f2a1234567890123456bc", "BZTX202605000014", "2026-12-08 12:00:00",
                                  "批次A123456999999991234", "流水号 000000000000000"])
def test_runs_of_digits_that_are_no_id_or_mobile_number_are_left_as_they_are(text: str) -> None:
    """A digest's or a key's digits, a 办件编号, a time: no birth date where an ID has one, no mobile number."""
    assert redact_text(text) == text
