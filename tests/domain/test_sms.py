"""SMS rules (lianban.domain.sms): segments at the 70/67 edges, templates checked at load, refusals that never
echo a value, and quiet hours from instants in any zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lianban.domain.clock import BEIJING
from lianban.domain.sms import (
    MessageRefused,
    QuietHours,
    TemplateError,
    allowed_at,
    has_id_number,
    in_quiet_hours,
    load_templates,
    parse_templates,
    segments,
    sms_length,
)
from simulators.people import make_id_number

SIGNATURE = "【亳州人社】"  # 6 characters
SOURCE = Path("templates.yaml")
ID_NUMBER = make_id_number("341622", date(1965, 3, 1), 12, male=True)


def book(text: str, max_segments: int = 1, max_chars: int = 500, **placeholders: Any) -> Any:
    """A one-template book ("t") with `text` and `placeholders` (name → declaration)."""
    doc = {"signature": SIGNATURE, "max_chars": max_chars,
           "templates": {"t": {"name": "测试", "text": text, "max_segments": max_segments,
                               "placeholders": placeholders}}}
    return parse_templates(doc, SOURCE)


# -- length and segments ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("length", "expected"), [
    (0, 0), (1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4),
])
def test_segments_are_70_for_one_and_67_each_when_concatenated(length: int, expected: int) -> None:
    assert segments("字" * length) == expected


def test_letters_digits_and_punctuation_count_one_like_hanzi_and_no_160_character_mode() -> None:
    assert sms_length("Ab1,，。【】") == 8
    assert segments("a" * 70) == 1
    assert segments("a" * 71) == 2  # GSM 7-bit would fit 160: domestic gateways count UCS-2


def test_a_character_outside_the_bmp_counts_two() -> None:
    assert sms_length("𠮷") == 2
    assert segments("𠮷" * 35) == 1
    assert segments("𠮷" * 35 + "字") == 2


# -- templates at load ------------------------------------------------------------------------------------------
def test_a_worst_case_of_exactly_70_characters_is_one_segment_and_71_is_refused() -> None:
    fits = book("您" * 54 + "{x}", x={"max_length": 10})  # 6 + 54 + 10 = 70
    assert segments(fits.worst_case("t")) == 1

    with pytest.raises(TemplateError) as refused:
        book("您" * 55 + "{x}", x={"max_length": 10})
    assert "最长情形 71 字，需 2 条短信，超过 max_segments 1" in str(refused.value)
    assert "模板 t" in str(refused.value) and "templates.yaml" in str(refused.value)


def test_a_worst_case_of_134_fits_two_segments_and_135_does_not() -> None:
    assert segments(book("您" * 118 + "{x}", 2, x={"max_length": 10}).worst_case("t")) == 2
    with pytest.raises(TemplateError, match="最长情形 135 字，需 3 条短信"):
        book("您" * 119 + "{x}", 2, x={"max_length": 10})


def test_the_gateway_limit_caps_the_worst_case() -> None:
    with pytest.raises(TemplateError, match="超过网关上限 max_chars 100"):
        book("您" * 95, 5, max_chars=100)


@pytest.mark.parametrize("text", ["您好{}", "您好{0}", "您好{a.b}", "您好{a[0]}", "您好{a!r}", "您好{a:>5}",
                                  "您好{a", "您好a}"])
def test_a_malformed_placeholder_is_refused_at_load(text: str) -> None:
    with pytest.raises(TemplateError, match="模板 t"):
        book(text, a={"max_length": 3})


def test_placeholders_must_match_their_declarations_both_ways() -> None:
    with pytest.raises(TemplateError, match="未声明：b"):
        book("{a}{b}", a={"max_length": 3})
    with pytest.raises(TemplateError, match="未使用：c"):
        book("{a}", a={"max_length": 3}, c={"max_length": 3})
    with pytest.raises(TemplateError, match="max_length"):
        book("{a}", a={"pattern": "^1$"})


@pytest.mark.parametrize(("extra", "fault"), [
    ({"quiet_hours": "never"}, "quiet_hours 应为 respect 或 ignore"),
    ({"max_segments": 0}, "max_segments 应为正整数"),
])
def test_a_bad_policy_or_budget_is_named(extra: dict[str, Any], fault: str) -> None:
    doc = {"signature": SIGNATURE, "templates": {"t": {"text": "您好", **extra}}}
    with pytest.raises(TemplateError, match=fault):
        parse_templates(doc, SOURCE)


def test_a_bad_pattern_is_named() -> None:
    with pytest.raises(TemplateError, match="占位符 a 的 pattern 不是合法的正则表达式"):
        book("{a}", a={"max_length": 3, "pattern": "(["})


def test_a_template_holding_an_id_number_is_refused_at_load() -> None:
    with pytest.raises(TemplateError, match="疑似身份证号码") as refused:
        book(f"测试{ID_NUMBER}")
    assert ID_NUMBER not in str(refused.value)


def test_the_signature_must_be_a_bracketed_name() -> None:
    doc = {"signature": "亳州人社", "templates": {"t": {"text": "您好"}}}
    with pytest.raises(TemplateError, match="signature"):
        parse_templates(doc, SOURCE)


def test_a_missing_template_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"nowhere\.yaml"):
        load_templates(tmp_path / "nowhere.yaml")


# -- rendering ----------------------------------------------------------------------------------------------------
def test_the_shipped_reminder_renders_with_signature_and_values() -> None:
    templates = load_templates()
    text = templates.render("retirement_reminder", retirement_month="2025年7月", statutory_age="60岁4个月")
    assert text.startswith("【亳州人社】")
    assert "您将于2025年7月达到法定退休年龄（60岁4个月）" in text
    assert "人社窗口" in text and "皖事通办" in text
    assert segments(text) == 2


def test_the_shipped_pension_notice_names_amount_start_month_and_pay_day() -> None:
    text = load_templates().render("pension_notice", monthly_amount="3125.40", start_month="2025年7月", pay_day=15)
    assert "月养老金3125.40元，自2025年7月起发放，每月15日发放" in text


def test_every_shipped_template_fits_its_budget_at_its_longest_and_knows_its_quiet_hours() -> None:
    templates = load_templates()
    for key, t in templates.templates.items():
        assert segments(templates.worst_case(key)) <= t.max_segments, key
    policies = {key: t.quiet_hours for key, t in templates.templates.items()}
    assert policies["incident_opened"] is policies["incident_resolved"] is QuietHours.IGNORE
    assert {policies[k] for k in ("retirement_reminder", "retirement_reminder_short", "pension_notice",
                                  "daily_summary")} == {QuietHours.RESPECT}


def test_a_missing_placeholder_is_named() -> None:
    with pytest.raises(TemplateError, match="缺少占位符 statutory_age 的值"):
        load_templates().render("retirement_reminder", retirement_month="2025年7月")


def test_an_unexpected_value_and_an_unknown_template_are_named() -> None:
    templates = load_templates()
    with pytest.raises(TemplateError, match="没有占位符 name"):
        templates.render("retirement_reminder", retirement_month="2025年7月", statutory_age="60岁", name="王")
    with pytest.raises(TemplateError, match="未知的短信模板 'nope'"):
        templates.render("nope")


def test_an_id_number_in_a_value_is_refused_without_repeating_it() -> None:
    t = book("告警：{what}", 2, what={"max_length": 40})
    with pytest.raises(MessageRefused) as refused:
        t.render("t", what=f"号码{ID_NUMBER}有误")
    assert refused.value.code == "ID_NUMBER"
    assert ID_NUMBER not in str(refused.value) and ID_NUMBER[-6:] not in str(refused.value)


def test_an_id_number_split_over_two_placeholders_or_in_full_width_digits_is_refused() -> None:
    t = book("{a}{b}", 1, a={"max_length": 9}, b={"max_length": 9})
    with pytest.raises(MessageRefused):
        t.render("t", a=ID_NUMBER[:9], b=ID_NUMBER[9:])
    full_width = ID_NUMBER.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert has_id_number(f"编号{full_width}。")
    assert not has_id_number(f"编号{ID_NUMBER}1")  # 19 digits: not an ID number's shape


def test_an_id_number_ending_in_a_full_width_x_is_refused() -> None:
    numbers = (make_id_number("341622", date(1965, 3, 1), seq, male=True) for seq in range(1, 1000))
    with_x = next(n for n in numbers if n.endswith("X"))
    full_width = with_x.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert has_id_number(f"编号{full_width}。") and has_id_number(f"编号{with_x[:17]}Ｘ。")
    t = book("告警：{what}", 2, what={"max_length": 40})
    with pytest.raises(MessageRefused):
        t.render("t", what=f"身份证{full_width}无记录")


def test_a_value_too_long_or_off_pattern_is_refused_naming_the_placeholder_only() -> None:
    templates = load_templates()
    with pytest.raises(MessageRefused, match="占位符 pay_day 的值格式不符") as refused:
        templates.render("pension_notice", monthly_amount="3000", start_month="2025年7月", pay_day="32")
    assert refused.value.code == "VALUE"
    with pytest.raises(MessageRefused, match="占位符 what 的值超长（最多 40 字）"):
        templates.render("incident_opened", incident="INC-1", department="卫健委", what="字" * 41,
                         since="12月2日21:05", count=3, runbook="第3.2节")


# -- quiet hours -------------------------------------------------------------------------------------------------
def utc(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> datetime:
    return datetime(2025, 12, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(("instant", "expected"), [
    pytest.param(utc(12, 59, 59), utc(12, 59, 59), id="20:59:59-sends"),
    pytest.param(utc(13), utc(0, day=2), id="21:00-waits-for-08:00-next-day"),
    pytest.param(utc(15, 59, 59), utc(0, day=2), id="23:59:59-waits"),
    pytest.param(utc(16), utc(0, day=2), id="00:00-waits-same-day"),
    pytest.param(utc(23, 59, 59), utc(0, day=2), id="07:59:59-waits-one-second"),
    pytest.param(utc(0, day=2), utc(0, day=2), id="08:00-sends"),
])
def test_quiet_hours_edges_in_shanghai_from_utc_instants(instant: datetime, expected: datetime) -> None:
    assert allowed_at(instant) == expected
    assert in_quiet_hours(instant) is (expected != instant)


def test_the_next_allowed_time_is_08_00_shanghai_whatever_zone_the_instant_is_in() -> None:
    new_york = datetime(2025, 12, 1, 8, 30, tzinfo=ZoneInfo("America/New_York"))  # 21:30 Shanghai
    nxt = allowed_at(new_york)
    assert nxt.astimezone(BEIJING).replace(tzinfo=None) == datetime(2025, 12, 2, 8, 0)
    assert allowed_at(datetime(2025, 12, 1, 20, 0, tzinfo=timezone(timedelta(hours=8)))).hour == 20


def test_an_operator_alert_ignores_quiet_hours() -> None:
    assert allowed_at(utc(14), QuietHours.IGNORE) == utc(14)


def test_a_naive_instant_is_refused_rather_than_read_in_the_machines_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        allowed_at(datetime(2025, 12, 1, 22, 0))


@pytest.fixture
def machine_in_los_angeles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_in_los_angeles")
def test_the_machines_own_zone_changes_nothing() -> None:
    assert allowed_at(utc(13)) == utc(0, day=2)
    assert not in_quiet_hours(utc(0, day=2))
