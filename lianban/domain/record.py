"""The retirement record (退休待遇审核信息) as it leaves the HRSS 前置库, and which of its fields identify a person."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    #: 原法定退休年龄 (前置库 YFDTXNL: "60", "55" or "50"; with the ID's sex digit it gives the reform category)
    original_age: str = ""
    #: 退休类型 (前置库 TXLX: "01" 正常, "02" 弹性提前, "03" 弹性延迟, "04" 特殊工种提前, "05" 病退)
    retirement_type: str = ""
    #: 查询密码 (PROJPWD) handed to the applicant with the 受理回执; hashed into the ledger, never sent to a
    #: department (not one of :meth:`fields`), never shown or logged (not in :meth:`as_values` nor the repr)
    password: str | None = field(default=None, repr=False)
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
            "original_age": self.original_age,
            "retirement_type": self.retirement_type,
        }

    def as_values(self) -> dict[str, object]:
        """Everything the row said, by domain key (for a masked view or a fingerprint; never logged)."""
        return {"case_no": self.case_no, **self.fields(), "items": self.items, "approved_at": self.approved_at}

    def __repr__(self) -> str:  # never leak personal data through a repr in a traceback
        return f"RetirementRecord(case_no={self.case_no!r}, items={self.items!r})"
