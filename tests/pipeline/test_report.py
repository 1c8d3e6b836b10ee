"""Report: one event 皖事通办 refuses is parked with the platform's reason and alerted; the others flow."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_sink
from lianban.ledger.db import session_factory
from lianban.ledger.models import StatusEvent
from lianban.ledger.progress import progress
from lianban.pipeline.report import report
from lianban.pipeline.stage import stage
from lianban.pipeline.status_log import collect_hrss
from simulators.hrss_backoffice import HrssBackOffice


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
