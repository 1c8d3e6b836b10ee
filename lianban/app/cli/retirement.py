"""``lianban retirement-age``: what the 2025 reform says for one birth month (issue 13 §1).

Bad input (an unknown category, month 13, text) is one sentence on stderr and exit 2.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Annotated, NoReturn

import typer
from rich.table import Table

from lianban.app.cli.output import JsonFlag, console
from lianban.app.redact import redact
from lianban.domain.retirement import Category, retirement_age

_BIRTH = re.compile(r"(\d{4})-(\d{2})")
_LABELS = {"statutory_age_months": "法定退休年龄（月）", "statutory_age": "法定退休年龄",
           "retirement_month": "退休月份", "min_contribution_months": "最低缴费月数",
           "earliest_flexible_month": "最早弹性提前退休月份", "latest_flexible_month": "最晚弹性延迟退休月份"}


def refuse(sentence: str) -> NoReturn:
    """One operator-facing sentence on stderr (ID- and mobile-number-shaped runs masked: it may repeat what was
    typed, and an ID number holds the birth month asked for), exit 2."""
    typer.echo(f"错误 (error): {redact(sentence)}", err=True)
    raise typer.Exit(2)


def parse_birth(text: str) -> tuple[int, int]:
    """``YYYY-MM`` → (year, month), or refuse naming the value."""
    match = _BIRTH.fullmatch(text.strip())
    if not match or not 1 <= int(match[2]) <= 12 or not 1900 <= int(match[1]) <= 2100:
        refuse(f"出生年月 {text[:20]!r} 无效：应为 YYYY-MM，月份 01–12 (--birth must be YYYY-MM)")
    return int(match[1]), int(match[2])


def parse_category(text: str) -> Category:
    try:
        return Category(text.strip().lower())
    except ValueError:
        refuse(f"人员类别 {text[:20]!r} 无效：应为 male、female55 或 female50 (--category)")


def retirement_age_command(
        category: Annotated[str, typer.Option("--category", help="male | female55 | female50")],
        birth: Annotated[str, typer.Option("--birth", help="出生年月 YYYY-MM")],
        as_json: JsonFlag = False) -> None:
    """法定退休年龄、退休月份、最低缴费月数与弹性退休区间（2025年渐进式延迟退休改革）."""
    result = asdict(retirement_age(parse_category(category), *parse_birth(birth)))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    table = Table(title=f"{category} {birth} 退休年龄 (retirement age)", show_header=False)
    for key, value in result.items():
        table.add_row(_LABELS[key], str(value))
    console.print(table)
