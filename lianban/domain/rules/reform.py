"""Reform consistency (2025 渐进式延迟法定退休年龄): the record's category (原法定退休年龄 + the ID's sex
digit), its retirement type (退休类型) and its pension start (养老待遇执行时间) agree with the statutory
month and windows of :mod:`lianban.domain.retirement`; the contribution meets the minimum of the year.

Windows, as months of the pension start (less ``pension_start_offset_months``; ``schemas/validation/
reform.yaml`` cites the sources): 正常 exactly the statutory month; 弹性提前 from the earliest flexible
month up to the month before the statutory one; 弹性延迟 from the month after it up to the latest; 特殊工种
and 病退 from the type's minimum age (by sex) up to the month before the statutory one. The minimum
contribution (最低缴费年限) is the one of the year the pension starts; for 弹性提前 this is the condition
the 办法 sets (达到最低缴费年限). Each rule passes a row it cannot judge (another rule says why).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lianban.domain.retirement import Reform, load_reform, month_text
from lianban.domain.rules.base import Rule
from lianban.domain.rules.frame import CATEGORIES

_WINDOW = ("_type", "_start", "_statutory", "_earliest", "_latest")
_SPECIAL = ("_type", "_start", "_statutory", "_birth_month", "_male")


def _known(f: pd.DataFrame, *columns: str) -> pd.Series:
    return np.logical_and.reduce([f[c] >= 0 for c in columns])


def _types(reform: Reform, window: str) -> list[str]:
    return [code for code, t in reform.types.items() if t.window == window]


def _flex_ok(f: pd.DataFrame, reform: Reform) -> pd.Series:
    early = f["_type"].isin(_types(reform, "flexible_early"))
    late = f["_type"].isin(_types(reform, "flexible_late"))
    in_early = (f["_earliest"] <= f["_start"]) & (f["_start"] < f["_statutory"])
    in_late = (f["_statutory"] < f["_start"]) & (f["_start"] <= f["_latest"])
    return ~_known(f, "_start", "_statutory") | (~early | in_early) & (~late | in_late)


def _flex_detail(f: pd.DataFrame, reform: Reform) -> pd.Series:
    """（可选 YYYY-MM 至 YYYY-MM）: the window of the row's own type."""
    early = f["_type"].isin(_types(reform, "flexible_early"))
    first = np.where(early, f["_earliest"], f["_statutory"] + 1) + reform.start_offset
    last = np.where(early, f["_statutory"] - 1, f["_latest"]) + reform.start_offset
    return "（可选" + pd.Series(first, index=f.index).map(month_text) + "至" \
        + pd.Series(last, index=f.index).map(month_text) + "）"


def _special_floor(f: pd.DataFrame, reform: Reform) -> pd.Series:
    """The earliest month a special type allows (-1 for other types)."""
    floor = pd.Series(-1, index=f.index, dtype=np.int64)
    for code, kind in reform.types.items():
        if kind.window != "special":
            continue
        years = np.where(f["_male"], kind.min_age_years["male"], kind.min_age_years["female"])
        floor = floor.where(f["_type"] != code, f["_birth_month"] + years * 12)
    return floor


def _special_ok(f: pd.DataFrame, reform: Reform) -> pd.Series:
    floor = _special_floor(f, reform)
    inside = (floor <= f["_start"]) & (f["_start"] < f["_statutory"])
    return (floor < 0) | ~_known(f, "_start", "_statutory") | inside


def _sex_ok(f: pd.DataFrame, reform: Reform) -> pd.Series:
    male_category = [CATEGORIES.index(c) for c, sex in reform.categories.values() if sex == "male"]
    return ~f["_id_shaped"] | (f["_category"] < 0) | (f["_category"].isin(male_category) == f["_male"])


def minimum_months(start: pd.Series) -> pd.Series:
    """最低缴费月数 of the year of each start month (180 up to 2029, +6 a year, 240 from 2039)."""
    return 180 + 6 * (start // 12 - 2029).clip(0, 10)


def _month_texts(values: pd.Series) -> pd.Series:
    return values.map(month_text)


_NORMAL = "正常退休的养老待遇执行时间应为达到法定退休年龄的月份"
_FLEX = "弹性退休的养老待遇执行时间不在允许区间内（提前最多3年且不早于原法定退休年龄，延迟最多3年）"
_SPECIAL_TEXT = "特殊工种或病退提前退休的养老待遇执行时间不在允许区间内（不早于规定的最低年龄，早于法定退休月份）"


def _normal_ok(f: pd.DataFrame, normal: list[str]) -> pd.Series:
    return ~f["_type"].isin(normal) | ~_known(f, "_start", "_statutory") | (f["_start"] == f["_statutory"])


def reform_rules() -> list[Rule]:
    reform = load_reform()
    normal = _types(reform, "statutory")
    return [
        Rule("REFORM_CATEGORY", "原法定退休年龄应为60、55或50", ("original_age",),
             lambda f: f["original_age"].str.strip().isin(["", *reform.categories])),
        Rule("REFORM_TYPE", f"退休类型代码无效（应为{'、'.join(reform.types)}）", ("retirement_type",),
             lambda f: f["retirement_type"].str.strip().isin(["", *reform.types])),
        Rule("REFORM_SEX", "身份证号码的性别与原法定退休年龄不符（男职工60，女职工55或50）",
             ("_id_shaped", "_category", "_male"), lambda f: _sex_ok(f, reform)),
        Rule("REFORM_START_NORMAL", _NORMAL, ("_type", "_start", "_statutory"), lambda f: _normal_ok(f, normal),
             lambda f: "（应为" + _month_texts(f["_statutory"] + reform.start_offset) + "）"),
        Rule("REFORM_FLEX_WINDOW", _FLEX, _WINDOW, lambda f: _flex_ok(f, reform),
             lambda f: _flex_detail(f, reform)),
        Rule("REFORM_SPECIAL_WINDOW", _SPECIAL_TEXT, _SPECIAL, lambda f: _special_ok(f, reform)),
        Rule("REFORM_CONTRIBUTION", "养老保险缴费月数低于退休当年的最低缴费年限", ("_start", "_months"),
             lambda f: (f["_start"] < 0) | f["_months"].isna() | (f["_months"] >= minimum_months(f["_start"])),
             lambda f: "（" + (f["_start"] // 12).astype(str) + "年为" + minimum_months(f["_start"]).astype(str)
             + "个月）"),
    ]
