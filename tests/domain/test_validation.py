"""Validation of retirement records without GX (lianban.domain.validation): every problem is a Reason with a
stable code and a Chinese message."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lianban.domain.catalog import Catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.rules import Reason
from lianban.domain.validation import judge, problems


def test_a_valid_synthetic_record_has_no_problems(record: RetirementRecord, catalog: Catalog) -> None:
    assert problems(record, catalog) == []


def wrong_check_digit(value: str) -> str:
    return value[:17] + ("0" if value[17] != "0" else "1")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id_number": wrong_check_digit}, Reason("ID_CHECK", "身份证号码校验位错误：请核对号码")),
        ({"employer_name": lambda _: "  "}, Reason("REQUIRED_EMPLOYER_NAME", "参保单位为空")),
        ({"name": lambda _: ""}, Reason("REQUIRED_NAME", "姓名为空")),
        ({"phone": lambda p: p[:7]}, Reason("PHONE", "联系电话应为以1开头的11位手机号码")),
        ({"employer_uscc": lambda u: u[:17] + ("0" if u[17] != "0" else "1")},
         Reason("USCC_CHECK", "统一社会信用代码校验位错误：请核对代码")),
        ({"contribution_months": lambda _: None}, Reason("REQUIRED_CONTRIBUTION_MONTHS", "养老保险缴费月数为空")),
        ({"pension_start": lambda _: "2026/01"},
         Reason("PENSION_START_FORMAT", "养老待遇执行时间格式应为YYYY-MM（月份01–12）")),
        ({"items": lambda i: (*i, "15")}, Reason("ITEMS_UNKNOWN", "事项编码不在事项目录中：15")),
        ({"items": lambda _: ()}, Reason("REQUIRED_ITEMS", "办理事项为空")),
    ],
)
def test_each_breakage_gives_its_reason(record: RetirementRecord, catalog: Catalog, change: dict[str, Any],
                                        reason: Reason) -> None:
    broken = replace(record, **{k: f(getattr(record, k)) for k, f in change.items()})
    assert problems(broken, catalog) == [reason]


@pytest.mark.parametrize(
    ("start", "minimum"), [("2029-12", 180), ("2030-01", 186), ("2035-06", 216), ("2039-01", 240)]
)
def test_contribution_below_the_minimum_of_the_retirement_year(record: RetirementRecord, catalog: Catalog,
                                                               start: str, minimum: int) -> None:
    late = replace(record, retirement_type="03", pension_start=start, contribution_months=minimum)
    codes = [r.code for r in problems(late, catalog)]
    assert "REFORM_CONTRIBUTION" not in codes
    short = replace(late, contribution_months=minimum - 1)
    reasons = [r for r in problems(short, catalog) if r.code == "REFORM_CONTRIBUTION"]
    expected = f"养老保险缴费月数低于退休当年的最低缴费年限（{start[:4]}年为{minimum}个月）"
    assert [r.message for r in reasons] == [expected]


def test_several_problems_are_all_reported(record: RetirementRecord, catalog: Catalog) -> None:
    broken = replace(record, employer_name="", phone="", items=())
    assert [r.code for r in problems(broken, catalog)] == ["REQUIRED_EMPLOYER_NAME", "REQUIRED_PHONE",
                                                          "REQUIRED_ITEMS"]


def test_records_are_judged_together_in_order(record: RetirementRecord, catalog: Catalog) -> None:
    verdicts = judge([record, replace(record, phone=""), record], catalog, [False, False, True])
    assert [[r.code for r in v] for v in verdicts] == [[], ["REQUIRED_PHONE"], ["DUPLICATE_PERSON"]]
