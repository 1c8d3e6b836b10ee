"""双告知 rules: reading a register row and an award, and the reminder a person is due at the window's edges."""

from __future__ import annotations

from datetime import date

import pytest

from lianban.domain.register import PENSION_KIND, Insured, read_award, read_insured, reminder, window
from lianban.domain.retirement import Category, month_index
from lianban.domain.sms import is_mobile

ROW = {"id_number": "34160219650512001x", "birth_month": "1965-05", "original_age": "60", "phone": "13912345678",
       "contribution_months": 300}


def test_a_register_row_is_read_with_its_category_from_the_original_age() -> None:
    person = read_insured(ROW)
    assert person == Insured("34160219650512001X", month_index(1965, 5), Category.MALE, "13912345678", 300)
    woman = {**ROW, "id_number": "341602197104120023", "birth_month": "1971-04"}
    assert read_insured({**woman, "original_age": "55"}).category is Category.FEMALE55  # type: ignore[union-attr]


@pytest.mark.parametrize("change", [{"birth_month": "1965-13"}, {"birth_month": "196505"}, {"birth_month": None},
                                    {"original_age": "45"}, {"id_number": " "}])
def test_a_row_without_a_usable_birth_month_category_or_id_is_unreadable(change: dict[str, object]) -> None:
    assert read_insured({**ROW, **change}) is None


def test_a_bad_phone_or_contribution_is_kept_for_the_gateway_to_report() -> None:
    person = read_insured({**ROW, "phone": "  ", "contribution_months": "unknown"})
    assert person is not None and person.phone is None and person.contribution_months is None


@pytest.mark.parametrize(("number", "original"), [("34160219650512001X", "55"), ("34160219650512001X", "50"),
                                                  ("341602197104120023", "60")])
def test_a_category_the_id_numbers_sex_digit_contradicts_is_unreadable(number: str, original: str) -> None:
    # a man recorded 原法定退休年龄 55 or 50 was told he retires at 55 or 50 and some months; a woman 60, at 60+
    assert read_insured({**ROW, "id_number": number, "original_age": original}) is None


def test_an_id_number_that_is_no_valid_one_is_not_judged_by_its_sex_digit() -> None:
    assert read_insured({**ROW, "id_number": "34160219650512002", "original_age": "60"}) is not None


@pytest.mark.parametrize("months", ["²", "3²", "①"])
def test_a_contribution_of_digits_int_cannot_read_is_unreadable_not_a_crash(months: str) -> None:
    # str.isdigit() says yes to "²", int() then raises: one such value stopped the whole reminders run
    person = read_insured({**ROW, "contribution_months": months})
    assert person is not None and person.contribution_months is None


@pytest.mark.parametrize(("today", "due"), [
    (date(2025, 4, 30), True),  # man born 1965-05 retires 2025-07 (60y2m): 3 months ahead, the edge
    (date(2025, 3, 31), False),  # 4 months ahead
    (date(2025, 7, 1), True),  # his retirement month itself
    (date(2025, 8, 1), False),  # past
])
def test_the_window_runs_from_this_month_through_three_ahead(today: date, due: bool) -> None:
    person = read_insured(ROW)
    assert person is not None and (reminder(person, window(today, 3)) is not None) is due


def test_the_reminder_states_the_month_and_age_and_notes_a_short_contribution() -> None:
    person = read_insured(ROW)
    assert person is not None
    notice = reminder(person, window(date(2025, 5, 1), 3))
    assert notice is not None and notice.kind == "retirement_reminder" and notice.period == "2025-07"
    assert notice.values == {"retirement_month": "2025年7月", "statutory_age": "60岁2个月"}
    short = reminder(read_insured({**ROW, "contribution_months": 179}), window(date(2025, 5, 1), 3))  # type: ignore[arg-type]
    assert short is not None and short.kind == "retirement_reminder_short"
    assert short.values["contribution_months"] == 179 and short.values["minimum_months"] == 180


def test_nobody_is_due_in_a_month_the_reform_skips() -> None:
    # men born 1965-04 retire 2025-05, born 1965-05 retire 2025-07: no man reaches 60+ in 2025-06
    june = window(date(2025, 6, 1), 0)
    born = [read_insured({**ROW, "birth_month": f"1965-{m:02d}"}) for m in range(1, 13)]
    assert [reminder(p, june) for p in born if p is not None] == [None] * 12


def test_an_award_is_read_into_its_pension_notice() -> None:
    award = read_award({"id_number": "341602196505120011", "phone": "13912345678", "monthly_amount": "3256.8",
                        "start_month": "2026-01", "pay_day": "15"})
    assert award is not None and award.notice.kind == PENSION_KIND and award.notice.period == "2026-01"
    assert award.notice.values == {"monthly_amount": "3256.80", "start_month": "2026年1月", "pay_day": 15}


@pytest.mark.parametrize(("amount", "told"), [("3256.805", "3256.81"), ("3256.804", "3256.80"), ("0.005", "0.01")])
def test_an_amount_of_more_than_two_decimals_is_told_rounded_half_up(amount: str, told: str) -> None:
    award = read_award({"id_number": "341602196505120011", "phone": None, "monthly_amount": amount,
                        "start_month": "2026-01", "pay_day": "15"})
    assert award is not None and award.notice.values["monthly_amount"] == told  # 四舍五入, not banker's rounding


@pytest.mark.parametrize("amount", ["0.004", "999999.995", "1e30"])
def test_an_amount_that_rounds_to_nothing_or_past_the_limit_is_unreadable(amount: str) -> None:
    # 0.004 was told as 月养老金0.00元; 999999.995 became 1000000.00, which the template refuses: a dead notice
    assert read_award({"id_number": "341602196505120011", "phone": None, "monthly_amount": amount,
                       "start_month": "2026-01", "pay_day": "15"}) is None


@pytest.mark.parametrize("change", [{"monthly_amount": "NaN"}, {"monthly_amount": "-1"}, {"monthly_amount": ""},
                                    {"pay_day": "32"}, {"pay_day": "²"}, {"start_month": "2026-1"},
                                    {"id_number": None}])
def test_an_award_that_cannot_be_read_is_refused(change: dict[str, object]) -> None:
    row = {"id_number": "341602196505120011", "phone": None, "monthly_amount": "3256.80", "start_month": "2026-01",
           "pay_day": "15"}
    assert read_award({**row, **change}) is None


@pytest.mark.parametrize("written", ["+86 138 0013 8000", "138-0013-8000", "86 13800138000", "8613800138000",
                                     "0086-138-0013-8000", "+86-138 0013 8000", " 138 0013 8000 ",
                                     "１３８００１３８０００"])
def test_a_mobile_number_written_with_a_country_code_spaces_or_hyphens_is_read_as_its_11_digits(
        written: str) -> None:
    """HRSS's register writes numbers as people gave them: "+86 138…", "138-…". Kept as written, each was judged
    no mobile number (号码无效) and the person was never texted; now the 11 digits are read out of it."""
    person = read_insured({**ROW, "phone": written})
    award = read_award({"id_number": "341602196505120011", "phone": written, "monthly_amount": "3256.80",
                        "start_month": "2026-01", "pay_day": "15"})
    assert person is not None and person.phone == "13800138000"
    assert award is not None and award.phone == "13800138000"


@pytest.mark.parametrize("written", ["138 0013 800", "+1 415 555 0100", "+86 0551 6288 1234", "138O0138000",
                                     "86-86-13800138000", "1380013800013800"])
def test_a_number_that_writes_no_mobile_number_is_kept_for_the_gateway_to_report(written: str) -> None:
    person = read_insured({**ROW, "phone": written})
    assert person is not None and person.phone == written.strip() and not is_mobile(person.phone)
