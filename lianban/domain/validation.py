"""Basic validation of one retirement record; every problem is kept as a Chinese reason.

(Full Great Expectations suites come later and plug in here: a validator returns reasons, nothing else.)
"""

from __future__ import annotations

import re
from datetime import datetime

from lianban.domain.catalog import Catalog
from lianban.domain.identity import id_problem, phone_problem, uscc_problem
from lianban.domain.record import RetirementRecord
from lianban.domain.retirement import minimum_contribution_months

_MONTH = re.compile(r"^(19|20)\d{2}-(0[1-9]|1[0-2])$")


def _required(record: RetirementRecord) -> list[str]:
    names = {"name": "姓名", "employer_name": "参保单位", "pension_start": "养老待遇执行时间"}
    return [f"{label}为空" for key, label in names.items() if not str(getattr(record, key)).strip()]


def _items(record: RetirementRecord, catalog: Catalog) -> list[str]:
    if not record.items:
        return ["未选择任何联办事项"]
    unknown = [c for c in record.items if c not in catalog.items]
    return [f"事项编码不在事项目录中：{'、'.join(unknown)}"] if unknown else []


def _contribution(record: RetirementRecord) -> list[str]:
    if record.contribution_months is None:
        return ["养老保险缴费月数为空"]
    if not _MONTH.match(record.pension_start):
        return ["养老待遇执行时间格式应为YYYY-MM"]
    minimum = minimum_contribution_months(int(record.pension_start[:4]))
    if record.contribution_months < minimum:
        return [f"养老保险缴费月数{record.contribution_months}低于最低缴费年限要求（{minimum}个月）"]
    return []


def _approved_at(record: RetirementRecord) -> list[str]:
    try:
        datetime.fromisoformat(record.approved_at)
    except (TypeError, ValueError):
        return ["审批时间格式错误（应为 ISO 8601，如 2025-01-02T10:00:00+08:00）"]
    return []


def problems(record: RetirementRecord, catalog: Catalog) -> list[str]:
    """Every reason `record` cannot be routed; empty when it is valid."""
    reasons = _required(record) + _items(record, catalog) + _approved_at(record)
    reasons += [p for p in (id_problem(record.id_number), uscc_problem(record.employer_uscc),
                            phone_problem(record.phone)) if p]
    return reasons + _contribution(record)
