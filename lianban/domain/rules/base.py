"""What a validation rule is: a stable code, a Chinese message, the frame columns it reads, and a vectorised
condition over a chunk of records (a pandas DataFrame) that is True where a row passes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

from lianban.domain.reasons import Reason as Reason  # re-exported: the rules' reasons
from lianban.domain.schemas import load_versioned, schema_path

__all__ = ["RULES_FILE", "Reason", "Rule", "load_rule_data"]

RULES_FILE = schema_path("validation", "rules.yaml")

Condition = Callable[[pd.DataFrame], "pd.Series[bool]"]
Detail = Callable[[pd.DataFrame], "pd.Series[str]"]


@dataclass(frozen=True)
class Rule:
    """One check. ``passes(frame[columns])`` is True where the row passes; ``detail`` (optional) adds a
    row-specific clause to the message, computed only for the failing rows."""

    code: str
    message: str
    columns: tuple[str, ...]
    passes: Condition
    detail: Detail | None = None

    def reasons(self, failing: pd.DataFrame) -> list[Reason]:
        """The reason of each failing row, in order."""
        if self.detail is None or failing.empty:
            return [Reason(self.code, self.message)] * len(failing)
        return [Reason(self.code, f"{self.message}{extra}") for extra in self.detail(failing[list(self.columns)])]


@dataclass(frozen=True)
class RuleData:
    """``schemas/validation/rules.yaml``."""

    version: int
    required: tuple[str, ...]
    working_age: tuple[int, int]  # years at 审批时间
    provinces: frozenset[str]
    province_only: frozenset[str]  # codes whose numbers carry no city (港澳台居民居住证)
    conflicts: tuple[tuple[frozenset[str], str], ...]


def _rule_data(data: dict[str, Any]) -> RuleData:
    ages = data["working_age_years"]
    conflicts = tuple((frozenset(map(str, c["items"])), str(c["reason"])) for c in data.get("conflicts") or ())
    return RuleData(int(data["version"]), tuple(data["required"]), (int(ages["min"]), int(ages["max"])),
                    frozenset(map(str, data["provinces"])), frozenset(map(str, data.get("province_only") or ())),
                    conflicts)


@cache
def load_rule_data() -> RuleData:
    """The rules' data, read once; a broken file is a ConfigError naming it."""
    return load_versioned(RULES_FILE, _rule_data, "校验规则数据", "the validation rules' data")
