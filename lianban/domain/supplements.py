"""补正资料 (materials to supplement): which materials an item asks for, by catalog code, and by when.

A department (or HRSS, in its 前置库 status log) names the missing materials by their 附件5 code (``M01`` …
``M15``, ``schemas/catalog/materials.yaml``); the hub keeps the codes and shows the names. The applicant has
``deadline_working_days`` working days (``schemas/catalog/supplements.yaml``) from the day of the 补正资料
status to supply them: :func:`supplement_due`. Days are Beijing days (UTC+8, no daylight saving).

Materials arrive as text (codes separated by commas, full-width "，" and "、" too) or as a list, full-width codes
read as half-width either way; an unknown code is refused with a Chinese reason naming it
(:class:`UnknownMaterial`), never guessed at; text not shaped like a code (a phone number typed in the wrong
column) is not echoed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache

import yaml

from lianban.domain.catalog import load_catalog
from lianban.domain.clock import BEIJING, moment_of
from lianban.domain.identity import quoted_code
from lianban.domain.schemas import schema_path
from lianban.domain.working_days import add_working_days
from lianban.errors import ConfigError

__all__ = ["SupplementSubmission", "UnknownMaterial", "deadline_days", "material_names", "read_materials",
           "supplement_due"]

_SEPARATOR = re.compile(r"[,，、;；\s]+")
RULES_FILE = schema_path("catalog", "supplements.yaml")


class UnknownMaterial(ValueError):
    """A material code that is not in the catalog; the message is the Chinese reason, naming the code."""


@dataclass(frozen=True)
class SupplementSubmission:
    """One 补正 submission recorded at the HRSS window (前置库 ``T_LB_BZTJ``): which materials the applicant
    supplied for one item of one case, and when."""

    seq: int  # 序号 in the 前置库 table
    case_no: str  # 办件编号
    item_code: str  # 事项编码
    materials: tuple[str, ...]
    supplied_at: str  # ISO 8601


@cache
def deadline_days() -> int:
    """The 补正 period in working days (``schemas/catalog/supplements.yaml``); ConfigError when unreadable."""
    try:
        days = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["deadline_working_days"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read deadline_working_days from {RULES_FILE} ({type(exc).__name__})") from None
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"{RULES_FILE}: deadline_working_days 必须是正整数（工作日），现为 {days!r}")
    return days


def _known() -> dict[str, str]:
    return {m.code: m.name for m in load_catalog().materials}


def read_materials(raw: str | Iterable[str] | None) -> tuple[str, ...]:
    """The material codes `raw` names, in order, each once; UnknownMaterial naming the first unknown code."""
    parts = _SEPARATOR.split(unicodedata.normalize("NFKC", raw)) if isinstance(raw, str) else list(raw or ())
    codes = tuple(dict.fromkeys(unicodedata.normalize("NFKC", str(p)).strip().upper() for p in parts
                                if str(p).strip()))
    unknown = [c for c in codes if c not in _known()]
    if unknown:
        shown = "、".join(quoted_code(c) for c in unknown)
        raise UnknownMaterial(f"补正材料编码 {shown} 不在材料目录（schemas/catalog/materials.yaml）中")
    return codes


def material_names(codes: Iterable[str]) -> tuple[str, ...]:
    """The Chinese names of `codes` (a code the catalog no longer knows is shown as itself)."""
    known = _known()
    return tuple(known.get(c, c) for c in codes)


def supplement_due(changed_at: str) -> date:
    """The 补正 deadline for a 补正资料 status at `changed_at` (ISO 8601; without an offset Beijing time): that
    Beijing day plus :func:`deadline_days` working days."""
    moment = moment_of(changed_at)
    return add_working_days(moment.astimezone(BEIJING).date(), deadline_days())
