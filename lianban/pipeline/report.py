"""Report every status event to 皖事通办, in id order: the outbox of 一体反馈.

Each event goes out as the full 办件 record: its own change (status, time, reason, materials, result), its
version DATAVER, the item's due date and the case record as it stood right after it
(:mod:`lianban.pipeline.banjian`); the connector sends each push with the records of the cases it changes.

Events are pushed in batches outside any transaction and marked reported only when the platform
acknowledges the whole batch (new or already seen). What a push can come back with::

    acknowledged in full     the events are marked reported; the next batch follows
    a short count            nothing marked; pushed again next run (the platform dedupes by event id)
    RetriableError           the run stops; everything is pushed again next run
    RejectedError            the platform refused something in the batch: split in two and each half pushed
                             again, down to single events; a single refused event is parked with the
                             platform's reason and alerted, and the events behind it flow on. If every
                             event of a split batch is refused, the fault is not in them: nothing is
                             parked, the run stops and an alert is raised.

A parked event keeps its place in the ledger (``parked_reason``); the platform shows the newest status it
has for each item anyway, so one refused event never holds back the others. Once the cause is fixed (a code in
``codes.yaml``, the platform's document), :func:`requeue_parked` (``lianban run report --retry-parked``) puts the
parked events back in the outbox: they go out again with the versions they had, which the platform never lets
overwrite a newer one.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import cast, overload

import msgspec
from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lianban.crypto.hashing import sm3_hex
from lianban.domain.identity import redact_text, said
from lianban.domain.intake import REASON_MAX
from lianban.domain.supplements import material_names
from lianban.errors import RejectedError, RetriableError
from lianban.keys.names import VAULT
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.db import plain_rows, session_factory, settled_id
from lianban.ledger.evidence import EvidenceLog, body_of
from lianban.ledger.models import Case, CaseItem, StatusEvent
from lianban.ledger.results import result_summary
from lianban.ledger.store import utcnow
from lianban.pipeline.banjian import STATUSES, Cases, versions
from lianban.pipeline.bisect import Refusal, isolate, systemic
from lianban.pipeline.feedback import FeedbackResult
from lianban.pipeline.offload import Offload, ProcessLost, after_reply
from lianban.wire.contract import EncodingSink, Peer, ProgressEvent, PushResult, StatusSink

SINK = "wanshi_tong"
REPORT_BATCH = 2500  # events read and pushed at a time (皖事通办's connection: batch_size 2,500 by default)
alerts = logging.getLogger("lianban.alerts")
log = logging.getLogger(__name__)
_EVENTS, _ITEMS, _CASES = (cast(Table, model.__table__) for model in (StatusEvent, CaseItem, Case))
Encoder = Callable[[Sequence[ProgressEvent]], list[bytes]]  # events → request bodies (EncodingSink.encoder)


class Prepared(Sequence[ProgressEvent]):
    """A batch as the reader hands it over: its events, the SM3 of their evidence body and, for an
    :class:`~lianban.wire.contract.EncodingSink`, the request bodies pushing them, all built off the pusher's
    critical path (in the reader process once there is one). Its event ids and case numbers travel apart from
    the events: the pusher needs only those, unless the platform refuses something and the batch is split
    (then the events are unpacked: a sixteenth of a second a batch of 2,500 saved otherwise)."""

    def __init__(self, ids: list[int], case_nos: list[str], digest: str, bodies: list[bytes] | None,
                 events: list[ProgressEvent] | None = None, packed_events: bytes | msgspec.Raw = b"") -> None:
        self.ids, self.case_nos, self.digest, self.bodies = ids, case_nos, digest, bodies
        self._events, self._packed_events = events, packed_events

    @classmethod
    def of(cls, events: list[ProgressEvent], encoder: Encoder | None) -> Prepared:
        """`events` prepared: digested, and encoded with `encoder` when there is one."""
        bodies = encoder(events) if encoder and events else None
        return cls([e.event_id for e in events], [e.case_no for e in events], sm3_hex(body_of(events)), bodies,
                   events)

    @cached_property
    def events(self) -> list[ProgressEvent]:
        return self._events if self._events is not None else _UNPACK_EVENTS.decode(self._packed_events)

    def packed(self) -> bytes:
        """For the trip from the reader process (msgpack, typed: unpacked in under half the time unpickling
        takes)."""
        events = msgspec.Raw(_PACK.encode(self.events))
        return _PACK.encode(_Packed(self.ids, self.case_nos, self.digest, self.bodies, events))

    @classmethod
    def unpacked(cls, data: bytes) -> Prepared:
        p = _UNPACK.decode(data)
        return cls(p.ids, p.case_nos, p.digest, p.bodies, packed_events=p.events)  # decoded from where it lies

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> ProgressEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[ProgressEvent]: ...

    def __getitem__(self, index: int | slice) -> ProgressEvent | list[ProgressEvent]:
        return self.events[index]


class _Packed(msgspec.Struct, frozen=True):
    ids: list[int]
    case_nos: list[str]
    digest: str
    bodies: list[bytes] | None
    events: msgspec.Raw  # unpacked only when wanted


def _ids(events: Sequence[ProgressEvent]) -> list[int]:
    return events.ids if isinstance(events, Prepared) else [e.event_id for e in events]


def _case_nos(events: Sequence[ProgressEvent]) -> list[str]:
    return events.case_nos if isinstance(events, Prepared) else [e.case_no for e in events]


def _materials(listed: str | None) -> tuple[str, ...]:
    """The names of the materials to supplement (补正材料) an event reports, in the catalog's words (BZCLQD)."""
    return material_names(json.loads(listed)) if listed else ()


def _result(event_id: int, case_no: str, item_code: str, sealed: str | None, vault: KeyRing) -> str | None:
    """The outcome summary an event reports (e.g. "住房公积金提取12345.67元已于2026-12-01转账"), opened from
    its sealed result (:mod:`lianban.ledger.results`); one that cannot be opened is left out and alerted."""
    if sealed is None:
        return None
    try:
        return result_summary(vault, case_no, item_code, sealed)
    except (RejectedError, ValueError, KeyError):
        alerts.error("告警 ALERT: 状态事件 %s 的办理结果无法解密，推送时不含结果；请核对金库密钥", event_id)
        return None


def _unreported(session: Session, limit: int, vault: KeyRing, after: int = 0,
                kept: Cases | None = None, upto: int | None = None) -> list[ProgressEvent]:
    """The next unreported, unparked events past id `after` (and up to `upto`, the run's
    :func:`~lianban.ledger.db.settled_id`), in id order, each with its version and case record
    (:mod:`lianban.pipeline.banjian`; `kept`: the cases the run has read already)."""
    e, i, c = _EVENTS.c, _ITEMS.c, _CASES.c  # Core columns, not ORM objects: a quarter of a run's reading
    query = (select(e.id, e.case_item_id, e.source, e.status, e.changed_at, e.reason, e.materials, e.result,
                    i.item_code, c.case_no)
             .select_from(_EVENTS.join(_ITEMS, e.case_item_id == i.id).join(_CASES, i.case_id == c.id))
             .where(e.id > after, e.reported_at.is_(None), e.parked_at.is_(None))
             .order_by(e.id).limit(limit))
    if upto is not None:
        query = query.where(e.id <= upto)
    rows = plain_rows(session, query)  # tuples: row objects and reading them by name were a tenth of the time
    known = versions(session, [(row[0], row[1]) for row in rows], kept, after)
    return [ProgressEvent(event_id, case_no, item_code, source, STATUSES[status], changed_at, reason,
                          dataver=v.dataver, due_date=v.due_date, materials=_materials(materials) if materials else (),
                          result=_result(event_id, case_no, item_code, result, vault), case=v.case)
            for (event_id, _, source, status, changed_at, reason, materials, result, item_code, case_no), v
            in zip(rows, [known[row[0]] for row in rows], strict=True)]


@dataclass
class _Push:
    """One report run: the sink, the evidence log and the counts."""

    peer: Peer[StatusSink]
    sessions: sessionmaker[Session]
    log: EvidenceLog
    result: FeedbackResult

    prepared: Prepared | None = None  # the batch being reported, as read (its halves, if split, are not)

    def attempt(self, events: Sequence[ProgressEvent]) -> bool | Refusal[ProgressEvent]:
        """Push `events`: acknowledged (True), stop the run (False), or refused for something in them."""
        ready = self.prepared if events is self.prepared else None
        with self.sessions.begin() as session:
            self.log.sent(session, SINK, "push", _case_nos(events), events, digest=ready.digest if ready else None)
        try:
            ack = self._push(events, ready)
        except RetriableError as exc:
            self.result.stopped_by = redact_text(str(exc))  # may quote 皖事通办's answer: masked for XCom
            return False
        except RejectedError as exc:
            with self.sessions.begin() as session:
                self.log.received(session, SINK, "ack", _case_nos(events), None, self.peer.proofs.take())
            return Refusal(events, exc.code, exc.reason or str(exc))
        return self._acknowledge(events, ack)

    def _push(self, events: Sequence[ProgressEvent], ready: Prepared | None) -> PushResult:
        sink = self.peer.connector
        if ready is not None and ready.bodies is not None and isinstance(sink, EncodingSink):
            return sink.push_encoded(ready.bodies)
        return sink.push(events.events if isinstance(events, Prepared) else events)

    def _acknowledge(self, events: Sequence[ProgressEvent], ack: PushResult) -> bool:
        """Mark acknowledged events reported; False (nothing marked, pushed again next run) on a short count."""
        with self.sessions.begin() as session:
            self.log.received(session, SINK, "ack", _case_nos(events), ack, self.peer.proofs.take())
            acknowledged = ack.accepted + ack.duplicates
            if acknowledged != len(events):  # not marked: pushed again next run, deduped by event id
                self.result.stopped_by = f"皖事通办确认 {acknowledged} 条，推送 {len(events)} 条，不符，稍后重推"
                return False
            session.execute(update(_EVENTS).where(_EVENTS.c.id.in_(_ids(events)))
                            .values(reported_at=utcnow()))  # Core: no ORM bulk-update bookkeeping per id
        self.result.read += len(events)
        self.result.changed += len(events)
        return True

    def report_batch(self, prepared: Prepared) -> bool:
        """Push one batch (:mod:`lianban.pipeline.bisect`); then park its refused single events, unless every
        one was refused."""
        self.prepared = prepared
        isolated = isolate(prepared, self.attempt)
        if systemic(prepared, isolated):
            alerts.error("告警 ALERT: 皖事通办逐条拒收一批 %d 条事件，疑似系统性问题（编码表或接口变更），稍后重推",
                         len(prepared))
            self.result.stopped_by = "皖事通办逐条拒收整批事件，疑似系统性问题 (every event refused)"
            return False
        with self.sessions.begin() as session:
            for event, _code, words in isolated.refused:
                reason = said(words)  # the platform's words may quote what it was sent, and be of any length
                session.execute(update(StatusEvent).where(StatusEvent.id == event.event_id)
                                .values(parked_reason=reason, parked_at=utcnow()))
                alerts.error("告警 ALERT: 皖事通办拒收状态事件 %s，已搁置：%s；原因排除后运行 "
                             "lianban run report --retry-parked 重新推送", event.event_id, reason)
        self.result.parked += len(isolated.refused)
        return isolated.going


def requeue_parked(ledger_url: str) -> int:
    """Put every event 皖事通办 refused back in the outbox (module docstring); how many. Its reason is kept to the
    500 characters the platform takes, as a reason is recorded now (lianban.ledger.store.move_status): one
    recorded longer before was the refusal's cause, and sent again as it was it would be refused again."""
    with session_factory(ledger_url).begin() as session:  # one statement, however many (no id list to bind)
        done = session.execute(update(_EVENTS).where(_EVENTS.c.parked_at.is_not(None)).values(
            parked_at=None, parked_reason=None, reason=func.substr(_EVENTS.c.reason, 1, REASON_MAX)))
        return int(getattr(done, "rowcount", 0))


@lru_cache(maxsize=1)
def _kept(run: str) -> Cases:
    """The cases report run `run` has read (:class:`~lianban.pipeline.banjian.Cases`), wherever its batches are
    read (the reader thread, then the reader process); a new run starts afresh."""
    return Cases()


def read_batch(ledger_url: str, keys_dir: str, batch: int, run: str, upto: int, after: int) -> list[ProgressEvent]:
    """The next `batch` unreported events past id `after`, up to `upto` (:func:`_unreported`) for report run
    `run`: what the
    report's reader runs, in a thread or in a process of its own. The vault ring is read for each batch (a key
    rotated meanwhile is seen; a small file read, against a batch's reading of thousands of rows)."""
    with session_factory(ledger_url)() as session:
        return _unreported(session, batch, load_ring(Path(keys_dir), VAULT), after, _kept(run), upto)


def read_prepared(ledger_url: str, keys_dir: str, batch: int, run: str, upto: int, after: int,
                  encoder: Encoder | None) -> Prepared:
    """:func:`read_batch`, its evidence digest and (with an `encoder`) its request bodies."""
    return Prepared.of(read_batch(ledger_url, keys_dir, batch, run, upto, after), encoder)


def read_packed(ledger_url: str, keys_dir: str, batch: int, run: str, upto: int, after: int,
                encoder: Encoder | None) -> bytes:
    """:func:`read_prepared` packed for the trip from the reader process (msgpack, typed: unpacked in under half
    the time unpickling takes). Behind a full batch, the reader process goes on to read the batch after it as
    soon as this one is sent (:func:`~lianban.pipeline.offload.after_reply`), so that it is ready when asked
    for: the reader never waits for a push to be answered. Only the batch asked for next is kept; the events
    past this batch's are not touched by what its push and the one before it mark or park."""
    args = (ledger_url, keys_dir, batch, run, upto)
    ahead = _AHEAD.pop((*args, after), None)
    _AHEAD.clear()
    packed, last, full = ahead or _read_packed(*args, after, encoder)
    if full:
        after_reply(partial(_read_ahead, *args, last, encoder))
    return packed


_AHEAD: dict[tuple[str, str, int, str, int, int], tuple[bytes, int, bool]] = {}  # the batch read ahead, by its call


def _read_packed(ledger_url: str, keys_dir: str, batch: int, run: str, upto: int, after: int,
                 encoder: Encoder | None) -> tuple[bytes, int, bool]:
    """The batch packed, its last event id and whether it is full."""
    prepared = read_prepared(ledger_url, keys_dir, batch, run, upto, after, encoder)
    return prepared.packed(), prepared.ids[-1] if prepared.ids else after, len(prepared) == batch


def _read_ahead(ledger_url: str, keys_dir: str, batch: int, run: str, upto: int, after: int,
                encoder: Encoder | None) -> None:
    _AHEAD[(ledger_url, keys_dir, batch, run, upto, after)] = _read_packed(ledger_url, keys_dir, batch, run, upto,
                                                                           after, encoder)


_PACK, _UNPACK = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(_Packed)
_UNPACK_EVENTS = msgspec.msgpack.Decoder(list[ProgressEvent])


def _unpacked(packed: Future[bytes]) -> Prepared:
    return Prepared.unpacked(packed.result())


def _warm(ledger_url: str) -> None:
    """Import and connect in the reader process before its first batch is wanted."""
    session_factory(ledger_url)


class _Reader:
    """Reads the next batch while one is on the wire (it goes out only once the one before is acknowledged).

    In a thread at first. Once a full batch says there is a backlog, a process of its own is started and takes
    over as soon as it is up (about a second): reading is half a report's CPU, and a thread shares one
    interpreter lock with the pushing, so with a process each has a core. A small run never pays for the
    process. If that process is lost, the batch it was reading is read again in the thread."""

    def __init__(self, ledger_url: str, keys_dir: Path, batch: int, upto: int,
                 encoder: Encoder | None = None) -> None:
        self._args = (ledger_url, str(keys_dir), batch, uuid.uuid4().hex, upto)  # this run's cases kept, its end
        self._encoder = encoder
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="report-read")
        self._process: Offload | None = None
        self._ready: Future[None] | None = None
        self._unstartable = False  # the process could not be started: the run reads in its thread

    def _start(self) -> None:
        try:
            self._process = Offload()
        except OSError as exc:  # no memory, too many processes: not tried again for each batch
            log.warning("报送读取进程无法启动，改在本进程内读取 (the report's reader process could not start: %s)",
                        type(exc).__name__)
            self._unstartable = True
            return
        self._ready = self._process.submit(_warm, self._args[0])

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.shutdown(cancel_futures=True)
        _kept.cache_clear()  # the cases this run read in its thread are let go with it (the process ends)
        if self._process is not None:  # not waited for: a process still starting ends on its own
            self._process.shutdown(wait=False, cancel_futures=True)

    @property
    def in_process(self) -> bool:
        """Whether batches are now read in the reader process: it is up (warmed), and not lost since."""
        if self._ready is None or not self._ready.done():
            return False
        if self._ready.exception() is not None:
            log.warning("报送读取进程未能启动，改在本进程内读取 (the report's reader process did not start: %s)",
                        type(self._ready.exception()).__name__)
            self._ready = None
            return False
        return True

    def submit(self, after: int, backlog: bool = False) -> tuple[int, Future[Prepared]]:
        """Start reading the batch after event id `after`; `backlog`: the last batch was full."""
        if backlog and self._process is None and not self._unstartable:
            self._start()
        process = self._process if self.in_process else None
        if process is not None:  # unpacked in the thread, while a push is answered
            packed = process.submit(read_packed, *self._args, after, self._encoder)
            return after, self._thread.submit(_unpacked, packed)
        return after, self._thread.submit(read_prepared, *self._args, after, self._encoder)

    def result(self, ahead: tuple[int, Future[Prepared]]) -> Prepared:
        after, future = ahead
        try:
            return future.result()
        except ProcessLost:
            log.warning("报送读取进程意外退出，改在本进程内读取 (the report's reader process was lost; reading here)")
            self._ready = None
            return self._thread.submit(read_prepared, *self._args, after, self._encoder).result()


def report(peer: Peer[StatusSink], ledger_url: str, keys_dir: Path, batch: int = REPORT_BATCH) -> FeedbackResult:
    """Push unreported status events to 皖事通办 in id order (module docstring); each acknowledgement,
    chunk by chunk, is its own evidence entry. The next batch (the events after this one's) is read from the
    ledger while this one is on the wire (:class:`_Reader`); it goes out only once this one is acknowledged.
    A run reports the events that stood when it began (:func:`~lianban.ledger.db.settled_id`): an event that
    commits later with a lower id (PostgreSQL) waits for the next run, never passed over and never given a
    DATAVER another event of its case was reported with."""
    run = _Push(peer, session_factory(ledger_url), EvidenceLog.load(keys_dir), FeedbackResult(SINK))
    sink, upto = peer.connector, settled_id(run.sessions, _EVENTS)
    encoder = sink.encoder() if isinstance(sink, EncodingSink) else None
    with _Reader(ledger_url, keys_dir, batch, upto, encoder) as reader:
        ahead = reader.submit(0)
        while prepared := reader.result(ahead):
            ahead = reader.submit(prepared.ids[-1], backlog=len(prepared) == batch)
            if not run.report_batch(prepared):
                break
    return run.result
