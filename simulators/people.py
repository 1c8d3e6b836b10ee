"""Realistic synthetic approvals for the HRSS 前置库 (`lianban seed`). Synthetic people only.

Each person: a Bozhou area code, a birth date consistent with reaching the statutory age in 2025–2026 under
the reform rules, a valid GB 11643 ID number (sex digit matching the category), the 原法定退休年龄 of the
category (60/55/50) and a retirement type (mostly 正常; some 弹性提前/延迟, 特殊工种, 病退) whose pension start
lies in that type's window (lianban.domain.rules.reform), a valid GB 32100 employer code, a contribution
history above the legal minimum and a realistic choice of items (never a forbidden pair). A small share of
records is broken on purpose (bad check digit, missing employer, bad phone, contribution below the minimum)
so quarantine has work to do.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lianban.domain.identity import BOZHOU_AREAS, USCC_ALPHABET, id_check_digit, uscc_check_char
from lianban.domain.retirement import (
    RULES,
    Category,
    load_reform,
    minimum_contribution_months,
    month_index,
    month_text,
    retirement_month,
    statutory_age_months,
)


def make_id_number(area: str, birth: date, seq: int, male: bool) -> str:
    """A synthetic ID number with a valid check digit; `seq` picks the order code."""
    order = (seq % 500) * 2 + (1 if male else 0)
    first17 = f"{area}{birth:%Y%m%d}{order:03d}"
    return first17 + id_check_digit(first17)


def make_uscc(area: str, rng: random.Random) -> str:
    """A synthetic enterprise 统一社会信用代码 (登记管理部门 9, 企业 1) registered in `area`."""
    body = "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    first17 = f"91{area}{body}"
    return first17 + uscc_check_char(first17)


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "建国秀英桂兰玉梅春华志强淑珍海燕丽娟明德文静红霞国庆学军永红凤英卫东金凤保国小平德胜爱华新民"
EMPLOYERS = ("亳州市{}纺织有限公司", "亳州{}中药饮片厂", "{}建筑工程有限公司", "亳州市{}商贸有限责任公司",
             "{}食品股份有限公司", "亳州市{}运输有限公司", "{}机械制造有限公司", "亳州{}酒业有限公司")
EMPLOYER_WORDS = ("华佗", "古井", "药都", "涡河", "谯城", "庄子", "曹操", "汤王", "蒙城", "利辛")
# (item code, probability it is chosen); item 01 (待遇申领) is always chosen.
ITEM_ODDS = (("02", .08), ("03", .15), ("04", .03), ("05", .10), ("06", .04), ("07", .03), ("08", .02),
             ("09", .06), ("10", .30), ("11", .92), ("12", .85), ("13", .22), ("14", .70))
BROKEN_SHARE = 0.03
#: 原法定退休年龄 (前置库 YFDTXNL) by category
ORIGINAL_AGE = {Category.MALE: "60", Category.FEMALE55: "55", Category.FEMALE50: "50"}
#: 退休类型 (前置库 TXLX) and how often each occurs: 正常, 弹性提前, 弹性延迟, 特殊工种提前, 病退
TYPE_ODDS = (("01", 80), ("02", 6), ("03", 6), ("04", 4), ("05", 4))
REFORM_SPAN = 12  # months: how far from the statutory month the demo's non-normal starts go
FIRST_START = month_index(2025, 1)  # the demo's pensions start under the reform


def _person_category(rng: random.Random) -> Category:
    return rng.choices(list(Category), weights=(55, 20, 25))[0]


def _birth_for_retirement(rng: random.Random, category: Category) -> tuple[date, tuple[int, int]]:
    """A birth date whose statutory retirement month falls in 2025-01 … 2026-12."""
    while True:
        base = {Category.MALE: 1964, Category.FEMALE55: 1969, Category.FEMALE50: 1974}[category]
        year, month = base + rng.randint(0, 3), rng.randint(1, 12)
        retire = retirement_month(category, year, month)
        if (2025, 1) <= retire <= (2026, 12):
            return date(year, month, rng.randint(1, 28)), retire


def _items(rng: random.Random) -> list[str]:
    codes = ["01", *(code for code, odds in ITEM_ODDS if rng.random() < odds)]
    return [c for c in codes if not (c == "07" and "06" in codes)]  # 06 and 07 are never chosen together


def _window(kind: str, category: Category, birth: date, male: bool) -> tuple[int, int]:
    """The months (first, last) a pension of type `kind` may start in, near the statutory month."""
    born = month_index(birth.year, birth.month)
    age = statutory_age_months(category, birth.year, birth.month)
    statutory, reform = born + age, load_reform()
    if kind == "02":
        return max(born + max(age - reform.early_max, RULES[category].base_years * 12), statutory - REFORM_SPAN,
                   FIRST_START), statutory - 1
    if kind == "03":
        return statutory + 1, min(statutory + reform.late_max, statutory + REFORM_SPAN)
    if kind in ("04", "05"):
        floor = born + reform.types[kind].min_age_years["male" if male else "female"] * 12
        return max(floor, statutory - REFORM_SPAN, FIRST_START), statutory - 1
    return statutory, statutory


def _retirement(app: dict[str, Any], category: Category, birth: date) -> tuple[str, int]:
    """A retirement type and the month its pension starts (drawn from the person's own generator, so the
    people are the same as before types existed); 正常 when the drawn type's window is empty."""
    rng = random.Random(f"{app['case_no']}:退休类型")
    kind = rng.choices([c for c, _ in TYPE_ODDS], weights=[w for _, w in TYPE_ODDS])[0]
    first, last = _window(kind, category, birth, category is Category.MALE)
    if first > last:
        kind, (first, last) = "01", _window("01", category, birth, category is Category.MALE)
    return kind, rng.randint(first, last)


def synthetic_application(rng: random.Random, seq: int) -> dict[str, Any]:
    """One approved application (domain keys) for a synthetic person."""
    category = _person_category(rng)
    birth, (ry, rm) = _birth_for_retirement(rng, category)
    area = rng.choice(list(BOZHOU_AREAS))
    employer = rng.choice(EMPLOYERS).format(rng.choice(EMPLOYER_WORDS))
    minimum = minimum_contribution_months(ry)
    kind, start = _retirement({"case_no": f"BZTX{ry}{rm:02d}{seq:06d}"}, category, birth)
    approved = datetime(start // 12, start % 12 + 1, 1, tzinfo=UTC) - timedelta(days=rng.randint(3, 20),
                                                                              minutes=rng.randint(0, 600))
    return {
        "case_no": f"BZTX{ry}{rm:02d}{seq:06d}",
        "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2)))),
        "id_number": make_id_number(area, birth, seq, category is Category.MALE),
        "employer_name": employer,
        "employer_uscc": make_uscc(area, rng),
        "contribution_months": rng.randint(minimum, 480),
        "pension_start": month_text(start),
        "phone": f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}",
        "items": ",".join(_items(rng)),
        "approved_at": approved.isoformat(timespec="seconds"),
        "original_age": ORIGINAL_AGE[category],
        "retirement_type": kind,
    }


def _break(rng: random.Random, app: dict[str, Any]) -> dict[str, Any]:
    """Damage one field the way real source data goes wrong."""
    kind = rng.choice(("check_digit", "employer", "phone", "months"))
    if kind == "check_digit":
        last = app["id_number"][-1]
        app["id_number"] = app["id_number"][:-1] + ("0" if last != "0" else "1")
    elif kind == "employer":
        app["employer_name"] = ""
    elif kind == "phone":
        app["phone"] = app["phone"][:7]
    else:  # a contribution below the minimum of the year the pension starts
        app["contribution_months"] = minimum_contribution_months(int(app["pension_start"][:4])) - 7
    return app


def _whole(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())


def repair(app: dict[str, Any]) -> dict[str, Any]:
    """What HRSS's clerk corrects at the window for a row the hub held: each kind of damage :func:`_break` does
    (a wrong check digit, no employer, a short phone, a contribution below the minimum or none), fixed
    plausibly."""
    fixed = dict(app)
    rng = random.Random(str(app.get("case_no")))
    number = str(app.get("id_number") or "")
    if len(number) == 18:
        fixed["id_number"] = number[:17] + id_check_digit(number[:17])
    if not str(app.get("employer_name") or "").strip():
        fixed["employer_name"] = rng.choice(EMPLOYERS).format(rng.choice(EMPLOYER_WORDS))
    if len(str(app.get("phone") or "")) != 11:
        fixed["phone"] = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
    start = str(app.get("pension_start") or "2026")[:4]
    minimum = minimum_contribution_months(int(start) if start.isdigit() else 2026)
    if not _whole(app.get("contribution_months")) or int(app["contribution_months"]) < minimum:
        fixed["contribution_months"] = minimum + 12
    return fixed


def generate(count: int, seed: int = 20250101, start_seq: int = 1) -> Iterator[dict[str, Any]]:
    """`count` applications; about 3 % deliberately broken. Each carries a random 6-digit 查询密码 (drawn from
    its own generator, so the people themselves are the same as before passwords existed)."""
    rng, passwords = random.Random(seed), random.Random(f"{seed}:查询密码")
    for seq in range(start_seq, start_seq + count):
        app = synthetic_application(rng, seq)
        app = _break(rng, app) if rng.random() < BROKEN_SHARE else app
        yield {**app, "password": f"{passwords.randrange(10 ** 6):06d}"}
