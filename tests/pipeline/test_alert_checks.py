"""Alert checks (lianban.pipeline.alerts) as the schedule and an operator run them: one incident per kind of
trouble at a party, however many checks run at once."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select, update

from lianban.app.config import Paths
from lianban.domain.liaisons import load_liaisons
from lianban.ledger.db import session_factory, write_lock
from lianban.ledger.incidents import observe, sweep
from lianban.ledger.models import Delivery, Incident
from lianban.pipeline.alerts import Alert, CheckResult, check
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
