"""The HRSS 前置库 (front-end database): approved applications in, HRSS's own item statuses and the 补正
submissions recorded at the window out.

Rows are handed over as read (:class:`lianban.domain.intake.SourceRow`): the hub's intake reads every column
defensively, so no value HRSS writes can crash a run.

Incremental pull: rows with 同步标志 ``0`` are read in 序号 order; lianban stages them in its ledger and
then flags them ``1`` (taken) or ``9`` (quarantined). A crash between the two only means the next pull
reads the rows again, and the ledger's unique 办件编号 makes that a no-op: never twice, never missed.
The status log is append-only and read past a watermark kept in the ledger. The 补正 submissions table
(``T_LB_BZTJ``) is written once per submission; lianban reads it past a watermark
(:meth:`FrontendDB.supplements_since`) and flags what it took (:meth:`FrontendDB.mark_supplements`); a reader
without a watermark takes rows by flag (:meth:`FrontendDB.pull_new_supplements`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    SUPPLEMENT_TABLE,
    SYNC_FLAGS,
)
from connectors.hrss.mapping import (
    STATUS_COLUMNS as S,
)
from connectors.hrss.mapping import (
    SUPPLEMENT_COLUMNS as B,
)
from connectors.hrss.statuses import STATUSES
from lianban.domain.intake import SourceRow, Unreadable, read_status, read_supplement
from lianban.domain.statuses import StatusChange
from lianban.domain.supplements import SupplementSubmission
from lianban.ledger.db import engine_for

STATUS_TABLE_FILE = "connectors/hrss/statuses.py"  # named in the reason when a status code is unknown
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
    Column(S["materials"], String(100)),
)
supplements = Table(
    SUPPLEMENT_TABLE, metadata,
    Column(B["seq"], Integer, primary_key=True, autoincrement=True),
    Column(B["case_no"], String(40), nullable=False, index=True),
    Column(B["item_code"], String(4), nullable=False),
    Column(B["materials"], String(100), nullable=False),
    Column(B["supplied_at"], String(32), nullable=False),
    Column(B["sync_flag"], String(1), nullable=False, default=SYNC_FLAGS["new"], index=True),
    Column(B["synced_at"], String(32)),
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FrontendDB:
    """lianban's view of the HRSS 前置库 at a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)

    def create(self) -> None:
        """Create the tables (HRSS owns them in production; the demo and tests create them)."""
        metadata.create_all(self.engine)

    def insert_applications(self, rows: Iterable[dict[str, Any]]) -> int:
        """Write approved applications (domain keys) as HRSS would; returns the count."""
        values = [{A[k]: v for k, v in row.items() if k in A} for row in rows]
        if not values:
            return 0
        with self.engine.begin() as conn:
            conn.execute(insert(applications), values)
        return len(values)

    def pull_new(self, limit: int) -> list[SourceRow]:
        """Up to `limit` untaken applications in 序号 order, as read (the hub's intake judges them)."""
        query = (select(applications).where(applications.c[A["sync_flag"]] == SYNC_FLAGS["new"])
                 .order_by(applications.c[A["seq"]]).limit(limit))
        with self.engine.connect() as conn:
            return [_source_row(row._mapping, A) for row in conn.execute(query)]

    def mark(self, seqs: Sequence[int], flag: str) -> None:
        """Set 同步标志 of rows `seqs` to ``taken`` or ``quarantined``."""
        if not seqs:
            return
        stmt = (update(applications).where(applications.c[A["seq"]].in_(list(seqs)))
                .values({A["sync_flag"]: SYNC_FLAGS[flag], A["synced_at"]: _now()}))
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def append_status(self, case_no: str, item_code: str, code: str, reason: str | None = None,
                      at: str | None = None, materials: Sequence[str] = ()) -> None:
        """HRSS records a status of one of its own items (used by HRSS, the demo and tests); with 补正资料,
        `materials` names the materials asked for by catalog code."""
        row = {S["case_no"]: case_no, S["item_code"]: item_code, S["status_code"]: code,
               S["reason"]: reason, S["changed_at"]: at or _now(), S["materials"]: ",".join(materials) or None}
        with self.engine.begin() as conn:
            conn.execute(insert(status_log), [row])

    def status_changes_since(self, seq: int, limit: int) -> list[StatusChange | Unreadable]:
        """Status log rows after `seq`, in order; a row that cannot be placed (an unknown 办理状态 code, a bad
        time) comes back as Unreadable with its reasons, for the hub to park."""
        query = (select(status_log).where(status_log.c[S["seq"]] > seq)
                 .order_by(status_log.c[S["seq"]]).limit(limit))
        with self.engine.connect() as conn:
            return [read_status(_source_row(row._mapping, S), STATUSES, STATUS_TABLE_FILE)
                    for row in conn.execute(query)]

    def record_supplement(self, case_no: str, item_code: str, materials: Sequence[str],
                          at: str | None = None) -> int:
        """The window records one 补正 submission (HRSS, the demo and tests): the materials the applicant
        supplied for one item, by catalog code; returns its 序号."""
        row = {B["case_no"]: case_no, B["item_code"]: item_code, B["materials"]: ",".join(materials),
               B["supplied_at"]: at or _now(), B["sync_flag"]: SYNC_FLAGS["new"]}
        with self.engine.begin() as conn:
            return int(conn.execute(insert(supplements), [row]).inserted_primary_key[0])  # type: ignore[index]

    def supplements_since(self, seq: int, limit: int) -> list[SupplementSubmission | Unreadable]:
        """补正 submissions after `seq`, in order; a row that cannot be placed (an unknown material code, a bad
        time) comes back as Unreadable with its reasons, for the hub to park."""
        query = (select(supplements).where(supplements.c[B["seq"]] > seq)
                 .order_by(supplements.c[B["seq"]]).limit(limit))
        return self._supplements(query)

    def pull_new_supplements(self, limit: int) -> list[SupplementSubmission | Unreadable]:
        """Up to `limit` 补正 submissions not yet taken (同步标志 ``0``), in 序号 order."""
        query = (select(supplements).where(supplements.c[B["sync_flag"]] == SYNC_FLAGS["new"])
                 .order_by(supplements.c[B["seq"]]).limit(limit))
        return self._supplements(query)

    def mark_supplements(self, seqs: Sequence[int], flag: str = "taken") -> None:
        """Set 同步标志 of submissions `seqs` (``taken`` once the ledger holds them)."""
        if not seqs:
            return
        stmt = (update(supplements).where(supplements.c[B["seq"]].in_(list(seqs)))
                .values({B["sync_flag"]: SYNC_FLAGS[flag], B["synced_at"]: _now()}))
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def _supplements(self, query: Any) -> list[SupplementSubmission | Unreadable]:
        columns = {k: v for k, v in B.items() if k not in ("sync_flag", "synced_at")}
        with self.engine.connect() as conn:
            return [read_supplement(_source_row(row._mapping, columns)) for row in conn.execute(query)]


def _source_row(row: Any, columns: Mapping[str, str]) -> SourceRow:
    """A row by domain key, values untouched (序号 is the table's integer primary key)."""
    return SourceRow(int(row[columns["seq"]]), {key: row[column] for key, column in columns.items() if key != "seq"})
