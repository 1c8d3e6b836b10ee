"""Domain vocabulary: the unified item statuses (一体反馈) and the retirement record.

The seven statuses are fixed by the seed (§三): 受理, 不予受理, 审核中, 补正资料, 审核通过, 审核不通过, 已办结.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

#: Fields of 退休待遇审核信息 that identify a person; sealed in transit, never stored or logged in plaintext.
PERSONAL_FIELDS = frozenset({"name", "id_number", "phone"})


@dataclass(frozen=True)
class RetirementRecord:
    """One approved retirement application as it leaves the HRSS 前置库 (退休待遇审核信息 + chosen items)."""

    case_no: str  # 办件编号
    name: str  # 姓名
    id_number: str  # 身份证号码
    employer_name: str  # 参保单位
    employer_uscc: str  # 统一社会信用代码
    contribution_months: int | None  # 养老保险缴费月数
    pension_start: str  # 养老待遇执行时间, YYYY-MM
    phone: str  # 联系方式
    items: tuple[str, ...]  # chosen item codes
    approved_at: str  # ISO timestamp of HRSS approval
    source_seq: int = 0  # row sequence in the 前置库
    extra: dict[str, str] = field(default_factory=dict)

    def fields(self) -> dict[str, object]:
        """The 退休待遇审核信息 fields by domain key."""
        return {
            "name": self.name,
            "id_number": self.id_number,
            "employer_name": self.employer_name,
            "employer_uscc": self.employer_uscc,
            "contribution_months": self.contribution_months,
            "pension_start": self.pension_start,
            "phone": self.phone,
        }

    def __repr__(self) -> str:  # never leak personal data through a repr in a traceback
        return f"RetirementRecord(case_no={self.case_no!r}, items={self.items!r})"
