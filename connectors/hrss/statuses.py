"""HRSS's own status codes for the items it handles itself (办理状态) ↔ unified statuses.

``STATUSES``: HRSS code → unified status; ``CODES``: the inverse (what HRSS writes in its 前置库 status log).
"""

from __future__ import annotations

from lianban.domain.statuses import Status

#: HRSS 办理状态 code → unified status
STATUSES: dict[str, Status] = {
    "1": Status.ACCEPTED,  # 受理
    "2": Status.NOT_ACCEPTED,  # 不予受理
    "3": Status.UNDER_REVIEW,  # 审核中
    "4": Status.SUPPLEMENT,  # 补正资料
    "5": Status.APPROVED,  # 审核通过
    "6": Status.REJECTED,  # 审核不通过
    "9": Status.COMPLETED,  # 已办结
}
#: unified status → HRSS 办理状态 code
CODES: dict[Status, str] = {status: code for code, status in STATUSES.items()}
