"""The HRSS 前置库 tables of 双告知: the register of insured workers (在职参保人员登记) and the approved pensions
(养老待遇核定).

Both are HRSS's; the hub only reads them (and flags the awards it took). Rows are handed over by domain key, as
read: :mod:`lianban.domain.register` judges each one, so no value HRSS writes can crash a run.

    T_LB_CBRY   one row per insured worker, kept current by HRSS (no sync flag: the hub reads the whole table
                every day, in 序号 order and in chunks — never all at once — and only the people still insured,
                参保状态 in :data:`REMINDED_STATUSES`). Only the columns a notice or the forecast needs are read:
                never the name.
    T_LB_DYHD   one row per approved pension (养老待遇核定), 同步标志 ``0`` new → ``1`` taken (its 待遇告知 is in the
                ledger) or ``9`` unreadable. A crash between the ledger's commit and the flag only reads the rows
                again, and the ledger's unique (person × kind × period) makes that a no-op.

The application rows of ``T_LB_TXSQ`` carry the pension's start month (``DYZXSJ``) but neither the monthly amount
nor the pay day, so the awards have their own table (README: agree it with HRSS's DBAs before deploying).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import Engine

from connectors.hrss.mapping import SYNC_FLAGS, in_lists
from lianban.domain.intake import SourceRow

__all__ = ["AWARD_COLUMNS", "AWARD_TABLE", "INSURED_STATUSES", "REGISTER_COLUMNS", "REGISTER_TABLE",
           "REMINDED_STATUSES", "InsuredRegister", "awards", "create_tables", "register"]

#: Register of active insured workers (在职参保人员登记), kept by HRSS, read by lianban.
REGISTER_TABLE = "T_LB_CBRY"
#: Approved pensions (养老待遇核定), written by HRSS, read and flagged by lianban (待遇告知).
AWARD_TABLE = "T_LB_DYHD"

REGISTER_COLUMNS: dict[str, str] = {
    "seq": "XH",  # 序号, autoincrement
    "id_number": "SFZHM",  # 身份证号码 (the hub keeps only its blind index)
    "name": "XM",  # 姓名 (never read by the hub: no notice names anyone)
    "birth_month": "CSNY",  # 出生年月 (YYYY-MM)
    "original_age": "YFDTXNL",  # 原法定退休年龄: 60 male, 55 female55, 50 female50 (as T_LB_TXSQ)
    "phone": "LXDH",  # 联系电话 (mobile)
    "contribution_months": "JFYS",  # 累计缴费月数 so far
    "insured_status": "CBZT",  # 参保状态, see INSURED_STATUSES
    "updated_at": "GXSJ",  # 更新时间
}
#: 参保状态 codes → meaning; only the first two are reminded and forecast (a 终止 person has left the scheme)
INSURED_STATUSES = {"1": "正常参保", "2": "暂停缴费", "3": "终止参保"}
REMINDED_STATUSES = ("1", "2")
#: what the hub reads of the register (minimum necessary: no name, no status beyond the filter)
READ = ("seq", "id_number", "birth_month", "original_age", "phone", "contribution_months")

AWARD_COLUMNS: dict[str, str] = {
    "seq": "XH",  # 序号, autoincrement
    "award_no": "HDBH",  # 核定编号 (unique)
    "case_no": "BJBH",  # 办件编号 of the 退休一件事 application, when there is one
    "id_number": "SFZHM",  # 身份证号码
    "phone": "LXDH",  # 联系电话
    "monthly_amount": "YLJ",  # 月养老金 (元, two decimals)
    "start_month": "DYKSNY",  # 待遇开始年月 (YYYY-MM)
    "pay_day": "FFR",  # 每月发放日 (1–31)
    "approved_at": "HDSJ",  # 核定时间 (ISO 8601)
    "sync_flag": "TBBZ",  # 同步标志: 0 new, 1 taken, 9 unreadable
    "synced_at": "TBSJ",  # 同步时间
}

R, W = REGISTER_COLUMNS, AWARD_COLUMNS
metadata = MetaData()
register = Table(
    REGISTER_TABLE, metadata,
    Column(R["seq"], Integer, primary_key=True, autoincrement=True),
    Column(R["id_number"], String(18), nullable=False), Column(R["name"], String(50)),
    Column(R["birth_month"], String(7)), Column(R["original_age"], String(2)), Column(R["phone"], String(20)),
    Column(R["contribution_months"], Integer), Column(R["insured_status"], String(1), nullable=False, index=True),
    Column(R["updated_at"], String(32)),
)
awards = Table(
    AWARD_TABLE, metadata,
    Column(W["seq"], Integer, primary_key=True, autoincrement=True),
    Column(W["award_no"], String(32), nullable=False, unique=True), Column(W["case_no"], String(40)),
    Column(W["id_number"], String(18), nullable=False), Column(W["phone"], String(20)),
    Column(W["monthly_amount"], String(12)), Column(W["start_month"], String(7)), Column(W["pay_day"], String(2)),
    Column(W["approved_at"], String(32)),
    Column(W["sync_flag"], String(1), nullable=False, default=SYNC_FLAGS["new"], index=True),
    Column(W["synced_at"], String(32)),
)


def create_tables(engine: Engine) -> None:
    """Create both tables (HRSS owns them in production; the demo and tests create them)."""
    metadata.create_all(engine)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class InsuredRegister:
    """lianban's view of the register and the awards in the HRSS 前置库 (``FrontendDB.register``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert_people(self, rows: Iterable[dict[str, Any]], chunk: int = 5000) -> int:
        """Write register rows (domain keys) as HRSS would, `chunk` at a time; returns the count."""
        written, batch = 0, []
        for row in rows:
            batch.append({R[k]: v for k, v in row.items() if k in R})
            if len(batch) >= chunk:
                written += self._insert(register, batch)
                batch = []
        return written + self._insert(register, batch)

    def insert_awards(self, rows: Iterable[dict[str, Any]]) -> int:
        """Write approved pensions (domain keys) as HRSS would; returns the count."""
        return self._insert(awards, [{W[k]: v for k, v in row.items() if k in W} for row in rows])

    def _insert(self, table: Table, values: list[dict[str, Any]]) -> int:
        if values:
            with self.engine.begin() as conn:
                conn.execute(insert(table), values)
        return len(values)

    def insured(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """The people still insured, `size` rows at a time in 序号 order (keyset pages: each chunk is its own
        short query, so a million rows never sit in memory and never hold a long read open)."""
        columns = [register.c[R[k]] for k in READ]
        last = 0
        while True:
            query = (select(*columns).where(register.c[R["seq"]] > last,
                                            register.c[R["insured_status"]].in_(REMINDED_STATUSES))
                     .order_by(register.c[R["seq"]]).limit(size))
            with self.engine.connect() as conn:
                rows = [dict(zip(READ, row, strict=True)) for row in conn.execute(query)]
            if not rows:
                return
            last = int(rows[-1]["seq"])
            yield rows

    def new_awards(self, limit: int) -> list[SourceRow]:
        """Up to `limit` awards not taken yet (同步标志 ``0``), in 序号 order, as read."""
        query = (select(awards).where(awards.c[W["sync_flag"]] == SYNC_FLAGS["new"])
                 .order_by(awards.c[W["seq"]]).limit(limit))
        keys = [k for k in W if k not in ("seq", "sync_flag", "synced_at")]
        with self.engine.connect() as conn:
            return [SourceRow(int(row[W["seq"]]), {k: row[W[k]] for k in keys})
                    for row in (r._mapping for r in conn.execute(query))]

    def mark_awards(self, seqs: Sequence[int], flag: str) -> None:
        """Set 同步标志 of awards `seqs` to ``taken`` or ``quarantined`` (unreadable)."""
        if not seqs:
            return
        stmt = update(awards).values({W["sync_flag"]: SYNC_FLAGS[flag], W["synced_at"]: _now()})
        with self.engine.begin() as conn:
            for part in in_lists(seqs):
                conn.execute(stmt.where(awards.c[W["seq"]].in_(part)))
