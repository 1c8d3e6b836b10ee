"""医疗保障局's own codes, as tables its IT staff can grep.

``STATUSES`` / ``CODES``: the bureau's 办理状态码 ↔ the unified :class:`~lianban.domain.statuses.Status` (一体反馈).
``ERROR_CODES``: the bureau's error codes (receipt refusals and SOAP Fault details) → Chinese meaning and
what lianban does about them (``Action``). Both sides of the wire (connector and simulator) read these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lianban.crypto.batch import batch_refusal_codes
from lianban.domain.statuses import Status


class Action(StrEnum):
    """What lianban does when the bureau answers with an error code (maps onto lianban.errors)."""

    CONFIG = "config"  # fix the connection settings, do not retry
    RETRY = "retry"  # transient: the same call may succeed later
    REJECT = "reject"  # the bureau refused this message or record
    FATAL = "fatal"  # stop the run and tell an operator


#: 医保局办理状态码 → unified status.
STATUSES: dict[str, Status] = {
    "01": Status.ACCEPTED,  # 受理
    "02": Status.NOT_ACCEPTED,  # 不予受理
    "03": Status.UNDER_REVIEW,  # 审核中
    "04": Status.SUPPLEMENT,  # 补正资料
    "05": Status.APPROVED,  # 审核通过
    "06": Status.REJECTED,  # 审核不通过
    "07": Status.COMPLETED,  # 已办结
}

#: unified status → 医保局办理状态码 (the inverse; the simulator speaks it).
CODES: dict[Status, str] = {status: code for code, status in STATUSES.items()}


@dataclass(frozen=True)
class MedicalError:
    meaning: str  # 中文含义
    action: Action


#: 医保局错误码 → meaning and action. E_SEAL/E_DATA/E_ITEM/E_NOCASE refuse one record in a receipt;
#: the rest arrive as the ``MedicalFault`` detail of a SOAP Fault and concern the whole call.
ERROR_CODES: dict[str, MedicalError] = {
    "E_SEAL": MedicalError("数据包解密或完整性校验失败", Action.REJECT),
    "E_DATA": MedicalError("业务数据校验不通过", Action.REJECT),
    "E_ITEM": MedicalError("事项不属于医疗保障局受理范围", Action.REJECT),
    "E_NOCASE": MedicalError("补正材料所属事项未在医疗保障局办理（未收到该事项）", Action.REJECT),
    "E_AUTH": MedicalError("WS-Security 身份认证失败（用户名或密码错误）", Action.CONFIG),
    "E_EXPIRED": MedicalError("WS-Security 时间戳缺失、无效或已超过5分钟（请校对系统时钟）", Action.CONFIG),
    "E_REPLAY": MedicalError("WS-Security 随机数重复使用，疑似重放请求", Action.RETRY),
    "E_XML": MedicalError("请求报文格式错误或不符合接口规范", Action.REJECT),
    "E_DTD": MedicalError("请求报文含有DTD或实体声明，已拒绝", Action.REJECT),
    "E_SERVER": MedicalError("医疗保障局服务内部错误，请稍后重试", Action.RETRY),
    "E_SIGNATURE": MedicalError("WS-Security X.509 签名缺失或验证失败（请核对签名证书）", Action.CONFIG),
    "E_WEAK_SIGNATURE": MedicalError("WS-Security 签名算法过弱（须为 RSA-SHA256 / SHA-256）", Action.CONFIG),
    # a sealed batch refused whole (lianban.crypto.batch)
    **{code: MedicalError(meaning, Action.REJECT) for code, meaning in batch_refusal_codes("E_BATCH_").items()},
}

#: errors that refuse one record inside a receipt (the rest are SOAP Faults).
RECEIPT_ERRORS = frozenset({"E_SEAL", "E_DATA", "E_ITEM", "E_NOCASE"})
#: of those, the ones refusing a record the bureau could not open (decryption or integrity): never the applicant's
#: fault, sent again sealed anew (Receipt.unopened, lianban/wire/contract.py)
UNOPENED_ERRORS = frozenset({"E_SEAL"})

#: Faults that name the request's form, not anything one record says: a call of one record so refused does
#: not show that record at fault (``RejectedError.of_request``).
REQUEST_ERRORS = frozenset({"E_XML", "E_DTD"})
