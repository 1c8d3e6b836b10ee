"""Rules on identifiers: 身份证号码 (GB 11643), 统一社会信用代码 (GB 32100) and the mobile number.

An empty value passes here (``REQUIRED_<FIELD>`` says it is missing), and each malformed value gets the one
reason that tells the operator what to fix: a stray space, full-width characters, a 15-digit legacy number,
a lower-case ``x`` — never silently fixed. Only a well-shaped ID number is checked further (check digit,
calendar date, not after 审批时间, a retirement applicant's age, area code).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lianban.domain.identity import USCC_ALPHABET
from lianban.domain.rules.base import Rule, RuleData

_ID_WEIGHTS = np.array((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2))
_ID_CHECK = np.array(list("10X98765432"))
_USCC_WEIGHTS = np.array((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28))
_USCC_VALUE = np.full(256, 0, dtype=np.int64)
_USCC_VALUE[[ord(c) for c in USCC_ALPHABET]] = np.arange(len(USCC_ALPHABET))
_USCC_CHARS = np.array(list(USCC_ALPHABET))
FULLWIDTH = r"[\uff01-\uff5e\u3000]"


def _match(s: pd.Series, pattern: str) -> pd.Series:
    return s.str.fullmatch(pattern).fillna(False).astype(bool)


def _has(s: pd.Series, pattern: str) -> pd.Series:
    return s.str.contains(pattern, regex=True).fillna(False).astype(bool)


def _digits(s: pd.Series, width: int) -> np.ndarray:
    """The first `width` ASCII characters of each value as a (rows, width) byte array."""
    return np.frombuffer("".join(s.str.slice(0, width)).encode("ascii"), dtype=np.uint8).reshape(-1, width)


def _shaped(ids: pd.Series) -> pd.Series:
    return _match(ids, r"[0-9]{17}[0-9Xx]")


def id_check_ok(ids: pd.Series, shaped: pd.Series | None = None) -> pd.Series:
    """True unless a well-shaped ID number's 18th character is not its GB 11643 check character."""
    shaped = _shaped(ids) if shaped is None else shaped
    ok = pd.Series(True, index=ids.index)
    if shaped.any():
        sub = ids[shaped]
        expected = _ID_CHECK[((_digits(sub, 17) - 48) @ _ID_WEIGHTS) % 11]
        ok[shaped] = expected == sub.str.slice(17, 18).str.upper().to_numpy()
    return ok


def _id_format_ok(f: pd.DataFrame) -> pd.Series:
    ids = f["id_number"]
    told = _has(ids, r"\s") | _has(ids, FULLWIDTH) | _match(ids, "[0-9]{15}")
    return (ids == "") | f["_id_shaped"] | told


def _age_years(birth: pd.Series, at: pd.Series) -> pd.Series:
    before = (at.dt.month * 100 + at.dt.day) < (birth.dt.month * 100 + birth.dt.day)
    return at.dt.year - birth.dt.year - before.astype(int)


def _area_ok(f: pd.DataFrame, data: RuleData) -> pd.Series:
    ids = f["id_number"]
    province = ids.str.slice(0, 2)
    city_ok = (ids.str.slice(2, 4) != "00") | province.isin(data.province_only)
    return ~f["_id_shaped"] | (province.isin(data.provinces) & city_ok)


def uscc_check_ok(codes: pd.Series) -> pd.Series:
    """True unless a well-shaped 统一社会信用代码's 18th character is not its GB 32100 check character."""
    shaped = _match(codes, r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
    ok = pd.Series(True, index=codes.index)
    if shaped.any():
        sub = codes[shaped]
        total = _USCC_VALUE[_digits(sub, 17)] @ _USCC_WEIGHTS
        ok[shaped] = _USCC_CHARS[(31 - total % 31) % 31] == sub.str.slice(17, 18).to_numpy()
    return ok


def _uscc_format_ok(codes: pd.Series) -> pd.Series:
    alphabet_only = ~_has(codes, f"[^{USCC_ALPHABET}]")
    return (codes == "") | ~alphabet_only | _match(codes, r"[0-9A-Z]{2}[0-9]{6}[0-9A-Z]{10}")


def id_rules(data: RuleData) -> list[Rule]:
    low, high = data.working_age
    dated = ["_birth", "_approved"]
    return [
        Rule("ID_SPACE", "身份证号码含有空格：请删除空格后重新提交（系统不自动修正）", ("id_number",),
             lambda f: ~_has(f["id_number"], r"\s")),
        Rule("ID_FULLWIDTH", "身份证号码含有全角字符：请改为半角数字和大写X（系统不自动修正）", ("id_number",),
             lambda f: ~_has(f["id_number"], FULLWIDTH)),
        Rule("ID_15_DIGIT", "身份证号码为15位旧号码：请换算为18位号码后重新提交", ("id_number",),
             lambda f: ~_match(f["id_number"], "[0-9]{15}")),
        Rule("ID_FORMAT", "身份证号码应为18位：前17位数字，末位数字或大写X", ("id_number", "_id_shaped"),
             _id_format_ok),
        Rule("ID_LOWER_X", "身份证号码末位为小写x：请改为大写X", ("id_number",),
             lambda f: ~_match(f["id_number"], "[0-9]{17}x")),
        Rule("ID_CHECK", "身份证号码校验位错误：请核对号码", ("id_number", "_id_shaped"),
             lambda f: id_check_ok(f["id_number"], f["_id_shaped"])),
        Rule("ID_DATE", "身份证号码中的出生日期不是有效日期", ("_id_shaped", "_birth"),
             lambda f: ~f["_id_shaped"] | f["_birth"].notna()),
        Rule("ID_FUTURE", "身份证号码中的出生日期晚于审批时间", tuple(dated),
             lambda f: f["_birth"].isna() | f["_approved"].isna() | (f["_birth"] <= f["_approved"])),
        Rule("ID_AGE", f"身份证号码中的出生日期与退休申请人年龄不符（审批时应为{low}–{high}周岁）", tuple(dated),
             lambda f: f["_birth"].isna() | f["_approved"].isna() | (f["_birth"] > f["_approved"])
             | _age_years(f["_birth"], f["_approved"]).between(low, high)),
        Rule("ID_AREA", "身份证号码前6位不是有效的行政区划代码", ("id_number", "_id_shaped"),
             lambda f: _area_ok(f, data)),
    ]


def other_identifier_rules() -> list[Rule]:
    return [
        Rule("USCC_ALPHABET", "统一社会信用代码含有不允许的字符（只能是数字和大写字母，不含I、O、S、V、Z）",
             ("employer_uscc",), lambda f: ~_has(f["employer_uscc"], f"[^{USCC_ALPHABET}]")),
        Rule("USCC_FORMAT", "统一社会信用代码应为18位，第3–8位为行政区划代码", ("employer_uscc",),
             lambda f: _uscc_format_ok(f["employer_uscc"])),
        Rule("USCC_CHECK", "统一社会信用代码校验位错误：请核对代码", ("employer_uscc",),
             lambda f: uscc_check_ok(f["employer_uscc"])),
        Rule("PHONE", "联系电话应为以1开头的11位手机号码", ("phone",),
             lambda f: (f["phone"] == "") | _match(f["phone"], "1[3-9][0-9]{9}")),
    ]
