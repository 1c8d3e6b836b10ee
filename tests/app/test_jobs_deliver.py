"""A delivery run as the DAG and the CLI start it (lianban.app.jobs.deliver): a large backlog is shared with a
second process, every delivery still sent exactly once; a small one, or ``extra.processes`` 1, stays in one; while
another department's deliveries are due, the second process joins only once they are done."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.hrss.frontend import FrontendDB
from lianban.app import jobs
from lianban.app.config import Paths, conn_env_name
from lianban.ledger.db import session_factory
from lianban.ledger.models import Delivery
from lianban.ledger.store import DeliveryState
from lianban.pipeline import offload
from lianban.pipeline.deliver import DeliverResult
from lianban.pipeline.stage import stage

DEPT = "medical"


@pytest.fixture
def staged(seeded: tuple[FrontendDB, Any], paths: Paths) -> int:
    """The seeded 前置库 staged; the number of deliveries to medical."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as session:
        return int(session.scalar(select(func.count()).select_from(Delivery).where(Delivery.department == DEPT))
                   or 0)


def _extra(monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    """Medical's connection (as the simulation exported it) with `extra` set."""
    name = conn_env_name(DEPT)
    conn = json.loads(os.environ[name])
    conn["extra"] = {**conn.get("extra", {}), **extra}
    monkeypatch.setenv(name, json.dumps(conn))


def _helpers(monkeypatch: pytest.MonkeyPatch) -> list[DeliverResult]:
    """What the run's other processes delivered, as the run gathers it."""
    seen: list[DeliverResult] = []
    gather = jobs._helped

    def spy(department: str, pending: Any) -> list[DeliverResult]:
        seen.extend(gather(department, pending))
        return seen

    monkeypatch.setattr(jobs, "_helped", spy)
    return seen


def _accepted(paths: Paths) -> dict[str, int]:
    with session_factory(paths.ledger_url)() as session:
        return dict(session.execute(select(Delivery.state, func.count()).where(Delivery.department == DEPT)
                                    .group_by(Delivery.state)).all())


def test_a_large_backlog_is_shared_with_a_second_process_and_sent_exactly_once(
        staged: int, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four requests a second to medical in all (two for each process's one lane): this process alone would
    take seconds, so the second one, started meanwhile, takes batches of its own."""
    _extra(monkeypatch, batch_size=5, lanes=1, rate_limit=4)
    monkeypatch.setattr(jobs, "SECOND_PROCESS_BATCHES", 4)
    helped = _helpers(monkeypatch)
    result = jobs.deliver(DEPT)
    assert staged > 20 and result["sent"] == result["accepted"] == staged and result["stopped_by"] is None
    assert len(helped) == 1 and 0 < helped[0].accepted < staged  # the second process sent batches of its own
    assert _accepted(paths) == {DeliveryState.ACCEPTED: staged}
    stats = simulation.engines[DEPT].stats()
    assert (stats["unique"], stats["duplicates"]) == (staged, 0)


class _NoProcess:
    def __init__(self) -> None:
        raise AssertionError("no second process was to be started")


@pytest.mark.parametrize("extra", [{"batch_size": 5, "processes": 1}, {}])
def test_one_process_when_so_configured_or_when_the_backlog_is_small(
        staged: int, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch, extra: dict[str, int]) -> None:
    """`processes` 1 with a backlog of many batches; or the default 1,000 a batch, so a backlog of one."""
    _extra(monkeypatch, **extra)
    monkeypatch.setattr(jobs, "SECOND_PROCESS_BATCHES", 4)
    monkeypatch.setattr(offload, "Offload", _NoProcess)
    result = jobs.deliver(DEPT)
    assert result["accepted"] == staged and _accepted(paths) == {DeliveryState.ACCEPTED: staged}


class _CannotStart:
    def __init__(self) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # EAGAIN: too many processes


def test_a_second_process_that_cannot_start_leaves_the_backlog_to_this_one(
        staged: int, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    _extra(monkeypatch, batch_size=5)
    monkeypatch.setattr(jobs, "SECOND_PROCESS_BATCHES", 4)
    monkeypatch.setattr(jobs, "_others_due", lambda ledger, department: {})  # medical alone: started at once
    monkeypatch.setattr(offload, "Offload", _CannotStart)
    result = jobs.deliver(DEPT)
    assert result["sent"] == result["accepted"] == staged and _accepted(paths) == {DeliveryState.ACCEPTED: staged}
    assert [r.getMessage() for r in caplog.records if "投递辅助进程无法启动" in r.getMessage()] == [
        "投递辅助进程无法启动，本次以 1 个进程投递 (a delivery process could not start: BlockingIOError)"]


def _slowly(monkeypatch: pytest.MonkeyPatch, simulation: Any, seconds: float) -> None:
    """The simulated department takes `seconds` more for each batch it receives."""
    engine = simulation.engines[DEPT]
    receive = engine.receive
    monkeypatch.setattr(engine, "receive", lambda *a, **k: (time.sleep(seconds), receive(*a, **k))[1])


def _looks(monkeypatch: pytest.MonkeyPatch, answers: list[bool], told: list[str], moving: bool = True) -> None:
    """Whether another department's deliveries are due, answered in turn from `answers` (then not), each look and
    each start of more processes noted in `told`; `moving`: a run claims them, its next due delivery another at each
    look (else it stays the same)."""
    monkeypatch.setattr(jobs, "JOIN_LOOK_SECONDS", 0.05)
    left = iter(answers)

    def others_due(ledger: str, department: str) -> dict[str, int]:
        due = next(left, False)
        told.append("others due" if due else "others done")
        return {"health": len(told) if moving else 1} if due else {}

    started = jobs._started

    def spy(count: int) -> list[offload.Offload]:
        told.append(f"start {count}")
        return started(count)

    monkeypatch.setattr(jobs, "_others_due", others_due)
    monkeypatch.setattr(jobs, "_started", spy)


def test_while_others_are_due_the_second_process_joins_once_they_are_done(
        staged: int, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a rate limit to share: the run starts alone, looks again, and starts its second process only after a
    look finds no other department's deliveries due; every delivery still sent exactly once."""
    _extra(monkeypatch, batch_size=5, lanes=1)
    monkeypatch.setattr(jobs, "SECOND_PROCESS_BATCHES", 2)
    _slowly(monkeypatch, simulation, 1.0)  # medical takes a second a batch: the run outlasts the looks
    told: list[str] = []
    _looks(monkeypatch, [True, True], told)
    helped = _helpers(monkeypatch)
    result = jobs.deliver(DEPT)
    assert result["sent"] == result["accepted"] == staged and _accepted(paths) == {DeliveryState.ACCEPTED: staged}
    assert told == ["others due", "others due", "others done", "start 1"]
    assert len(helped) == 1 and helped[0].accepted > 0  # it joined in time to send batches of its own
    stats = simulation.engines[DEPT].stats()
    assert (stats["unique"], stats["duplicates"]) == (staged, 0)


def test_while_others_stay_due_the_run_stays_in_one_process(
        staged: int, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _extra(monkeypatch, batch_size=5, lanes=1)
    monkeypatch.setattr(jobs, "SECOND_PROCESS_BATCHES", 4)
    told: list[str] = []
    _looks(monkeypatch, [True] * 10_000, told)
    monkeypatch.setattr(offload, "Offload", _NoProcess)
    result = jobs.deliver(DEPT)
    assert result["accepted"] == staged and _accepted(paths) == {DeliveryState.ACCEPTED: staged}
    assert set(told) == {"others due"}


def test_others_due_but_claimed_by_no_run_are_not_waited_for(
        staged: int, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another department's deliveries due and standing still (its task not started, or waiting for a slot that
    this run holds): its next due delivery the same at each look, so after ``IDLE_SECONDS`` the second process
    joins; every delivery still sent exactly once."""
    _extra(monkeypatch, batch_size=5, lanes=1)
    monkeypatch.setattr(jobs, "SECOND_PROCESS_BATCHES", 2)
    monkeypatch.setattr(jobs, "IDLE_SECONDS", 0.3)
    _slowly(monkeypatch, simulation, 0.5)
    told: list[str] = []
    _looks(monkeypatch, [True] * 10_000, told, moving=False)
    helped = _helpers(monkeypatch)
    result = jobs.deliver(DEPT)
    assert result["sent"] == result["accepted"] == staged and _accepted(paths) == {DeliveryState.ACCEPTED: staged}
    assert told[-1] == "start 1" and set(told[:-1]) == {"others due"} and len(told) >= 4  # waited IDLE_SECONDS first
    assert len(helped) == 1 and helped[0].accepted > 0
    stats = simulation.engines[DEPT].stats()
    assert (stats["unique"], stats["duplicates"]) == (staged, 0)


def test_with_a_rate_limit_the_second_process_starts_at_once_though_others_are_due(
        staged: int, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each process takes its share of the limit as it starts: one joining later would add to it."""
    _extra(monkeypatch, batch_size=5, lanes=1, rate_limit=4)
    monkeypatch.setattr(jobs, "SECOND_PROCESS_BATCHES", 4)
    told: list[str] = []
    _looks(monkeypatch, [True] * 10_000, told)
    result = jobs.deliver(DEPT)
    assert result["accepted"] == staged and told == ["start 1"]  # whether others are due is not even asked


def test_a_look_that_fails_with_a_database_error_leaves_the_run_to_one_process_said_once(
        staged: int, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The look is a thread beside the run: a raw driver error there (the ledger locked, say) must not end it with
    a traceback carrying the statement's parameters; the run goes on in its one process."""
    from sqlalchemy.exc import OperationalError

    _extra(monkeypatch, batch_size=5, lanes=1)
    monkeypatch.setattr(jobs, "SECOND_PROCESS_BATCHES", 2)
    monkeypatch.setattr(jobs, "JOIN_LOOK_SECONDS", 0.05)
    _slowly(monkeypatch, simulation, 0.5)
    looks: list[str] = []

    def locked(ledger: str, department: str) -> dict[str, int]:
        looks.append(department)
        if len(looks) == 1:
            return {"health": 1}  # the run starts alone
        raise OperationalError("SELECT … WHERE id_index = ?", ("11010519491231002X",), Exception("database is locked"))

    monkeypatch.setattr(jobs, "_others_due", locked)
    uncaught: list[Any] = []
    monkeypatch.setattr("threading.excepthook", uncaught.append)
    with caplog.at_level("WARNING", logger="lianban.app.jobs"):
        result = jobs.deliver(DEPT)
    assert result["accepted"] == staged and _accepted(paths) == {DeliveryState.ACCEPTED: staged}
    assert uncaught == [] and len(looks) == 2  # no more looks after the failure
    assert [r.getMessage() for r in caplog.records if "加入" in r.getMessage()] == [
        "投递辅助进程未能加入，本次以 1 个进程投递 (the delivery processes could not join: OperationalError)"]
    assert "11010519491231002X" not in caplog.text
