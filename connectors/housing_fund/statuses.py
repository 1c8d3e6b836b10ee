"""住房公积金管理中心 gateway dictionary: its numeric status codes and error codes.

Department IT staff maintain these two tables; ``STATUSES`` must cover all seven unified statuses (一体反馈).
"""

from __future__ import annotations

from lianban.crypto.batch import batch_refusal_codes
from lianban.domain.statuses import Status
from lianban.wire.gateway import GATEWAY_ERRORS

#: housing fund status code → unified status
STATUSES: dict[str, Status] = {
    "10": Status.ACCEPTED,  # 受理
    "11": Status.NOT_ACCEPTED,  # 不予受理
    "20": Status.UNDER_REVIEW,  # 审核中
    "30": Status.SUPPLEMENT,  # 补正资料
    "40": Status.APPROVED,  # 审核通过
    "41": Status.REJECTED,  # 审核不通过
    "50": Status.COMPLETED,  # 已办结（提取款项已划转）
}

#: unified status → housing fund status code (what the department answers)
CODES: dict[Status, str] = {status: code for code, status in STATUSES.items()}

#: housing fund error code → meaning
ERRORS: dict[str, str] = {
    **GATEWAY_ERRORS,  # the gateway's own (lianban.wire.gateway)
    "E101": "数据包解密或完整性校验失败",
    "E102": "退休待遇审核信息字段校验未通过",
    "E103": "事项不属于住房公积金管理中心受理范围",
    "E104": "补正材料所属事项未在住房公积金管理中心办理（未收到该事项）",
    **batch_refusal_codes("BATCH_"),  # a sealed batch refused whole (lianban.crypto.batch)
}

#: its codes refusing one item it could not open (decryption or integrity): never the applicant's fault, sent
#: again sealed anew (Receipt.unopened, lianban/wire/contract.py)
UNOPENED_CODES = frozenset({"E101"})
