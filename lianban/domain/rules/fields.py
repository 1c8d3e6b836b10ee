"""Rules on presence, length and format of the record's other columns.

``REQUIRED_<FIELD>`` for each column ``schemas/validation/rules.yaml`` requires; ``TOO_LONG_<FIELD>`` for
each text longer than the departments accept (``max_length`` in ``schemas/catalog/fields.yaml``), so a
department never refuses a record for it; the formats of 养老待遇执行时间, 审批时间 and 养老保险缴费月数.
"""

from __future__ import annotations

import pandas as pd

from lianban.domain.catalog import Catalog
from lianban.domain.rules.base import Rule, RuleData

_LABELS = {"items": "办理事项", "approved_at": "审批时间", "case_no": "办件编号"}


def label(key: str, catalog: Catalog) -> str:
    """The Chinese name of a column."""
    return _LABELS.get(key) or catalog.field_names.get(key, key)


def _required(key: str, catalog: Catalog) -> Rule:
    return Rule(f"REQUIRED_{key.upper()}", f"{label(key, catalog)}为空", (key,),
                lambda f: f[key].str.strip() != "")


def _too_long(key: str, limit: int, catalog: Catalog) -> Rule:
    return Rule(f"TOO_LONG_{key.upper()}", f"{label(key, catalog)}超过{limit}个字符（部门接口上限）", (key,),
                lambda f: f[key].str.len() <= limit)


def field_rules(data: RuleData, catalog: Catalog) -> list[Rule]:
    limit = catalog.fields["contribution_months"].max_value or 1200
    months = ("contribution_months", "_months")
    return [
        *(_required(key, catalog) for key in data.required),
        *(_too_long(key, f.max_length, catalog) for key, f in catalog.fields.items() if f.max_length),
        Rule("PENSION_START_FORMAT", "养老待遇执行时间格式应为YYYY-MM（月份01–12）", ("pension_start", "_start"),
             lambda f: (f["pension_start"].str.strip() == "") | (f["_start"] >= 0)),
        Rule("APPROVED_AT_FORMAT", "审批时间格式错误（应为 ISO 8601，如 2025-01-02T10:00:00+08:00）",
             ("approved_at", "_approved"), lambda f: (f["approved_at"].str.strip() == "") | f["_approved"].notna()),
        Rule("CONTRIBUTION_FORMAT", "养老保险缴费月数应为整数", months,
             lambda f: (f["contribution_months"].str.strip() == "") | f["_months"].notna()),
        Rule("CONTRIBUTION_RANGE", f"养老保险缴费月数超出合理范围（0–{limit}）", months,
             lambda f: ~(f["_months"] > limit)),
    ]


def present(frame: pd.DataFrame, key: str) -> pd.Series:
    """True where column `key` is not blank."""
    return frame[key].str.strip() != ""
