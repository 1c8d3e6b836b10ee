"""Report: every change reaches 皖事通办 once, in order, as a full 办件 record the platform accepts; one event it
refuses is parked with the platform's reason and alerted; the others flow."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest
import requests
from exchange_kit import RecordingPlatform, one_round, world
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.orm import selectinload

from connectors.hrss.frontend import FrontendDB
from connectors.wanshi_tong.connector import load_codes
from connectors.wanshi_tong.mapping import beijing_time, push_body
from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department, load_sink
from lianban.domain.status_machine import load_status_machine
from lianban.domain.statuses import Status
from lianban.errors import RejectedError
from lianban.ledger.db import session_factory, settled_id, upgrade
from lianban.ledger.models import Case, CaseItem, StatusEvent
from lianban.ledger.progress import progress
from lianban.ledger.store import record_status
from lianban.ledger.time_limits import item_deadline
from lianban.pipeline.deliver import deliver
from lianban.pipeline.report import report, requeue_parked
from lianban.pipeline.stage import stage
from lianban.pipeline.status_log import collect_hrss
from lianban.wire.contract import NoProofs, Peer, ProgressEvent, PushResult, StatusSink
from lianban.wire.gateway import sign_headers
from simulators.hrss_backoffice import HrssBackOffice
from simulators.people import generate
from simulators.wanshi_tong_interface import load_interface
from tests.conftest import own_postgres

PUSHED = ("medical", "health", "housing_fund")


@pytest.fixture
def departments(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Every department as a real local server, its status clock at 1.5 s a step (the shared ``simulation``
    fixture runs at 0.2 s). Why slower: the hub stamps a receipt's 受理 with its own clock once the batch is
    answered (lianban.pipeline.deliver); when a slow batch takes longer than a department's whole path, every
    later status the department reports is older than that stamp, is judged stale, and the item never
    finishes. Deliveries go in batches of 20 for the same reason."""
    from lianban.app.demo import connections
    from simulators.runner import start

    sim = start(paths.home, paths.keys_dir, None, step_seconds=1.5)
    for name, value in connections(sim.urls, paths.home).items():
        monkeypatch.setenv(name, value)
    yield sim
    sim.stop()


def _events(paths: Paths, seeded: Any) -> list[int]:
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    HrssBackOffice(db, step_seconds=0).tick()
    collect_hrss(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        return list(s.scalars(select(StatusEvent.id).order_by(StatusEvent.id)))


def _poison(paths: Paths, *event_ids: int) -> None:
    with session_factory(paths.ledger_url).begin() as s:  # longer than the platform's 500-character reason
        s.execute(update(StatusEvent).where(StatusEvent.id.in_(event_ids)).values(reason="原因" * 300))


def test_one_refused_event_is_parked_and_the_others_are_reported(seeded: Any, paths: Paths, simulation: Any,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    events = _events(paths, seeded)
    poisoned = events[len(events) // 2]
    _poison(paths, poisoned)
    result = report(load_sink(department_settings("wanshi_tong"), paths.keys_dir), paths.ledger_url, paths.keys_dir)
    assert (result.parked, result.changed, result.stopped_by) == (1, len(events) - 1, None)
    state = progress(paths.ledger_url)
    assert (state.parked_events, state.unreported_events, state.reported_events) == (1, 0, len(events) - 1)
    with session_factory(paths.ledger_url)() as s:
        parked = s.get(StatusEvent, poisoned)
    assert parked is not None and parked.reported_at is None and "请求体不符合接口规范" in (parked.parked_reason or "")
    assert any("告警" in r.getMessage() and str(poisoned) in r.getMessage() for r in caplog.records)


def test_when_every_event_is_refused_nothing_is_parked_and_the_run_stops(seeded: Any, paths: Paths,
                                                                        simulation: Any) -> None:
    events = _events(paths, seeded)[:6]
    _poison(paths, *events)
    result = report(load_sink(department_settings("wanshi_tong"), paths.keys_dir), paths.ledger_url, paths.keys_dir,
                    batch=6)
    assert result.parked == 0 and result.changed == 0 and "系统性" in (result.stopped_by or "")
    assert progress(paths.ledger_url).parked_events == 0


def _run_until_done(paths: Paths, seeded: Any, simulation: Any) -> None:
    """stage → deliver → (HRSS works, collect, poll, report) until every item is final and reported."""
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    keys = paths.keys_dir
    for name in PUSHED:
        deliver(load_department(name, department_settings(name), keys), paths.ledger_url, 20, keys)
    w, deadline = world(db, simulation), time.monotonic() + 90
    while not progress(paths.ledger_url).done and time.monotonic() < deadline:
        pushed = one_round(w, paths.ledger_url, keys, batch=20)
        assert (pushed.parked, pushed.stopped_by) == (0, None)
        time.sleep(0.2)
    with session_factory(paths.ledger_url)() as s:
        still_open = s.execute(select(CaseItem.department, CaseItem.status, CaseItem.status_at)
                               .where(CaseItem.final.is_(False))).all()
    assert progress(paths.ledger_url).done, (progress(paths.ledger_url), still_open)


def _view(url: str, case_no: str) -> dict[str, Any]:
    settings, path = department_settings("wanshi_tong"), f"/api/v1/banjian/{case_no}"
    headers = sign_headers(settings.login or "", settings.password or "", "GET", path, b"")
    view: dict[str, Any] = requests.get(url + path, headers=headers, timeout=5).json()
    return view


def _ledger_cases(paths: Paths) -> list[Case]:
    with session_factory(paths.ledger_url)() as s:
        query = select(Case).options(selectinload(Case.items).selectinload(CaseItem.delivery))
        cases = list(s.scalars(query))
        for case in cases:  # loaded while the session is open
            _ = [(item.case, item.delivery) for item in case.items]
        return cases


def test_every_change_reaches_the_platform_once_in_order_as_a_full_banjian_record(
        seeded: Any, paths: Paths, departments: Any) -> None:
    _run_until_done(paths, seeded, departments)
    url, codes = departments.urls["wanshi_tong"], load_codes()
    stats = requests.get(f"{url}/_sim/stats", timeout=5).json()
    with session_factory(paths.ledger_url)() as s:
        changes = Counter(s.execute(select(Case.case_no).join(CaseItem).join(StatusEvent)).scalars())
    assert (stats["refused"], stats["duplicates"], stats["out_of_order"]) == (0, 0, 0)
    assert stats["events"] == sum(changes.values()) and stats["cases_done"] == stats["case_records"] == len(changes)
    with sqlite3.connect(paths.home / "simulators" / "wanshi_tong.db") as platform:
        arrived = platform.execute("SELECT projid, dataver FROM events ORDER BY received_at, event_id").fetchall()
    versions: dict[str, list[int]] = {}
    for projid, dataver in arrived:
        versions.setdefault(projid, []).append(dataver)
    assert versions == {case: list(range(1, n + 1)) for case, n in changes.items()}  # once each, in order
    for case in _ledger_cases(paths):
        view = _view(url, case.case_no)
        final = {codes.items[i.item_code]: i.status for i in case.items}
        assert {i["SERVICECODE"]: i["STATUS_NAME"] for i in view["ITEMS"]} == final
        due = {codes.items[i.item_code]: item_deadline(i) for i in case.items}
        assert all(i["PROMISE_DATE"] == (d.due.isoformat() if (d := due[i["SERVICECODE"]]) else None)
                   for i in view["ITEMS"])
        status = load_status_machine().case_status(Status(i.status or "") for i in case.items)
        record = view["CASE"]
        assert (record["DATAVER"], record["STATUS_NAME"], record["DONERESULT"]) == (
            changes[case.case_no], status.value, codes.done_results[status].code)
        assert record["TRANSACT_TIME"] == max(beijing_time(i.status_at or "") for i in case.items)


def test_re_sending_every_change_carries_the_same_versions_and_changes_nothing(
        seeded: Any, paths: Paths, departments: Any) -> None:
    _run_until_done(paths, seeded, departments)
    url = departments.urls["wanshi_tong"]
    cases = [c.case_no for c in _ledger_cases(paths)]
    before = [_view(url, c) for c in cases]
    with session_factory(paths.ledger_url).begin() as s:
        total = s.execute(select(func.count()).select_from(StatusEvent)).scalar_one()
        s.execute(update(StatusEvent).values(reported_at=None))
    again = report(load_sink(department_settings("wanshi_tong"), paths.keys_dir), paths.ledger_url, paths.keys_dir)
    assert again.changed == total
    stats = requests.get(f"{url}/_sim/stats", timeout=5).json()
    assert (stats["duplicates"], stats["out_of_order"], stats["events"]) == (total, 0, total)
    assert [_view(url, c) for c in cases] == before


def _settled(paths: Paths) -> int:
    """The event id a report run begun now reads up to."""
    return settled_id(session_factory(paths.ledger_url), cast(Table, StatusEvent.__table__))


@pytest.mark.postgres
def test_an_event_committing_after_a_later_one_is_neither_passed_over_nor_given_its_version(paths: Paths) -> None:
    """On PostgreSQL an event's id is drawn before it commits: a slow writer's event can commit after a later one
    of the same case. A run begun meanwhile waits for the writer, so each of the case's events goes out with its
    own DATAVER, in id order; without the wait the later event took version 1, and the slow one then came with
    version 1 too, which the platform (keeping the newest DATAVER) throws away."""
    url = own_postgres()
    upgrade(url)
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(list(generate(8, seed=5)))
    stage(db, url, paths.keys_dir)
    sessions = session_factory(url)
    with sessions() as s:
        case = next(c for c in s.scalars(select(Case)) if len(c.items) >= 2)
        first, second = sorted(i.id for i in case.items)[:2]
    slow = sessions()
    slow.begin()
    item = slow.get(CaseItem, first)
    assert item is not None and record_status(slow, item, Status.ACCEPTED, item.department, code=None,
                                              reason=None, changed_at="2026-03-02T09:00:00+08:00")
    slow.flush()  # its id drawn, not committed
    with sessions.begin() as s:
        later = s.get(CaseItem, second)
        assert later is not None and record_status(s, later, Status.ACCEPTED, later.department, code=None,
                                                   reason=None, changed_at="2026-03-02T09:01:00+08:00")
    sink = RecordingPlatform()
    run = threading.Thread(target=report, args=(Peer(cast(StatusSink, sink), NoProofs()), url, paths.keys_dir))
    run.start()
    waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'status_events'::regclass")
    with sessions() as s:  # the run waits for the slow writer (or, without the wait, is already done)
        _wait_until(lambda: not run.is_alive() or bool(s.scalar(waiting)))
    slow.commit()
    slow.close()
    run.join(30)
    mine = [(e.event_id, e.dataver) for e in sink.pushed if e.case_no == case.case_no]
    assert len(mine) == 2 and [v for _, v in sorted(mine)] == [1, 2]


def _wait_until(condition: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the reader process did not come up"
        time.sleep(0.05)


def test_a_backlog_is_read_in_a_process_of_its_own_as_the_thread_would_read_it(seeded: Any, paths: Paths) -> None:
    """Reading is half a report's CPU: behind a full batch, the next batches are read in another process, with
    the same events, versions and case records, in the same order, and each batch's request bodies and evidence
    digest built there as the pusher would build them."""
    import requests

    from connectors.wanshi_tong.connector import WanshiTongConnector
    from lianban.crypto.hashing import sm3_hex
    from lianban.ledger.evidence import body_of
    from lianban.pipeline.report import _Reader, read_batch

    _events(paths, seeded)
    every = read_batch(paths.ledger_url, str(paths.keys_dir), 100_000, "whole", _settled(paths), 0)
    assert len(every) > 12
    encoder = WanshiTongConnector("http://127.0.0.1:9", requests.Session()).encoder()
    with _Reader(paths.ledger_url, paths.keys_dir, 3, _settled(paths), encoder) as reader:
        got = [reader.result(reader.submit(0))]
        assert not reader.in_process  # one batch: no process
        ahead = reader.submit(got[-1].events[-1].event_id, backlog=True)  # in the thread while the process starts
        _wait_until(lambda: reader.in_process)
        got.append(reader.result(ahead))
        while (prepared := reader.result(reader.submit(got[-1].events[-1].event_id, backlog=True))).events:
            got.append(prepared)
    assert [e for p in got for e in p.events] == every
    assert all(p.bodies == encoder(p.events) and p.digest == sm3_hex(body_of(p.events)) for p in got)


def test_when_the_reader_process_is_lost_its_batch_is_read_again_here(seeded: Any, paths: Paths,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    import os
    import signal

    from test_offload import offload_children

    from lianban.pipeline.report import _Reader, read_batch

    _events(paths, seeded)
    every = read_batch(paths.ledger_url, str(paths.keys_dir), 100_000, "whole", _settled(paths), 0)
    with _Reader(paths.ledger_url, paths.keys_dir, 3, _settled(paths)) as reader:
        got = reader.result(reader.submit(0, backlog=True)).events
        _wait_until(lambda: reader.in_process)
        readers = offload_children()
        assert readers
        for pid in readers:
            os.kill(pid, signal.SIGKILL)
        while events := reader.result(reader.submit(got[-1].event_id, backlog=True)).events:
            got += events
        assert not reader.in_process
    assert got == every
    assert any("读取进程意外退出" in r.getMessage() for r in caplog.records)


def test_when_the_reader_process_cannot_start_every_batch_is_read_here(seeded: Any, paths: Paths,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    from lianban.pipeline import report
    from lianban.pipeline.report import _Reader, read_batch

    starts: list[int] = []

    def cannot_start() -> None:
        starts.append(1)
        raise OSError(12, "Cannot allocate memory")  # ENOMEM

    monkeypatch.setattr(report, "Offload", cannot_start)
    _events(paths, seeded)
    every = read_batch(paths.ledger_url, str(paths.keys_dir), 100_000, "whole", _settled(paths), 0)
    with _Reader(paths.ledger_url, paths.keys_dir, 3, _settled(paths)) as reader:
        got = reader.result(reader.submit(0, backlog=True)).events
        while events := reader.result(reader.submit(got[-1].event_id, backlog=True)).events:
            got += events
    assert got == every and starts == [1]  # tried once, not for each batch
    assert [r.getMessage() for r in caplog.records if "无法启动" in r.getMessage()] == [
        "报送读取进程无法启动，改在本进程内读取 (the report's reader process could not start: OSError)"]


def test_a_batch_from_the_reader_process_unpacks_its_events_only_when_they_are_wanted(seeded: Any,
                                                                                       paths: Paths) -> None:
    """The pusher needs a batch's event ids and case numbers; its events only if the batch is split."""
    from lianban.pipeline.report import Prepared, read_batch

    _events(paths, seeded)
    every = read_batch(paths.ledger_url, str(paths.keys_dir), 100_000, "whole", _settled(paths), 0)
    sent = Prepared.of(every, None)
    got = Prepared.unpacked(sent.packed())
    assert (got.ids, got.case_nos) == ([e.event_id for e in every], [e.case_no for e in every])
    assert (got.digest, got.bodies, len(got)) == (sent.digest, None, len(every))
    assert "events" not in vars(got)  # not unpacked yet
    assert got[:2] == every[:2] and got[-1] == every[-1] and got.events == every


class _RefusingOne(RecordingPlatform):
    """皖事通办 refusing one event, its reason quoting the applicant's ID and mobile numbers."""

    def __init__(self, refused: int, tail: str = "") -> None:
        super().__init__()
        self.refused, self.tail = refused, tail

    def push(self, events: Sequence[ProgressEvent]) -> PushResult:
        if any(e.event_id == self.refused for e in events):
            reason = "NODEREASON 含申请人身份证号 341602195501010012 与手机号 13812345678，不予接收" + self.tail
            raise RejectedError(f"dept_wanshi_tong 拒收：{reason}", "SCHEMA", reason)
        return super().push(events)


def test_a_refusal_quoting_the_applicant_is_parked_and_alerted_masked(seeded: Any, paths: Paths,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """The platform's words may quote what it was sent: the refusal is kept and alerted with ID- and
    mobile-number-shaped runs masked, as a department's refusal of a delivery is."""
    events = _events(paths, seeded)
    refused = events[len(events) // 2]
    result = report(Peer(cast(StatusSink, _RefusingOne(refused)), NoProofs()), paths.ledger_url, paths.keys_dir)
    assert result.parked == 1
    with session_factory(paths.ledger_url)() as s:
        parked = s.get(StatusEvent, refused)
    assert parked is not None and "不予接收" in (parked.parked_reason or "")
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"皖事通办拒收状态事件 {refused}，已搁置" in logged and "341602********0012" in logged  # alerted, masked
    for leaked in ("341602195501010012", "13812345678"):
        assert leaked not in (parked.parked_reason or "") and leaked not in logged


def test_a_huge_refusal_is_parked_bounded_and_masked_and_the_others_are_reported(seeded: Any, paths: Paths,
                                                                                 caplog: pytest.LogCaptureFixture
                                                                                 ) -> None:
    """The platform's reason was kept whole in parked_reason and alerted whole: 100 KB of it in the row and
    the alert line."""
    events = _events(paths, seeded)
    refused = events[len(events) // 2]
    sink = _RefusingOne(refused, "。" * 100_000)
    result = report(Peer(cast(StatusSink, sink), NoProofs()), paths.ledger_url, paths.keys_dir)
    assert (result.parked, result.changed, result.stopped_by) == (1, len(events) - 1, None)
    with session_factory(paths.ledger_url)() as s:
        parked = s.get(StatusEvent, refused)
    kept = parked.parked_reason if parked else None
    assert kept and kept.startswith("NODEREASON 含申请人身份证号 341602********0012 与手机号 138****5678，不予接收")
    assert len(kept) <= 500 and kept.endswith("…（已截断）")
    assert max(len(r.getMessage()) for r in caplog.records) < 1000


def test_a_departments_reason_longer_than_the_platform_takes_still_reaches_it(seeded: Any, paths: Paths) -> None:
    """The departments' contract bounds no reason, 皖事通办's takes 500 characters: a department's long 审核不通过
    reason is kept to 500, so its event goes out in a body the platform accepts instead of being parked, the
    item (and the case) never shown final there."""
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        item = s.scalars(select(CaseItem).where(CaseItem.department == "health")).first()
        assert item is not None
        for n, status in enumerate((Status.ACCEPTED, Status.UNDER_REVIEW, Status.REJECTED)):
            assert record_status(s, item, status, "health", code=None, reason="不符合条件" * 120 if n == 2 else None,
                                 changed_at=f"2026-12-01T10:0{n}:00+08:00")
    sink = RecordingPlatform()
    report(Peer(cast(StatusSink, sink), NoProofs()), paths.ledger_url, paths.keys_dir)
    rejected = [e for e in sink.pushed if e.status is Status.REJECTED]
    assert len(rejected) == 1 and (rejected[0].reason or "").startswith("不符合条件")
    assert load_interface().problems(push_body(rejected, load_codes())) == []


def test_an_event_the_platform_refused_goes_out_again_once_an_operator_retries_it(seeded: Any, paths: Paths) -> None:
    """A refused event was parked for good: nothing put it back once its cause was fixed, and the item's change
    never reached the platform. Retried, it goes out with the version it had; the others are not sent again."""
    events = _events(paths, seeded)
    refused = events[len(events) // 2]
    assert report(Peer(cast(StatusSink, _RefusingOne(refused)), NoProofs()), paths.ledger_url,
                  paths.keys_dir).parked == 1
    sink = RecordingPlatform()
    assert report(Peer(cast(StatusSink, sink), NoProofs()), paths.ledger_url, paths.keys_dir).changed == 0
    assert requeue_parked(paths.ledger_url) == 1
    assert report(Peer(cast(StatusSink, sink), NoProofs()), paths.ledger_url, paths.keys_dir).changed == 1
    assert [e.event_id for e in sink.pushed] == [refused]
    state = progress(paths.ledger_url)
    assert (state.parked_events, state.unreported_events, state.reported_events) == (0, 0, len(events))


def test_an_event_parked_for_a_reason_too_long_goes_out_when_retried(seeded: Any, paths: Paths) -> None:
    """An event parked for its reason over the platform's 500 characters (recorded before reasons were kept to
    500) is put back with its reason so kept: sent again as it was, the platform refused it again, and
    ``--retry-parked`` could never bring it there."""
    events = _events(paths, seeded)
    refused = events[len(events) // 2]
    _poison(paths, refused)
    assert report(Peer(cast(StatusSink, _RefusingOne(refused)), NoProofs()), paths.ledger_url,
                  paths.keys_dir).parked == 1
    assert requeue_parked(paths.ledger_url) == 1
    sink = RecordingPlatform()
    assert report(Peer(cast(StatusSink, sink), NoProofs()), paths.ledger_url, paths.keys_dir).changed == 1
    assert [e.event_id for e in sink.pushed] == [refused] and (sink.pushed[0].reason or "").startswith("原因")
    assert load_interface().problems(push_body(sink.pushed, load_codes())) == []
