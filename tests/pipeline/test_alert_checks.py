"""Alert checks (lianban.pipeline.alerts) as the schedule and an operator run them: one incident per kind of
trouble at a party, however many checks run at once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from lianban.app.config import Paths
from lianban.domain.liaisons import load_liaisons
from lianban.ledger import leases
from lianban.ledger.db import session_factory, write_lock
from lianban.ledger.incidents import observe, sweep
from lianban.ledger.models import Delivery, Incident, ParkedStatus, StatusEvent
from lianban.ledger.store import utcnow
from lianban.pipeline.alerts import LEASE_SECONDS, Alert, CheckResult, check
from lianban.pipeline.daily import send_daily
from lianban.pipeline.stage import stage


class Outbox:
    """A channel that keeps what it was given."""

    name = "outbox"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def test_a_check_running_while_another_opens_the_same_incident_opens_no_second(seeded: Any, paths: Paths) -> None:
    """The scheduled check is opening an incident when an operator's check runs: the operator's waits, then finds
    it open (one incident, which later clears as one)."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    sessions, outbox, results = session_factory(paths.ledger_url), Outbox(), list[CheckResult]()
    with sessions.begin() as s:
        s.execute(update(Delivery).where(Delivery.department == "health").values(state="dead"))
    with sessions.begin() as scheduled:
        write_lock(scheduled)
        sweep(scheduled, observe(scheduled))
        operator = threading.Thread(target=lambda: results.append(check(paths.ledger_url, load_liaisons(), [outbox])))
        operator.start()
        operator.join(timeout=0.5)
    operator.join(timeout=30)
    assert len(results) == 1
    with sessions() as s:
        dead = list(s.scalars(select(Incident).where(Incident.kind == "dead_letters", Incident.party == "health")))
    assert len(dead) == 1 and dead[0].state == "open"
    with sessions.begin() as s:
        s.execute(update(Delivery).where(Delivery.department == "health").values(state="pending"))
    check(paths.ledger_url, load_liaisons(), [outbox])
    with sessions() as s:
        still = s.scalars(select(Incident.id).where(Incident.kind == "dead_letters", Incident.state == "open"))
        assert list(still) == []  # the incident cleared, and no twin of it stays open


class Held(Outbox):
    """A channel that keeps what it was given once the test lets it (an SMTP server taking its time)."""

    def __init__(self) -> None:
        super().__init__()
        self.sending, self.let_go = threading.Event(), threading.Event()

    def send(self, alert: Alert) -> None:
        self.sending.set()
        assert self.let_go.wait(30)
        super().send(alert)


def test_a_check_run_while_another_is_telling_tells_nobody_and_nothing_is_told_twice(seeded: Any,
                                                                                    paths: Paths) -> None:
    """The scheduled check is sending an incident's opening when an operator's check runs: the operator's tells
    nobody (busy), where it sent the same opening again; the clearing later goes once. Before, the liaison heard
    the opening twice."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    sessions, channel, liaisons = session_factory(paths.ledger_url), Held(), load_liaisons()
    with sessions.begin() as s:
        s.execute(update(Delivery).where(Delivery.department == "health").values(state="dead"))
    scheduled = threading.Thread(target=check, args=(paths.ledger_url, liaisons, [channel]))
    scheduled.start()
    assert channel.sending.wait(30)
    operator = check(paths.ledger_url, liaisons, [channel])
    channel.let_go.set()
    scheduled.join(30)
    assert operator.busy and operator.opened == 0
    with sessions.begin() as s:
        s.execute(update(Delivery).where(Delivery.department == "health").values(state="pending"))
    assert not check(paths.ledger_url, liaisons, [channel]).busy
    told = [(a.incident, a.resolved) for a in channel.alerts if a.kind == "dead_letters"]
    assert len(told) == 2 and [resolved for _, resolved in told] == [False, True]


def test_a_check_that_died_holding_the_telling_is_taken_over_once_its_time_is_up(seeded: Any, paths: Paths) -> None:
    """A check killed mid-send leaves its lease behind: the next checks wait it out, then tell."""
    from datetime import timedelta

    from lianban.ledger.models import Watermark
    from lianban.ledger.store import utcnow

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    sessions, outbox = session_factory(paths.ledger_url), Outbox()
    with sessions.begin() as s:
        s.execute(update(Delivery).where(Delivery.department == "health").values(state="dead"))
        s.add(Watermark(name="lease:alerts_check", value=600, updated_at=utcnow()))
    assert check(paths.ledger_url, load_liaisons(), [outbox]).busy and outbox.alerts == []
    with sessions.begin() as s:
        s.execute(update(Watermark).where(Watermark.name == "lease:alerts_check")
                  .values(updated_at=utcnow() - timedelta(seconds=601)))
    assert check(paths.ledger_url, load_liaisons(), [outbox]).opened >= 1


def test_two_daily_summary_runs_at_once_send_each_summary_once(paths: Paths) -> None:
    """The DAG's daily run is sending when an operator's `alerts daily` runs: the operator's sends nothing (busy);
    before, both saw every party's summary due and each liaison got two."""
    from datetime import date

    from lianban.pipeline.daily import send_daily

    channel, liaisons, day = Held(), load_liaisons(), date(2026, 12, 2)
    scheduled = threading.Thread(target=send_daily, args=(paths.ledger_url, liaisons, [channel], day))
    scheduled.start()
    assert channel.sending.wait(30)
    operator = send_daily(paths.ledger_url, liaisons, [channel], day)
    channel.let_go.set()
    scheduled.join(30)
    parties = [a.party for a in channel.alerts]
    assert operator.busy and operator.sent == {} and parties and len(parties) == len(set(parties))


class Slow(Outbox):
    """A channel each message takes `minutes` to go through (SMTP waiting out its timeouts), on the leases' clock;
    `meanwhile` runs once, during the `at`-th message (another run started then)."""

    def __init__(self, clock: list[timedelta], minutes: int, at: int, meanwhile: Callable[[], object]) -> None:
        super().__init__()
        self.clock, self.minutes, self.at, self.meanwhile = clock, minutes, at, meanwhile
        self.others: list[object] = []

    def send(self, alert: Alert) -> None:
        self.clock[0] += timedelta(minutes=self.minutes)
        super().send(alert)
        if len(self.alerts) == self.at:
            self.others.append(self.meanwhile())


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[timedelta]:
    start, moved = utcnow(), [timedelta()]
    monkeypatch.setattr(leases, "utcnow", lambda: start + moved[0])
    return moved


def test_a_run_still_sending_past_its_first_lease_keeps_it_and_a_second_run_is_busy(
        paths: Paths, clock: list[timedelta]) -> None:
    """Daily summaries taking 10 minutes each: the operator's run begun during the third (30 minutes in, past a
    15-minute lease) sends nothing (busy). Before, the lease had run out and it sent every summary not marked yet,
    so liaisons got theirs twice."""
    liaisons, day = load_liaisons(), date(2026, 12, 2)
    channel = Slow(clock, 10, 3, lambda: send_daily(paths.ledger_url, liaisons, [channel], day))
    scheduled = send_daily(paths.ledger_url, liaisons, [channel], day)
    (operator,) = channel.others
    assert isinstance(operator, CheckResult) and operator.busy and operator.sent == {}
    parties = Counter(a.party for a in channel.alerts)
    assert not scheduled.lost and len(parties) == scheduled.observed > 3 and set(parties.values()) == {1}


def test_a_run_whose_one_send_outlasted_its_lease_stops_once_taken_over(paths: Paths,
                                                                         clock: list[timedelta]) -> None:
    """One summary took longer than the lease: the operator's run meanwhile took the lease over and sent the rest;
    the first run finds it so before its next summary and stops (``lost``). Only the summary in flight when the
    lease ran out went twice; before, the first run went on and every summary went twice."""
    liaisons, day = load_liaisons(), date(2026, 12, 2)
    minutes = LEASE_SECONDS // 60 + 1
    channel = Slow(clock, minutes, 1, lambda: send_daily(paths.ledger_url, liaisons, [Outbox()], day))
    scheduled = send_daily(paths.ledger_url, liaisons, [channel], day)
    (operator,) = channel.others
    assert isinstance(operator, CheckResult) and not operator.busy and operator.sent["outbox"] == scheduled.observed
    assert scheduled.lost and len(channel.alerts) == 1


def test_a_check_telling_many_incidents_slowly_keeps_the_telling_to_itself(seeded: Any, paths: Paths,
                                                                           clock: list[timedelta]) -> None:
    """Alerts taking 10 minutes each: a check begun during the second (past the 15-minute lease) tells nobody."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(Delivery).where(Delivery.department.in_(["health", "medical"])).values(state="dead"))
    liaisons, outbox = load_liaisons(), Outbox()
    channel = Slow(clock, 10, 2, lambda: check(paths.ledger_url, liaisons, [outbox]))
    scheduled = check(paths.ledger_url, liaisons, [channel])
    (operator,) = channel.others
    assert isinstance(operator, CheckResult) and operator.busy and outbox.alerts == []
    assert scheduled.opened == len(channel.alerts) >= 2 and not scheduled.lost


def test_parked_status_rows_and_refused_events_are_told_to_the_liaison_until_none_is_left(seeded: Any,
                                                                                          paths: Paths) -> None:
    """A status-log row that cannot be read and a status event 皖事通办 refused wait on a person: the runbook calls
    both 告警 (第9节, 第10节), yet the check never told anyone of them, so they could wait for ever with a log line
    in a task's log as the only sign. Each is now an incident of HRSS's liaison, cleared once none is left."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    sessions, outbox = session_factory(paths.ledger_url), Outbox()
    with sessions.begin() as s:
        s.add(ParkedStatus(source="hrss", source_seq=7, case_no="BZTX1", state="parked", reasons="[]",
                           raw="{}", created_at=utcnow() - timedelta(days=3)))  # read again every run
        s.add(ParkedStatus(source="hrss", source_seq=5, case_no="BZTX1", state="parked", reasons="[]",
                           created_at=utcnow() - timedelta(days=3)))  # never read again (before 0021): HRSS rewrote it
        event_id = s.scalars(select(StatusEvent.id).limit(1)).one()
        s.execute(update(StatusEvent).where(StatusEvent.id == event_id)
                  .values(parked_at=utcnow(), parked_reason="区划编码不在编码表中"))
    check(paths.ledger_url, load_liaisons(), [outbox])
    told = {(a.kind, a.party, a.resolved) for a in outbox.alerts}
    assert {("status_rows_parked", "hrss", False), ("events_parked", "hrss", False)} <= told
    assert any("第9节" in a.text for a in outbox.alerts) and any("--retry-parked" in a.text for a in outbox.alerts)
    with sessions.begin() as s:
        s.execute(update(ParkedStatus).where(ParkedStatus.source_seq == 7).values(state="applied"))
        s.execute(update(StatusEvent).values(parked_at=None, parked_reason=None))
    check(paths.ledger_url, load_liaisons(), [outbox])
    told = {(a.kind, a.party, a.resolved) for a in outbox.alerts}
    assert {("status_rows_parked", "hrss", True), ("events_parked", "hrss", True)} <= told


def test_status_rows_waiting_a_day_for_their_case_are_told_to_the_liaison_until_it_comes(seeded: Any,
                                                                                        paths: Paths) -> None:
    """A status-log row whose case the hub has not staged waits for it, rightly, and is applied once it comes. One
    whose application was quarantined, or whose 办件编号 HRSS mistyped in the log, waited for ever without a word:
    the applicant's item stood still on 皖事通办 and nobody was told. After a day it is HRSS's liaison's (第11节)."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    sessions, outbox = session_factory(paths.ledger_url), Outbox()
    with sessions.begin() as s:
        s.add(ParkedStatus(source="hrss", source_seq=9, case_no="BZTX-NOT-STAGED", state="waiting", reasons="[]",
                           created_at=utcnow() - timedelta(hours=2)))
    check(paths.ledger_url, load_liaisons(), [outbox])
    assert "status_rows_waiting" not in {a.kind for a in outbox.alerts}  # a few hours: the case may still come
    with sessions.begin() as s:
        s.execute(update(ParkedStatus).values(created_at=utcnow() - timedelta(days=1, minutes=1)))
    check(paths.ledger_url, load_liaisons(), [outbox])
    opened = [a for a in outbox.alerts if a.kind == "status_rows_waiting"]
    assert [(a.party, a.resolved) for a in opened] == [("hrss", False)] and "第11节" in opened[0].text
    with sessions.begin() as s:
        s.execute(update(ParkedStatus).values(state="applied"))
    check(paths.ledger_url, load_liaisons(), [outbox])
    assert ("status_rows_waiting", "hrss", True) in {(a.kind, a.party, a.resolved) for a in outbox.alerts}
