"""The unified item statuses (一体反馈).

The seven statuses are fixed by the seed (§三): 受理, 不予受理, 审核中, 补正资料, 审核通过, 审核不通过, 已办结.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """Unified status of one case item (办件事项), as 皖事通办 shows it."""

    ACCEPTED = "受理"
    NOT_ACCEPTED = "不予受理"
    UNDER_REVIEW = "审核中"
    SUPPLEMENT = "补正资料"
    APPROVED = "审核通过"
    REJECTED = "审核不通过"
    COMPLETED = "已办结"

    def is_terminal(self) -> bool:
        """True when no further change is expected (不予受理, 审核不通过, 已办结)."""
        return self in _TERMINAL


_TERMINAL = frozenset({Status.NOT_ACCEPTED, Status.REJECTED, Status.COMPLETED})


@dataclass(frozen=True)
class StatusChange:
    """One row of a source's append-only status log (HRSS's 前置库 ``T_LB_SXZT``), in unified terms."""

    seq: int  # position in the log; collection resumes after the last one applied
    case_no: str
    item_code: str
    status: Status
    department_code: str
    changed_at: str
    reason: str | None
    result: dict[str, str] | None = None  # the outcome reported with it (lianban.domain.results); personal
    materials: tuple[str, ...] = ()  # 补正资料: the materials asked for, by catalog code (lianban.domain.supplements)
