"""The HRSS 前置库 (front-end database): approved applications in, HRSS's own item statuses and the 补正
submissions recorded at the window out.

Rows are handed over as read (:class:`lianban.domain.intake.SourceRow`): the hub's intake reads every column
defensively, so no value HRSS writes can crash a run.

Incremental pull: rows with 同步标志 ``0`` are read in 序号 order; lianban stages them in its ledger and
then flags them ``1`` (taken) or ``9`` (quarantined). A crash between the two only means the next pull
reads the rows again, and the ledger's unique 办件编号 makes that a no-op: never twice, never missed.
The status log is append-only and read past a watermark kept in the ledger.

Payment requests go the other way (item 13, the reward health found due): the hub writes them once per case
item (unique 请求号), HRSS pays, flags them taken and confirms in its status log (已办结 with 办理结果).

The 补正 submissions table (``T_LB_BZTJ``) is written once per submission; lianban reads it past a watermark
(:meth:`FrontendDB.supplements_since`) and flags what it took (:meth:`FrontendDB.mark_supplements`); a reader
without a watermark takes rows by flag (:meth:`FrontendDB.pull_new_supplements`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.engine import Connection, CursorResult, Engine, Result

from connectors.hrss.mapping import (
    APPLICATION_COLUMNS as A,
)
from connectors.hrss.mapping import (
    APPLICATION_TABLE,
    PAYMENT_TABLE,
    STATUS_TABLE,
    SUPPLEMENT_TABLE,
    SYNC_FLAGS,
    in_lists,
)
from connectors.hrss.mapping import (
    PAYMENT_COLUMNS as P,
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
from lianban.wire.contract import PaymentOrder

if TYPE_CHECKING:
    from connectors.hrss.register import InsuredRegister

STATUS_TABLE_FILE = "connectors/hrss/statuses.py"  # named in the reason when a status code is unknown
metadata = MetaData()
#: what HRSS writes in a row (all but 序号 and the hub's 同步标志 and 同步时间): a row is flagged only if these are
#: as the hub read them (FrontendDB.mark)
_CONTENT = tuple(key for key in A if key not in ("seq", "sync_flag", "synced_at"))
_content = itemgetter(*_CONTENT)  # a row's content, as a tuple of its values
applications = Table(
    APPLICATION_TABLE, metadata,
    Column(A["seq"], Integer, primary_key=True, autoincrement=True),
    Column(A["case_no"], String(40), nullable=False, unique=True),
    Column(A["name"], String(50)), Column(A["id_number"], String(18)),
    Column(A["employer_name"], String(200)), Column(A["employer_uscc"], String(18)),
    Column(A["contribution_months"], Integer), Column(A["pension_start"], String(7)),
    Column(A["phone"], String(20)), Column(A["items"], String(100), nullable=False),
    Column(A["approved_at"], String(32), nullable=False),
    Column(A["password"], String(32)),
    Column(A["original_age"], String(2)), Column(A["retirement_type"], String(2)),
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
    Column(S["result"], Text),
    Column(S["materials"], String(100)),
)
payment_requests = Table(
    PAYMENT_TABLE, metadata,
    Column(P["seq"], Integer, primary_key=True, autoincrement=True),
    Column(P["request_no"], String(64), nullable=False, unique=True),
    Column(P["case_no"], String(40), nullable=False),
    Column(P["item_code"], String(4), nullable=False),
    Column(P["amount"], String(16), nullable=False),
    Column(P["requested_at"], String(32), nullable=False),
    Column(P["sync_flag"], String(1), nullable=False, default=SYNC_FLAGS["new"], index=True),
    Column(P["synced_at"], String(32)),
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
        from connectors.hrss.register import create_tables

        metadata.create_all(self.engine)
        create_tables(self.engine)  # the register and the awards of 双告知 (connectors/hrss/register.py)

    @property
    def register(self) -> InsuredRegister:
        """The register of insured workers and the approved pensions (双告知), in the same 前置库."""
        from connectors.hrss.register import InsuredRegister

        return InsuredRegister(self.engine)

    def insert_applications(self, rows: Iterable[dict[str, Any]]) -> int:
        """Write approved applications (domain keys) as HRSS would; returns the count."""
        values = [{A[k]: v for k, v in row.items() if k in A} for row in rows]
        if not values:
            return 0
        with self.engine.begin() as conn:
            conn.execute(insert(applications), values)
        return len(values)

    def pull_new(self, limit: int, after: int | None = None) -> list[SourceRow]:
        """Up to `limit` untaken applications in 序号 order (those after 序号 `after`), as read (the hub's
        intake judges them)."""
        query = (select(applications).where(applications.c[A["sync_flag"]] == SYNC_FLAGS["new"])
                 .order_by(applications.c[A["seq"]]).limit(limit))
        if after is not None:
            query = query.where(applications.c[A["seq"]] > after)
        with self.engine.connect() as conn:
            return _source_rows(conn.execute(query), A)

    def mark(self, rows: Sequence[SourceRow], flag: str) -> list[int]:
        """Set 同步标志 of `rows` to ``taken`` or ``quarantined``, each only if it is still untaken and as it was
        read; the 序号 of those HRSS changed since the hub read them, left untaken (in the same transaction) for the
        next run to read as they are now. Without this, a correction HRSS made while the row's chunk was being
        staged would be flagged as taken with the old content, and never read."""
        if not rows:
            return []
        read = {row.seq: row.values for row in rows}
        seq, sync_flag = applications.c[A["seq"]], applications.c[A["sync_flag"]]
        flagged = update(applications).values({A["sync_flag"]: SYNC_FLAGS[flag], A["synced_at"]: _now()})
        changed: list[int] = []
        with self.engine.begin() as conn:
            for part in in_lists(list(read)):
                result = conn.execute(flagged.where(seq.in_(part), sync_flag == SYNC_FLAGS["new"])
                                      .returning(seq, *(applications.c[A[key]] for key in _CONTENT)))
                changed += [now[0] for now in _returned(conn, result) if now[1:] != _content(read[now[0]])]
            for part in in_lists(changed):
                conn.execute(update(applications).where(seq.in_(part))
                             .values({A["sync_flag"]: SYNC_FLAGS["new"], A["synced_at"]: None}))
        return changed

    def quarantined(self) -> list[SourceRow]:
        """Rows the hub quarantined (同步标志 9), as read: what HRSS has to correct at the source."""
        query = (select(applications).where(applications.c[A["sync_flag"]] == SYNC_FLAGS["quarantined"])
                 .order_by(applications.c[A["seq"]]))
        with self.engine.connect() as conn:
            return _source_rows(conn.execute(query), A)

    def correct(self, seq: int, values: Mapping[str, Any]) -> None:
        """HRSS corrects row `seq` at the source (domain keys) and flags it new, for the hub to take again."""
        fixed = {A[k]: v for k, v in values.items() if k in A and k not in ("seq", "case_no", "sync_flag")}
        stmt = (update(applications).where(applications.c[A["seq"]] == seq)
                .values({**fixed, A["sync_flag"]: SYNC_FLAGS["new"], A["synced_at"]: None}))
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def append_status(self, case_no: str, item_code: str, code: str, reason: str | None = None,
                      at: str | None = None, materials: Sequence[str] = (),
                      result: Mapping[str, str] | None = None) -> None:
        """HRSS records a status of one of its own items (used by HRSS, the demo and tests): with 补正资料,
        `materials` names the materials asked for by catalog code; with its payment of item 13, `result`."""
        row = {S["case_no"]: case_no, S["item_code"]: item_code, S["status_code"]: code,
               S["reason"]: reason, S["changed_at"]: at or _now(), S["materials"]: ",".join(materials) or None,
               S["result"]: json.dumps(dict(result), ensure_ascii=False) if result else None}
        with self.engine.begin() as conn:
            conn.execute(insert(status_log), [row])

    def status_changes_since(self, seq: int, limit: int) -> list[StatusChange | Unreadable]:
        """Status log rows after `seq`, in order; a row that cannot be placed (an unknown 办理状态 code, a bad
        time) comes back as Unreadable with its reasons, for the hub to park."""
        query = (select(status_log).where(status_log.c[S["seq"]] > seq)
                 .order_by(status_log.c[S["seq"]]).limit(limit))
        with self.engine.connect() as conn:
            return [read_status(row, STATUSES, STATUS_TABLE_FILE) for row in _source_rows(conn.execute(query), S)]

    def read_row(self, row: SourceRow) -> StatusChange | Unreadable:
        """A status log row (a parked row's fields, as read then) read by ``statuses.py`` as deployed now."""
        return read_status(row, STATUSES, STATUS_TABLE_FILE)

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
        stmt = update(supplements).values({B["sync_flag"]: SYNC_FLAGS[flag], B["synced_at"]: _now()})
        with self.engine.begin() as conn:
            for part in in_lists(seqs):
                conn.execute(stmt.where(supplements.c[B["seq"]].in_(part)))

    def _supplements(self, query: Any) -> list[SupplementSubmission | Unreadable]:
        columns = {k: v for k, v in B.items() if k not in ("sync_flag", "synced_at")}
        with self.engine.connect() as conn:
            return [read_supplement(row) for row in _source_rows(conn.execute(query), columns)]


    # -- payment requests (item 13): written by the hub, taken by HRSS ---------------------------------------
    def request_payments(self, requests: Sequence[PaymentOrder]) -> None:
        """Write payment requests for HRSS; a request number already there is left as it is (a re-run after a
        crash between this write and the ledger's commit asks nothing twice)."""
        with self.engine.begin() as conn:
            number = payment_requests.c[P["request_no"]]
            known = {found for part in in_lists([r.request_no for r in requests])
                     for found in conn.scalars(select(number).where(number.in_(part)))}
            rows = [{P["request_no"]: r.request_no, P["case_no"]: r.case_no, P["item_code"]: r.item_code,
                     P["amount"]: r.amount, P["requested_at"]: _now()} for r in requests if r.request_no not in known]
            if rows:
                conn.execute(insert(payment_requests), rows)

    def new_payment_requests(self) -> list[PaymentOrder]:
        """Requests HRSS has not taken yet, oldest first (HRSS's side, used by its back office)."""
        query = (select(payment_requests).where(payment_requests.c[P["sync_flag"]] == SYNC_FLAGS["new"])
                 .order_by(payment_requests.c[P["seq"]]))
        with self.engine.connect() as conn:
            return [PaymentOrder(r[P["request_no"]], r[P["case_no"]], r[P["item_code"]], r[P["amount"]])
                    for r in (row._mapping for row in conn.execute(query))]

    def take_payment_requests(self, request_nos: Sequence[str]) -> None:
        """HRSS flags requests it has paid."""
        if not request_nos:
            return
        stmt = update(payment_requests).values({P["sync_flag"]: SYNC_FLAGS["taken"], P["synced_at"]: _now()})
        with self.engine.begin() as conn:
            for part in in_lists(request_nos):
                conn.execute(stmt.where(payment_requests.c[P["request_no"]].in_(part)))


#: Dialects whose driver's cursor holds the rows an ``UPDATE … RETURNING`` returned, read there as plain tuples.
#: Oracle's does not: its RETURNING comes back through out-parameters, which only SQLAlchemy's result holds.
CURSOR_RETURNING = frozenset({"sqlite", "postgresql"})


def _returned(conn: Connection, result: CursorResult[Any]) -> Sequence[Sequence[Any]]:
    """The rows `result` (an ``UPDATE … RETURNING``) returned, each indexable by position; `result` closed."""
    if conn.dialect.name in CURSOR_RETURNING:
        rows: Sequence[Sequence[Any]] = result.cursor.fetchall()  # plain tuples: text and integer columns
        result.close()
        return rows
    return result.all()


def _source_rows(result: Result[Any], columns: Mapping[str, str]) -> list[SourceRow]:
    """Every row of `result` (a select of whole rows) by domain key, values untouched (序号 is the table's integer
    primary key), the columns not in `columns` left out: each row's values taken by position and zipped with
    their keys (a mapping made of each row and read by name was a fifth of reading HRSS's status log)."""
    key_of = {column: key for key, column in columns.items()}
    names = list(result.keys())
    seq = names.index(columns["seq"])
    kept = [(at, key_of[name]) for at, name in enumerate(names) if name in key_of and name != columns["seq"]]
    keys = [key for _, key in kept]
    positions = [at for at, _ in kept]
    values = itemgetter(*positions) if len(positions) > 1 else lambda row: tuple(row[at] for at in positions)
    return [SourceRow(int(row[seq]), dict(zip(keys, values(row), strict=True))) for row in result]
