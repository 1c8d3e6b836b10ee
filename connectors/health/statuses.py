"""卫生健康委员会 gateway dictionary: its status codes (pinyin initials) and error codes.

Department IT staff maintain these two tables; ``STATUSES`` must cover all seven unified statuses (一体反馈).
"""

from __future__ import annotations

from lianban.crypto.batch import batch_refusal_codes
from lianban.domain.statuses import Status
from lianban.wire.gateway import GATEWAY_ERRORS

#: health status code → unified status
STATUSES: dict[str, Status] = {
    "SL": Status.ACCEPTED,  # 受理
    "BYSL": Status.NOT_ACCEPTED,  # 不予受理
    "SHZ": Status.UNDER_REVIEW,  # 审核中
    "BZZL": Status.SUPPLEMENT,  # 补正资料
    "SHTG": Status.APPROVED,  # 审核通过（符合奖励条件，反馈人社局发放）
    "SHBTG": Status.REJECTED,  # 审核不通过
    "BJ": Status.COMPLETED,  # 已办结
}

#: unified status → health status code (what the department answers)
CODES: dict[Status, str] = {status: code for code, status in STATUSES.items()}

#: health error code → meaning
ERRORS: dict[str, str] = {
    **GATEWAY_ERRORS,  # the gateway's own (lianban.wire.gateway)
    "JMSB": "数据包解密或完整性校验失败",
    "ZDJYSB": "退休待遇审核信息字段校验未通过",
    "SXBSY": "事项不属于卫生健康委员会受理范围",
    "WSJ": "补正材料所属事项未在卫生健康委员会办理（未收到该事项）",
    **batch_refusal_codes("BATCH_"),  # a sealed batch refused whole (lianban.crypto.batch)
}

#: its codes refusing one item it could not open (decryption or integrity): never the applicant's fault, sent
#: again sealed anew (Receipt.unopened, lianban/wire/contract.py)
UNOPENED_CODES = frozenset({"JMSB"})
