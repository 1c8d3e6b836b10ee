"""Results carried back with a status (办理结果): what an item's outcome is, beyond its status.

Three items bring one back (the seed's 一体反馈: the applicant learns the outcome, not only that it is done)::

    12 医保累计缴费年限确认   medical, with 已办结: the confirmed months, the months required, the shortfall
    13 独生子女父母一次性奖励 health, with 审核通过: the reward found due; HRSS, with 已办结: the amount paid, the date
    14 住房公积金提取         housing_fund, with 已办结: the amount transferred, the date

A result is a flat mapping of text values (as it travels on every wire). :func:`check` says what is wrong with
one in Chinese (an unknown key, a missing one, a value of the wrong shape), and :func:`summary` writes the
sentence the applicant reads (皖事通办, the progress query). Results are personal: the ledger keeps them
sealed (lianban.crypto.vault) and they never appear in a log line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["RESULT_FORMS", "ResultForm", "check", "summary"]

_MONTHS = re.compile(r"^\d{1,4}$")
_AMOUNT = re.compile(r"^\d{1,9}\.\d{2}$")
_DATE = re.compile(r"^(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def _years(months: str) -> str:
    years, rest = divmod(int(months), 12)
    return f"{years}年{rest}个月" if rest else f"{years}年"


def _medical_years(r: Mapping[str, str]) -> str:
    text = f"医保累计缴费年限确认为{_years(r['paid_months'])}"
    if int(r["shortfall_months"]):
        return f"{text}，距规定年限（{_years(r['required_months'])}）尚差{_years(r['shortfall_months'])}，需补缴"
    return f"{text}，已达到规定年限（{_years(r['required_months'])}）"


def _reward_due(r: Mapping[str, str]) -> str:
    return f"符合领取条件，一次性奖励{r['amount']}元，待人社部门发放"


def _reward_paid(r: Mapping[str, str]) -> str:
    return f"一次性奖励{r['amount']}元已于{r['paid_on']}发放"


def _withdrawal(r: Mapping[str, str]) -> str:
    return f"住房公积金提取{r['amount']}元已于{r['transferred_on']}转账"


@dataclass(frozen=True)
class ResultForm:
    """The keys (and their shapes) of one item's result from one party, and its sentence."""

    keys: Mapping[str, re.Pattern[str]]
    sentence: Callable[[Mapping[str, str]], str]


#: (item code, party reporting) → the form of its result
RESULT_FORMS: dict[tuple[str, str], ResultForm] = {
    ("12", "medical"): ResultForm({"paid_months": _MONTHS, "required_months": _MONTHS,
                                   "shortfall_months": _MONTHS}, _medical_years),
    ("13", "health"): ResultForm({"amount": _AMOUNT}, _reward_due),
    ("13", "hrss"): ResultForm({"amount": _AMOUNT, "paid_on": _DATE}, _reward_paid),
    ("14", "housing_fund"): ResultForm({"amount": _AMOUNT, "transferred_on": _DATE}, _withdrawal),
}


def check(item_code: str, party: str, result: Mapping[str, object]) -> str | None:
    """Why `result` (from `party`, for item `item_code`) cannot be taken, in Chinese; None when it can.
    The reason names keys, never values (they are personal)."""
    form = RESULT_FORMS.get((item_code, party))
    if form is None:
        return f"事项 {item_code} 不应由 {party} 返回办理结果"
    unknown = sorted(set(result) - set(form.keys))
    missing = sorted(set(form.keys) - set(result))
    bad = sorted(k for k, shape in form.keys.items() if k in result and not shape.fullmatch(str(result[k])))
    problems = [f"未约定的结果项 {'、'.join(unknown)}"] * bool(unknown) + \
        [f"缺少结果项 {'、'.join(missing)}"] * bool(missing) + [f"结果项格式不符 {'、'.join(bad)}"] * bool(bad)
    return f"事项 {item_code} 的办理结果：{'；'.join(problems)}" if problems else None


def summary(item_code: str, party: str, result: Mapping[str, str]) -> str:
    """The sentence the applicant reads for a result that passed :func:`check`."""
    return RESULT_FORMS[(item_code, party)].sentence(result)
