"""The HRSS 前置库's own column names (pinyin initials, as HRSS's DBAs name them) ↔ lianban's fields.

Department IT staff: grep here for a column. One table, one direction each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import TypeVar

_T = TypeVar("_T")

#: The most values one ``IN (…)`` list may hold: Oracle, which HRSS's 前置库 runs on, refuses more than 1,000
#: (ORA-01795), and staging flags 2,000 rows a chunk.
IN_LIST_LIMIT = 1000


def in_lists(values: Sequence[_T]) -> Iterator[list[_T]]:
    """`values` in lists of at most :data:`IN_LIST_LIMIT`, in order, for one ``IN (…)`` each."""
    rest = iter(values)
    while part := list(islice(rest, IN_LIST_LIMIT)):
        yield part

#: Table of approved applications (退休申请审批结果), written by HRSS, read and flagged by lianban.
APPLICATION_TABLE = "T_LB_TXSQ"
#: Append-only log of HRSS's own items' statuses (人社自办事项办理状态), and its payment confirmations (item 13).
STATUS_TABLE = "T_LB_SXZT"
#: Payment requests the hub writes for HRSS (奖励发放请求: item 13, the reward health found due); HRSS pays,
#: flags the row taken, and confirms in the status log (已办结 with the amount and date in 办理结果).
PAYMENT_TABLE = "T_LB_JLFF"
#: 补正 submissions recorded at the HRSS window (补正材料提交), written by HRSS, read (and flagged) by lianban.
SUPPLEMENT_TABLE = "T_LB_BZTJ"

APPLICATION_COLUMNS: dict[str, str] = {
    "seq": "XH",  # 序号, autoincrement
    "case_no": "BJBH",  # 办件编号
    "name": "XM",  # 姓名
    "id_number": "SFZHM",  # 身份证号码
    "employer_name": "CBDW",  # 参保单位
    "employer_uscc": "TYSHXYDM",  # 统一社会信用代码
    "contribution_months": "JFYS",  # 养老保险缴费月数
    "pension_start": "DYZXSJ",  # 养老待遇执行时间 (YYYY-MM)
    "phone": "LXDH",  # 联系电话
    "items": "BLSX",  # 办理事项 (comma-separated item codes)
    "approved_at": "SPSJ",  # 审批时间
    "original_age": "YFDTXNL",  # 原法定退休年龄: 60 (男), 55 (女, 干部/管理技术岗位), 50 (女, 工人岗位)
    "retirement_type": "TXLX",  # 退休类型: 01 正常, 02 弹性提前, 03 弹性延迟, 04 特殊工种提前, 05 病退
    "password": "CXMM",  # 查询密码 (PROJPWD, on the 受理回执; nullable): hashed by the hub, never forwarded
    "sync_flag": "TBBZ",  # 同步标志, see SYNC_FLAGS
    "synced_at": "TBSJ",  # 同步时间
}

#: 同步标志 values: the 前置库 convention for who has taken a row.
SYNC_FLAGS = {"new": "0", "taken": "1", "quarantined": "9"}

STATUS_COLUMNS: dict[str, str] = {
    "seq": "XH",
    "case_no": "BJBH",
    "item_code": "SXBM",  # 事项编码
    "status_code": "BLZT",  # 办理状态 (HRSS code, see statuses.py)
    "reason": "YY",  # 原因
    "changed_at": "BLSJ",  # 办理时间
    "result": "BLJG",  # 办理结果: a JSON object of text values (lianban.domain.results), e.g. the reward paid
    "materials": "BZCL",  # 补正材料: with 补正资料, the materials asked for (comma-separated codes M01–M15)
}

PAYMENT_COLUMNS: dict[str, str] = {
    "seq": "XH",
    "request_no": "QQH",  # 请求号 (unique: one request per case item, ever)
    "case_no": "BJBH",  # 办件编号
    "item_code": "SXBM",  # 事项编码 (13)
    "amount": "JE",  # 金额 (元, two decimals), as health found due
    "requested_at": "QQSJ",  # 请求时间
    "sync_flag": "TBBZ",  # 同步标志: 0 new (for HRSS), 1 taken by HRSS
    "synced_at": "TBSJ",
}

SUPPLEMENT_COLUMNS: dict[str, str] = {
    "seq": "XH",  # 序号, autoincrement
    "case_no": "BJBH",  # 办件编号
    "item_code": "SXBM",  # 事项编码
    "materials": "TJCL",  # 提交材料: the materials supplied (comma-separated codes M01–M15)
    "supplied_at": "TJSJ",  # 提交时间
    "sync_flag": "TBBZ",  # 同步标志, see SYNC_FLAGS
    "synced_at": "TBSJ",  # 同步时间
}
