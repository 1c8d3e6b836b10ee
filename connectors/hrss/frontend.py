"""The HRSS 前置库 (front-end database): approved applications in, HRSS's own item statuses out.

Incremental pull: rows with 同步标志 ``0`` are read in 序号 order; lianban stages them in its ledger and
then flags them ``1`` (taken) or ``9`` (quarantined). A crash between the two only means the next pull
reads the rows again, and the ledger's unique 办件编号 makes that a no-op: never twice, never missed.
The status log is append-only and read past a watermark kept in the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.engine import Engine

from connectors.hrss.mapping import (
    APPLICATION_COLUMNS as A,
)
from connectors.hrss.mapping import (
    APPLICATION_TABLE,
    STATUS_TABLE,
    SYNC_FLAGS,
)
from connectors.hrss.mapping import (
    STATUS_COLUMNS as S,
)
from connectors.hrss.statuses import STATUSES
from lianban.domain.record import RetirementRecord
from lianban.errors import ConfigError
from lianban.ledger.db import engine_for
from lianban.wire.contract import StatusChange

metadata = MetaData()
applications = Table(
    APPLICATION_TABLE, metadata,
    Column(A["seq"], Integer, primary_key=True, autoincrement=True),
    Column(A["case_no"], String(40), nullable=False, unique=True),
    Column(A["name"], String(50)), Column(A["id_number"], String(18)),
    Column(A["employer_name"], String(200)), Column(A["employer_uscc"], String(18)),
    Column(A["contribution_months"], Integer), Column(A["pension_start"], String(7)),
    Column(A["phone"], String(20)), Column(A["items"], String(100), nullable=False),
    Column(A["approved_at"], String(32), nullable=False),
    Column(A["sync_flag"], String(1), nullable=False, default=SYNC_FLAGS["new"], index=True),
    Column(A["synced_at"], String(32)),
)
status_log = Table(
    STATUS_TABLE, metadata,
    Column(S["seq"], Integer, primary_key=True, autoincrement=True),
    Column(S["case_no"], String(40), nullable=False, index=True),
    Column(S["item_code"], String(4), nullable=False),
    Column(S["status_code"], String(2), nullable=False),
    Column(S["reason"], Text), Column(S["changed_at"], String(32), nullable=False),
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FrontendDB:
    """lianban's view of the HRSS 前置库 at a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)

    def create(self) -> None:
        """Create the two tables (HRSS owns them in production; the demo and tests create them)."""
        metadata.create_all(self.engine)

    def insert_applications(self, rows: Iterable[dict[str, Any]]) -> int:
        """Write approved applications (domain keys) as HRSS would; returns the count."""
        values = [{A[k]: v for k, v in row.items() if k in A} for row in rows]
        if not values:
            return 0
        with self.engine.begin() as conn:
            conn.execute(insert(applications), values)
        return len(values)

    def pull_new(self, limit: int) -> list[RetirementRecord]:
        """Up to `limit` untaken applications in 序号 order."""
        query = (select(applications).where(applications.c[A["sync_flag"]] == SYNC_FLAGS["new"])
                 .order_by(applications.c[A["seq"]]).limit(limit))
        with self.engine.connect() as conn:
            return [_record(row._mapping) for row in conn.execute(query)]

    def mark(self, seqs: Sequence[int], flag: str) -> None:
        """Set 同步标志 of rows `seqs` to ``taken`` or ``quarantined``."""
        if not seqs:
            return
        stmt = (update(applications).where(applications.c[A["seq"]].in_(list(seqs)))
                .values({A["sync_flag"]: SYNC_FLAGS[flag], A["synced_at"]: _now()}))
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def append_status(self, case_no: str, item_code: str, code: str, reason: str | None = None,
                      at: str | None = None) -> None:
        """HRSS records a status of one of its own items (used by HRSS, the demo and tests)."""
        row = {S["case_no"]: case_no, S["item_code"]: item_code, S["status_code"]: code,
               S["reason"]: reason, S["changed_at"]: at or _now()}
        with self.engine.begin() as conn:
            conn.execute(insert(status_log), [row])

    def status_changes_since(self, seq: int, limit: int) -> list[StatusChange]:
        """Status log rows after `seq`, in order."""
        query = (select(status_log).where(status_log.c[S["seq"]] > seq)
                 .order_by(status_log.c[S["seq"]]).limit(limit))
        with self.engine.connect() as conn:
            return [_change(row._mapping) for row in conn.execute(query)]


def _record(row: Any) -> RetirementRecord:
    get = lambda key: row[A[key]]  # noqa: E731
    months = get("contribution_months")
    return RetirementRecord(
        case_no=get("case_no"), name=get("name") or "", id_number=get("id_number") or "",
        employer_name=get("employer_name") or "", employer_uscc=get("employer_uscc") or "",
        contribution_months=int(months) if months is not None else None,
        pension_start=get("pension_start") or "", phone=get("phone") or "",
        items=tuple(c.strip() for c in (get("items") or "").split(",") if c.strip()),
        approved_at=get("approved_at"), source_seq=int(get("seq")),
    )


def _change(row: Any) -> StatusChange:
    code = row[S["status_code"]]
    if code not in STATUSES:
        raise ConfigError(f"人社前置库状态日志第 {row[S['seq']]} 条的办理状态码 {code!r} 不在 "
                          f"connectors/hrss/statuses.py 中：请与人社联络员核对后补充映射 (unknown HRSS status code)")
    return StatusChange(
        seq=int(row[S["seq"]]), case_no=row[S["case_no"]], item_code=row[S["item_code"]],
        status=STATUSES[code], department_code=code, changed_at=row[S["changed_at"]], reason=row[S["reason"]],
    )
