"""一体反馈: poll every department for its items' statuses.

(HRSS's own items come from its 前置库 status log, :mod:`lianban.pipeline.status_log`; every status event
goes on to 皖事通办 through :mod:`lianban.pipeline.report`.)

Status events are the outbox to 皖事通办: appended in order, pushed in batches, marked when acknowledged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from lianban.domain.identity import redact_text
from lianban.errors import RetriableError
from lianban.keys.names import VAULT
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.delivery_keys import by_key
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.models import Case, CaseItem, Delivery
from lianban.ledger.results import seal_result
from lianban.ledger.status_book import StatusBook, item_rows
from lianban.ledger.store import DeliveryState
from lianban.pipeline.lanes import in_lanes
from lianban.wire.contract import (
    DepartmentConnector,
    Peer,
    Polled,
    StatusUpdate,
    UnknownStatusCode,
    UnreadableStatus,
)

POLL_BATCH = 1000  # keys per poll chunk (one transaction, one evidence entry per page)

alerts = logging.getLogger("lianban.alerts")
log = logging.getLogger(__name__)


@dataclass
class FeedbackResult:
    source: str
    read: int = 0
    changed: int = 0
    skipped: int = 0
    waiting: int = 0  # status rows parked until their case is staged (lianban.pipeline.status_log)
    parked: int = 0  # rows or events set aside with a reason, alerted; the rest flowed on
    stopped_by: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def open_pages(sessions: sessionmaker[Session], department: str, size: int) -> Iterator[dict[str, tuple[int, str]]]:
    """Delivered, unfinished items of `department`, `size` at a time in delivery order, each page read when it is
    wanted: idempotency key → (case item id, 办件编号). A backfill's million open items are never all held at
    once (reading them all first grew a poll's memory with the backlog)."""
    after = 0
    while True:
        with sessions() as session:
            rows = session.execute(open_page(department, after, size)).all()
        if not rows:
            return
        after = rows[-1][-1]
        yield {key: (item_id, case_no) for key, item_id, case_no, _ in rows}


def open_page(department: str, after: int, size: int) -> Select[Any]:
    """The page of `department`'s open items after delivery id `after`: read through the (department, state, id)
    index from there, so each page costs the same however many deliveries the department has taken."""
    return (_delivered(department, Delivery.id).where(CaseItem.final.is_(False), Delivery.id > after)
            .order_by(Delivery.id).limit(size))


def _delivered(department: str, *also: Any) -> Select[Any]:
    """Items delivered to `department` and taken: (idempotency key, case item id, 办件编号, *`also`)."""
    return (select(Delivery.idempotency_key, CaseItem.id, Case.case_no, *also)
            .join(CaseItem, Delivery.case_item_id == CaseItem.id).join(Case, CaseItem.case_id == Case.id)
            .where(Delivery.department == department, Delivery.state == DeliveryState.ACCEPTED))


def delivered_keys(session: Session, department: str, keys: Collection[str]) -> dict[str, tuple[int, str]]:
    """Those of `keys` delivered to `department` and taken: idempotency key → (case item id, 办件编号)."""
    query = _delivered(department).where(by_key(sorted(set(keys))))
    return {key: (item_id, case_no) for key, item_id, case_no in session.execute(query).all()}


def _sealed(session: Session, department: str, open_items: dict[str, tuple[int, str]],
            updates: Sequence[StatusUpdate], vault: KeyRing) -> list[str | None]:
    """The result of each of the page's updates sealed (:func:`~lianban.ledger.results.seal_result`; None
    without one), before the ledger's write lock is taken: an item's code never changes, and sealing under the
    lock was a quarter of the time a poll held it while the other polls and HRSS's log waited."""
    owners = [open_items.get(u.idempotency_key) if u.result else None for u in updates]
    wanted = {owner[0] for owner in owners if owner}
    codes = dict(session.execute(select(CaseItem.id, CaseItem.item_code).where(CaseItem.id.in_(wanted))).all()) \
        if wanted else {}
    return [seal_result(vault, owner[1], codes[owner[0]], department, u.result)
            if owner and owner[0] in codes else None for u, owner in zip(updates, owners, strict=True)]


def _judged(session: Session, department: str, open_items: dict[str, tuple[int, str]],
            updates: Sequence[StatusUpdate], result: FeedbackResult, sealed: Sequence[str | None]) -> StatusBook:
    """The page's status moves judged in memory, to be written (:meth:`StatusBook.write`); `sealed`: their
    results, sealed already (:func:`_sealed`)."""
    known = {open_items[u.idempotency_key][0] for u in updates if u.idempotency_key in open_items}
    items = item_rows(session, known, lock=True)  # one query for the chunk, each row locked while judged
    book = StatusBook(session)
    for u, sealed_result in zip(updates, sealed, strict=True):
        result.read += 1
        key = open_items.get(u.idempotency_key)
        item = items.get(key[0]) if key else None
        if item is not None and key is not None:
            result.changed += book.record(item, u.status, department, code=u.department_code, reason=u.reason,
                                          changed_at=u.changed_at, result=sealed_result, materials=u.materials)
    return book


def poll_department(peer: Peer[DepartmentConnector], ledger_url: str, keys_dir: Path,
                    batch: int = POLL_BATCH, lanes: Sequence[Peer[DepartmentConnector]] = ()) -> FeedbackResult:
    """Ask the department for every delivered, unfinished item; record what changed. Each chunk is polled
    outside any transaction and recorded in a short one of its own, with one evidence entry per page. Each of
    `lanes` (more connections to the same department) polls pages of its own at the same time
    (:mod:`lianban.pipeline.lanes`): one page is recorded while the next is asked. A department that stops
    answering stops every lane after the page it is on; the pages not asked are asked next run. A status row
    that cannot be read is set aside (``parked``; its idempotency key logged, one alert for the run) and the
    rest of its page and the pages after it are recorded; it is asked again next run. Rows whose status code
    the connector's table lacks are set aside the same way, and then the run ends in
    :class:`~lianban.wire.contract.UnknownStatusCode` naming the table, so that the task fails where operators
    look (an incident) until the table is fixed; everything else has been recorded by then."""
    department, sessions = peer.connector.department, session_factory(ledger_url)
    run = _Poll(department, sessions, EvidenceLog.load(keys_dir), load_ring(keys_dir, VAULT),
                _Pages(open_pages(sessions, department, batch)))
    result = in_lanes([peer, *lanes], run.drain, f"poll-{department}")
    if result.parked:
        alerts.error("告警 ALERT: %s 轮询应答中有 %d 条状态记录无法读取，已搁置，其余照常记录；幂等键与原因见日志，"
                     "请与部门联络员核对 (%d unreadable status rows set aside, the rest recorded; their idempotency "
                     "keys and reasons are in the log)", department, result.parked, result.parked)
    if run.unknown:
        raise UnknownStatusCode(f"{department}：{len(run.unknown)} 条状态记录的状态码不在映射表中，已搁置（其余已记录，"
                                f"补充映射后下轮自动补记）：{run.unknown[0]}")
    return result


def _readable(department: str, answer: Sequence[Polled], result: FeedbackResult,
              unknown: list[str]) -> list[StatusUpdate]:
    """The rows of `answer` that could be read; each that could not is logged by its idempotency key (a hash)
    and counted in ``result.parked``, its reason kept in `unknown` when its status code is unknown."""
    for row in answer:
        if isinstance(row, UnreadableStatus):
            result.parked += 1
            if row.unknown_code:
                unknown.append(row.reason)
            log.warning("%s 状态记录无法读取，已搁置 (status row set aside): idempotency_key=%s：%s",
                        department, row.idempotency_key or "-", row.reason)
    return [u for u in answer if isinstance(u, StatusUpdate)]


class _Pages:
    """The open pages, taken one at a time by whichever lane is free."""

    def __init__(self, pages: Iterator[dict[str, tuple[int, str]]]) -> None:
        self._pages, self._lock = pages, threading.Lock()

    def take(self) -> dict[str, tuple[int, str]] | None:
        with self._lock:
            return next(self._pages, None)


@dataclass
class _Poll:
    """One poll run, shared by its lanes."""

    department: str
    sessions: sessionmaker[Session]
    log: EvidenceLog
    vault: KeyRing
    pages: _Pages
    unknown: list[str] = field(default_factory=list)  # the reasons of rows set aside for an unknown status code

    def drain(self, peer: Peer[DepartmentConnector], stop: threading.Event | None) -> FeedbackResult:
        """Page after page over `peer`'s connection until none is left, the department stops answering, or
        `stop` is set (another lane stopped)."""
        result = FeedbackResult(self.department)
        while not (stop and stop.is_set()) and (page := self.pages.take()) is not None:
            if not self._page(peer, page, result):
                break
        return result

    def _page(self, peer: Peer[DepartmentConnector], open_items: dict[str, tuple[int, str]],
              result: FeedbackResult) -> bool:
        """One page asked and recorded; False when the department could not answer (``stopped_by`` says why)."""
        chunk = list(open_items)
        case_nos = [open_items[k][1] for k in chunk]
        with self.sessions.begin() as session:
            self.log.sent(session, self.department, "poll", case_nos, chunk)
        try:
            answer = peer.connector.poll(chunk)
        except RetriableError as exc:
            result.stopped_by = redact_text(str(exc))  # may quote the department's answer: masked for XCom
            return False
        updates = _readable(self.department, answer, result, self.unknown)
        with self.sessions() as session:
            sealed = _sealed(session, self.department, open_items, updates, self.vault)
        with self.sessions.begin() as session:  # judged first: the write lock is held only while writing
            book = _judged(session, self.department, open_items, updates, result, sealed)
            self.log.received(session, self.department, "status", case_nos, list(answer), peer.proofs.take())
            book.write()
        return True
