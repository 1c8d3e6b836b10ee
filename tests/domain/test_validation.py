"""Validation of one retirement record: every problem is a Chinese reason (lianban.domain.validation)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lianban.domain.catalog import Catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.validation import problems


def test_a_valid_synthetic_record_has_no_problems(record: RetirementRecord, catalog: Catalog) -> None:
    assert problems(record, catalog) == []


def wrong_check_digit(value: str) -> str:
    return value[:17] + ("0" if value[17] != "0" else "1")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id_number": wrong_check_digit}, "身份证号码校验位错误"),
        ({"employer_name": lambda _: "  "}, "参保单位为空"),
        ({"name": lambda _: ""}, "姓名为空"),
        ({"phone": lambda p: p[:7]}, "联系电话应为以1开头的11位手机号码"),
        ({"employer_uscc": lambda u: u[:17] + ("0" if u[17] != "0" else "1")}, "统一社会信用代码校验位错误"),
        ({"contribution_months": lambda _: None}, "养老保险缴费月数为空"),
        ({"pension_start": lambda _: "2026/01"}, "养老待遇执行时间格式应为YYYY-MM"),
        ({"items": lambda i: (*i, "15")}, "事项编码不在事项目录中：15"),
        ({"items": lambda _: ()}, "未选择任何联办事项"),
    ],
)
def test_each_breakage_gives_its_reason(record: RetirementRecord, catalog: Catalog, change: dict[str, Any],
                                        reason: str) -> None:
    broken = replace(record, **{k: f(getattr(record, k)) for k, f in change.items()})
    assert problems(broken, catalog) == [reason]


@pytest.mark.parametrize(
    ("start", "minimum"), [("2029-12", 180), ("2030-01", 186), ("2035-06", 216), ("2039-01", 240)]
)
def test_contribution_below_the_minimum_of_the_retirement_year(record: RetirementRecord, catalog: Catalog,
                                                               start: str, minimum: int) -> None:
    assert problems(replace(record, pension_start=start, contribution_months=minimum), catalog) == []
    short = replace(record, pension_start=start, contribution_months=minimum - 1)
    assert problems(short, catalog) == [f"养老保险缴费月数{minimum - 1}低于最低缴费年限要求（{minimum}个月）"]


def test_several_problems_are_all_reported(record: RetirementRecord, catalog: Catalog) -> None:
    broken = replace(record, employer_name="", phone="", items=())
    assert len(problems(broken, catalog)) == 3
