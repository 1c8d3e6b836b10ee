"""A simulated REST department in callback mode (``lianban simulate --push``): pushes as it goes, keeps what the
hub did not take, and refuses to trust an answer the hub did not sign."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from lianban.app.api import create_app
from lianban.app.api.callbacks import load_gate
from lianban.app.api.running import Running, start
from lianban.app.config import Paths
from lianban.app.demo import connections
from lianban.ledger.db import session_factory
from lianban.ledger.models import CaseItem, Delivery
from lianban.ledger.progress_query import ProgressDesk
from simulators import runner
from tests.delivery_kit import deliver_items

DEPT = "housing_fund"


def _hub(paths: Paths) -> Running:
    return start(create_app(ProgressDesk(paths.ledger_url, paths.keys_dir), load_gate(paths.ledger_url,
                                                                                      paths.keys_dir)))


@pytest.fixture
def delivered(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Running, Any]]:
    """The hub up; every department simulated, housing fund pushing to the hub; its items delivered."""
    runner.load_credentials(paths.home)
    for name, value in connections({d: "http://127.0.0.1:9" for d in runner.endpoints()} |
                                   {"medical_wsdl": "http://127.0.0.1:9/soap?wsdl"}, paths.home).items():
        monkeypatch.setenv(name, value)  # the hub needs only the credentials to accept pushes
    hub = _hub(paths)
    sim = runner.start(paths.home, paths.keys_dir, None, step_seconds=0.2, push=[DEPT], hub_url=hub.url)
    for name, value in connections(sim.urls, paths.home).items():
        monkeypatch.setenv(name, value)
    deliver_items(paths, DEPT, 20, 31, "01,14")
    yield hub, sim
    sim.stop()
    hub.stop()


def test_a_pushing_department_moves_its_items_without_being_polled(paths: Paths,
                                                                  delivered: tuple[Running, Any]) -> None:
    _, sim = delivered
    pusher, engine = sim.pushers[DEPT], sim.engines[DEPT]
    time.sleep(1.0)  # every item at its last word (3 steps of 0.2 s; a 补正 item waits for its applicant)
    deadline = time.monotonic() + 15
    while pusher.pending() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pusher.pending() == 0 and pusher.stats.failed_pushes == 0, pusher.stats  # all taken, answers signed
    said = {v.idempotency_key: v.status.value for v in engine.current()}
    assert said and _ledger_statuses(paths) == said  # the hub knows what the department knows, never polled


def _ledger_statuses(paths: Paths) -> dict[str, str | None]:
    with session_factory(paths.ledger_url)() as session:
        rows = session.execute(select(Delivery.idempotency_key, CaseItem.status)
                               .join(CaseItem, Delivery.case_item_id == CaseItem.id)
                               .where(Delivery.department == DEPT))
        return {key: status for key, status in rows}


def test_while_the_hub_is_down_nothing_is_taken_and_everything_goes_once_it_is_back(
        paths: Paths, delivered: tuple[Running, Any]) -> None:
    hub, sim = delivered
    pusher = sim.pushers[DEPT]
    pusher.stop()
    hub.stop()
    time.sleep(1.0)  # every item at its last word (3 steps of 0.2 s; a 补正 item waits for its applicant)
    assert pusher.push_once() == 0 and pusher.stats.failed_pushes >= 1  # news to push, nobody to take it
    back = _hub(paths)
    try:
        pusher.hub_url = back.url
        assert pusher.push_once() > 0
        assert pusher.push_once() == 0  # nothing changed since: nothing pushed again
    finally:
        back.stop()


def test_push_needs_a_rest_department_and_the_hub_url(paths: Paths) -> None:
    with pytest.raises(ValueError, match="only REST departments"):
        runner.start(paths.home, paths.keys_dir, None, 0.2, push=["medical"], hub_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="hub's URL"):
        runner.start(paths.home, paths.keys_dir, None, 0.2, push=[DEPT])
