"""Results carried back (办理结果): their forms, and the sentence the applicant reads."""

from __future__ import annotations

import pytest

from lianban.domain.results import check, summary


@pytest.mark.parametrize(("code", "party", "result", "sentence"), [
    ("12", "medical", {"paid_months": "327", "required_months": "360", "shortfall_months": "33"},
     "医保累计缴费年限确认为27年3个月，距规定年限（30年）尚差2年9个月，需补缴"),
    ("12", "medical", {"paid_months": "300", "required_months": "300", "shortfall_months": "0"},
     "医保累计缴费年限确认为25年，已达到规定年限（25年）"),
    ("13", "health", {"amount": "3000.00"}, "符合领取条件，一次性奖励3000.00元，待人社部门发放"),
    ("14", "housing_fund", {"amount": "12345.67", "transferred_on": "2026-12-01"},
     "住房公积金提取12345.67元已于2026-12-01转账"),
])
def test_each_result_reads_as_one_sentence(code: str, party: str, result: dict[str, str], sentence: str) -> None:
    assert check(code, party, result) is None
    assert summary(code, party, result) == sentence


def test_a_result_from_the_wrong_party_or_of_the_wrong_shape_is_refused_naming_keys() -> None:
    assert "不应由 health" in (check("14", "health", {"amount": "1.00"}) or "")
    reason = check("13", "hrss", {"amount": "3000", "paid_on": "2026-13-01", "iban": "x"}) or ""
    assert "未约定的结果项 iban" in reason and "格式不符 amount、paid_on" in reason
    assert "缺少结果项 paid_months" in (check("12", "medical", {"required_months": "1", "shortfall_months": "0"})
                                     or "")


def test_a_value_with_a_trailing_line_break_is_of_the_wrong_shape() -> None:
    """`$` matched before a final newline: "3000.00\n" passed as an amount, and went into the applicant's
    sentence with the break."""
    assert "格式不符 amount" in (check("13", "health", {"amount": "3000.00\n"}) or "")
    assert check("13", "health", {"amount": "3000.00"}) is None
