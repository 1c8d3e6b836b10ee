"""HRSS's own items (事项 01–10): their statuses come from the 前置库 status log, read past a watermark.

Nothing in the log stalls the rows behind it. Each row is, in log order:

    applied    its case is staged and the item was chosen: the status is recorded (status machine, event)
    refused    it is about another department's item (the log holds HRSS's own items, and 已办结 of those HRSS
               completes, item 13): kept with HRSS's words as an illegal report and alerted, not applied
    skipped    its case is staged but the applicant did not choose that item (logged)
    waiting    its case is not staged yet (not extracted, or quarantined), or an earlier row of its case is still
               waiting (the case staged while a run was past its retry): parked with the change (its reason
               masked, its result sealed, as an applied row's), and applied at the start of a later run once the
               case is staged, before newer rows, so order holds
    parked     it cannot be read (an unknown 办理状态 or 补正材料 code, a bad time, a bad 办件编号): parked with its
               reasons and its fields as read, sealed (they may quote the applicant), and alerted; a person
               fixes the code table (``lianban status`` counts them). Every run first reads each such row again
               by the tables as deployed: one that reads now is placed as if just read (applied, in order by
               the status machine's rules: older than the item's status, it is stale and changes nothing; or
               waiting), one that does not stays parked with its reasons of now

The watermark moves past every row in the same transaction that records what became of it, and only past rows
with no number missing before them: a row that commits after a later one is still read, in order
(:mod:`lianban.ledger.log_gaps`). A run drains the
log page by page (one transaction per page, its cases and items read in one query) until it is read to the
end or its time budget is spent, so a backlog never waits for the next scheduled run while there is time to
take it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lianban.crypto.vault import open_envelope, seal
from lianban.domain.catalog import load_catalog, shown_code, window
from lianban.domain.identity import code_shown, redact_text
from lianban.domain.intake import SourceRow, Unreadable
from lianban.domain.statuses import Status, StatusChange
from lianban.errors import RejectedError
from lianban.keys.names import VAULT
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.log_gaps import takeable
from lianban.ledger.models import Case, CaseItem, ParkedStatus
from lianban.ledger.results import seal_result
from lianban.ledger.status_book import ItemRow, StatusBook, item_rows
from lianban.ledger.store import ParkedState, get_watermark, locked_watermark, refuse_report, set_watermark, utcnow
from lianban.pipeline.feedback import FeedbackResult

HRSS_WATERMARK = "hrss_status_log"
PAGE = 4000  # rows per transaction (1,000 a page waited on the ledger's write lock twice as long: polls write too)
BUDGET_SECONDS = 120.0  # one run reads on until the log is drained or this is spent
T = TypeVar("T")
#: cases whose items one query reads when parked or waiting rows are placed again (each case and item a bound
#: parameter: PostgreSQL takes at most 65,535 a statement, and a backfill can leave more cases waiting)
CASES_PER_PAGE = 1000
log = logging.getLogger("lianban.feedback")
alerts = logging.getLogger("lianban.alerts")


class StatusLog(Protocol):
    """HRSS's append-only log of its own items' statuses, as read (a row it cannot place is Unreadable)."""

    def status_changes_since(self, seq: int, limit: int) -> Sequence[StatusChange | Unreadable]: ...

    def read_row(self, row: SourceRow) -> StatusChange | Unreadable:
        """A row of the log (a parked row's fields, as read then) read by the code tables as they are now."""
        ...


@dataclass(frozen=True)
class _Run:
    result: FeedbackResult
    vault: KeyRing  # seals results (lianban.ledger.results)


@dataclass(frozen=True)
class _Staged:
    """The staged cases (and their items) that some log rows name, read in one query, so that placing a page
    of rows costs no query (and no flush) per row. The items stay locked until the page's transaction ends: an
    operator's refusal (:func:`lianban.pipeline.notices.refuse`) committed while the page is judged would
    otherwise be written over, a final status undone."""

    cases: frozenset[str]
    items: dict[tuple[str, str], ItemRow]
    book: StatusBook

    @classmethod
    def of(cls, session: Session, case_nos: Collection[str]) -> _Staged:
        rows = session.execute(select(Case.case_no, CaseItem.id).outerjoin(CaseItem, CaseItem.case_id == Case.id)
                               .where(Case.case_no.in_(set(case_nos)))).all()
        items = item_rows(session, {item_id for _, item_id in rows if item_id is not None}, lock=True)
        return cls(frozenset(no for no, _ in rows),
                   {(no, items[i].item_code): items[i] for no, i in rows if i is not None}, StatusBook(session))


def _seal(change: StatusChange, run: _Run) -> str | None:
    return seal_result(run.vault, change.case_no, change.item_code, window(), change.result)


def _apply(staged: _Staged, change: StatusChange, run: _Run, sealed: str | None) -> None:
    """Record `change` on its item (`sealed`: its result, as :func:`_seal` keeps it), or skip it (not chosen)."""
    item = staged.items.get((change.case_no, change.item_code))
    if item is None:
        run.result.skipped += 1
        log.warning("人社状态日志第 %s 条：办件 %s 未选择事项 %s，跳过", change.seq, change.case_no,
                    shown_code(change.item_code))  # masked: a name or phone typed into 事项编码
        return
    if not _reports_on(item.item_code, change.status):
        refuse_report(staged.book.session, item, change.status, window(), code=change.department_code,
                      reason=change.reason, changed_at=change.changed_at)
        return
    run.result.changed += staged.book.record(item, change.status, window(), code=change.department_code,
                                             reason=change.reason, changed_at=change.changed_at, result=sealed,
                                             materials=change.materials)


def _reports_on(item_code: str, status: Status) -> bool:
    """Whether HRSS's log may report `status` of item `item_code`: one of its own items, or 已办结 of one it
    completes (item 13: it pays the reward health found due)."""
    item = load_catalog().items.get(item_code)
    return item is None or item.department == window() or (status is Status.COMPLETED and item.completer == window())


def _kept(change: StatusChange, run: _Run) -> str:
    """`change` as a waiting row keeps it (JSON): its reason masked and its result sealed, as an applied row's
    are, and its item code as shown (a name typed there names no item: skipped alike), never the applicant's data
    in plaintext; :func:`_restored` reads it back."""
    masked = replace(change, item_code=code_shown(change.item_code),
                     reason=redact_text(change.reason) if change.reason else change.reason, result=None)
    return json.dumps({**asdict(masked), "sealed": _seal(change, run)}, ensure_ascii=False)


def _restored(parked: ParkedStatus, run: _Run) -> tuple[StatusChange, str | None]:
    """The change a waiting row keeps, and its sealed result (a row kept before results were sealed there holds
    its result as reported: sealed now)."""
    fields = json.loads(parked.change or "{}")
    sealed = fields.pop("sealed", None)
    fields.update(status=Status(fields["status"]), materials=tuple(fields.get("materials") or ()))
    change = StatusChange(**fields)
    return change, sealed if sealed is not None else _seal(change, run)


def _park(session: Session, row: StatusChange | Unreadable, state: ParkedState, reasons: list[str],
          change: str | None = None, raw: str | None = None) -> None:
    session.add(ParkedStatus(source=window(), source_seq=row.seq, case_no=row.case_no[:40], state=state,
                             reasons=json.dumps(reasons, ensure_ascii=False), change=change, raw=raw,
                             created_at=utcnow()))


def _raw_aad(seq: int) -> str:
    return f"{window()}|status-log|{seq}"


def _sealed_row(row: Unreadable, run: _Run) -> str | None:
    """The unreadable row's fields as read, sealed with the vault key, for :func:`_retry_parked`; None when one
    holds what JSON cannot keep as it was read (not UTF-8, a number with a fraction, a date: such a row is not
    read again)."""
    fields = _kept_fields(row.values)
    if fields is None:
        return None
    try:
        return json.dumps(seal(run.vault, {"values": fields}, _raw_aad(row.seq)))
    except UnicodeError:  # a lone surrogate: text that cannot be UTF-8
        return None


def _kept_fields(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """`values` as JSON keeps them (UTF-8 bytes as their text, which reads alike), or None."""
    try:
        fields = {key: value.decode() if isinstance(value, bytes) else value for key, value in values.items()}
    except UnicodeDecodeError:
        return None
    return fields if all(v is None or type(v) in (str, int, bool) for v in fields.values()) else None


def _opened_row(parked: ParkedStatus, run: _Run) -> SourceRow:
    """The fields a parked row keeps (RejectedError when they cannot be opened)."""
    opened = open_envelope(run.vault, json.loads(parked.raw or "null"), expect_aad=_raw_aad(parked.source_seq))
    return SourceRow(parked.source_seq, opened["values"])


def _waiting(session: Session, case_nos: Collection[str]) -> frozenset[str]:
    """Those of `case_nos` with rows still waiting (their case staged since the run retried them, or not yet): a
    newer row of theirs waits behind them, so that they are applied in log order."""
    return frozenset(session.scalars(select(ParkedStatus.case_no).where(
        ParkedStatus.source == window(), ParkedStatus.state == ParkedState.WAITING,
        ParkedStatus.case_no.in_(set(case_nos)))))


def _place(session: Session, row: StatusChange | Unreadable, staged: _Staged, run: _Run,
           waiting: frozenset[str]) -> None:
    result = run.result
    if isinstance(row, Unreadable):
        _park(session, row, ParkedState.PARKED, row.reasons, raw=_sealed_row(row, run))
        result.parked += 1
        alerts.error("告警 ALERT: 人社状态日志第 %s 条无法处理，已搁置：%s", row.seq, "；".join(row.reasons))
        return
    why = _why_waiting(row, staged, waiting)
    if why:
        _park(session, row, ParkedState.WAITING, [why], _kept(row, run))
        result.waiting += 1
        return
    _apply(staged, row, run, _seal(row, run))


def _why_waiting(row: StatusChange, staged: _Staged, waiting: frozenset[str]) -> str | None:
    """Why `row` waits for its case (None: it applies now)."""
    if row.case_no not in staged.cases:
        return "办件尚未入账（未抽取或已隔离），入账后自动补记"
    return "同一办件有更早的状态记录待补记，随其按序补记" if row.case_no in waiting else None


def _retry_parked(session: Session, source: StatusLog, run: _Run) -> None:
    """Read again, in log order, every unreadable row whose fields are kept, by the code tables as deployed:
    one that reads now is placed as :func:`_place` places a row just read (applied, or waiting for its case
    and applied by :func:`_retry_waiting` after it), one that does not keeps its reasons of now."""
    parked = list(session.scalars(select(ParkedStatus).where(
        ParkedStatus.source == window(), ParkedStatus.state == ParkedState.PARKED, ParkedStatus.raw.is_not(None))
        .order_by(ParkedStatus.source_seq)))
    rows = [(p, _read_again(p, source, run)) for p in parked]
    readable = [(p, row) for p, row in rows if isinstance(row, StatusChange)]
    if not readable:
        return
    for page in _case_pages(readable, lambda pair: pair[1].case_no):
        staged = _Staged.of(session, {row.case_no for _, row in page})
        waiting = _waiting(session, staged.cases)
        for p, row in page:
            _place_again(p, row, staged, run, waiting)
        staged.book.write()
    log.warning("人社状态日志搁置的 %s 条记录按现行映射已可读取，已如新读取的记录处理", len(readable))


def _read_again(parked: ParkedStatus, source: StatusLog, run: _Run) -> StatusChange | Unreadable | None:
    """`parked`'s fields read again (None when they cannot be opened: they are no longer kept); a row still
    unreadable keeps its reasons of now."""
    try:
        row = source.read_row(_opened_row(parked, run))
    except RejectedError as problem:
        alerts.error("告警 ALERT: 人社状态日志第 %s 条搁置记录无法解密，不再重新读取：%s", parked.source_seq,
                     problem.reason)
        parked.raw = None
        return None
    if isinstance(row, Unreadable):
        parked.reasons = json.dumps(row.reasons, ensure_ascii=False)
    return row


def _place_again(parked: ParkedStatus, row: StatusChange, staged: _Staged, run: _Run,
                 waiting: frozenset[str]) -> None:
    """A parked row that reads now, placed as a row just read: waiting for its case, or applied and resolved."""
    parked.raw, parked.case_no, why = None, row.case_no[:40], _why_waiting(row, staged, waiting)
    if why:
        parked.state, parked.reasons, parked.change = ParkedState.WAITING, json.dumps([why], ensure_ascii=False), \
            _kept(row, run)
        run.result.waiting += 1
        return
    _apply(staged, row, run, _seal(row, run))
    parked.state, parked.resolved_at = ParkedState.APPLIED, utcnow()


def _retry_waiting(session: Session, run: _Run) -> None:
    """Apply, in log order, every waiting row whose case has been staged since (the rows of cases still not
    staged are not read), :data:`CASES_PER_PAGE` cases at a time."""
    waiting = list(session.scalars(select(ParkedStatus).join(Case, Case.case_no == ParkedStatus.case_no)
                                   .where(ParkedStatus.source == window(), ParkedStatus.state == ParkedState.WAITING)
                                   .order_by(ParkedStatus.source_seq)))
    for page in _case_pages(waiting, lambda parked: parked.case_no):
        staged = _Staged.of(session, {p.case_no for p in page})
        for parked in page:
            change, sealed = _restored(parked, run)
            _apply(staged, change, run, sealed)
            parked.state, parked.resolved_at = ParkedState.APPLIED, utcnow()
        staged.book.write()


def _case_pages(rows: Sequence[T], case_of: Callable[[T], str]) -> list[list[T]]:
    """`rows` (in log order) in pages of at most :data:`CASES_PER_PAGE` cases, every row of a case in one page,
    in log order within it (rows of different cases do not depend on each other's order)."""
    page_of: dict[str, int] = {}
    pages: list[list[T]] = []
    for row in rows:
        page = page_of.setdefault(case_of(row), len(page_of) // CASES_PER_PAGE)
        if page == len(pages):
            pages.append([])
        pages[page].append(row)
    return pages


def collect_hrss(source: StatusLog, ledger_url: str, keys_dir: Path, limit: int = PAGE,
                 budget: float = BUDGET_SECONDS) -> FeedbackResult:
    """Read unreadable rows again and apply rows that were waiting for their case, then HRSS's status log past
    the watermark (module docstring), `limit` rows per transaction, so the watermark and what became of each row
    move together, until the log is drained or `budget` seconds have passed (``stopped_by`` says so). Results
    (HRSS's payment of item 13) are sealed with the vault key of `keys_dir`."""
    run, sessions = _Run(FeedbackResult(window()), load_ring(keys_dir, VAULT)), session_factory(ledger_url)
    deadline = time.monotonic() + budget
    with sessions.begin() as session:
        _retry_parked(session, source, run)
        _retry_waiting(session, run)
    while _page(sessions, source, run, limit) == limit:
        if time.monotonic() > deadline:
            run.result.stopped_by = f"本轮时间预算（{budget:g}秒）已用完，其余状态下一轮继续读取 (time budget spent)"
            break
    return run.result


def _page(sessions: sessionmaker[Session], source: StatusLog, run: _Run, limit: int) -> int:
    """One page of the log past the watermark, in one transaction, up to a number still missing; the number of
    rows read. The page is read from HRSS before the ledger's write lock is taken (past the watermark as it was
    then), and read again under it only if another run moved the watermark meanwhile: the polls, which write the
    ledger too, no longer wait while HRSS's rows are fetched and parsed (about a quarter of the collector's time)."""
    read = 0
    with sessions() as session:
        seen = get_watermark(session, HRSS_WATERMARK)
    ahead = source.status_changes_since(seen, limit)
    with sessions.begin() as session:
        mark = locked_watermark(session, HRSS_WATERMARK)
        rows = ahead if mark == seen else source.status_changes_since(mark, limit)
        rows = rows[:takeable(session, HRSS_WATERMARK, "人社状态日志", mark, [row.seq for row in rows])]
        staged = _Staged.of(session, {row.case_no for row in rows})
        waiting = _waiting(session, staged.cases)
        for row in rows:
            _place(session, row, staged, run, waiting)
            read, mark = read + 1, row.seq
        staged.book.write()
        set_watermark(session, HRSS_WATERMARK, mark)
    run.result.read += read
    return read
