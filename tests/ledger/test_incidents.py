"""Incidents: one kind of trouble at one party opens once, is updated while seen, resolves when no longer seen,
and asks to be told exactly once each way."""

from __future__ import annotations

from datetime import datetime, timedelta

from lianban.ledger.db import session_factory
from lianban.ledger.incidents import Observation, sweep, told

T0 = datetime(2026, 12, 2, 1, 0)


def _sweep(ledger_url: str, seen: list[Observation], minutes: int, tell: bool = True) -> list[tuple[str, str, str]]:
    with session_factory(ledger_url).begin() as session:
        due = sweep(session, seen, T0 + timedelta(minutes=minutes))
        said = [(i.kind, i.party, i.state) for i in due]
        for incident in due if tell else []:
            told(session, incident.id)
    return said


def test_an_incident_is_told_once_when_it_opens_and_once_when_it_clears(ledger_url: str) -> None:
    failing = Observation("delivery_failing", "housing_fund", 12)
    assert _sweep(ledger_url, [failing], 0) == [("delivery_failing", "housing_fund", "open")]
    assert _sweep(ledger_url, [Observation("delivery_failing", "housing_fund", 30)], 5) == []  # seen again
    assert _sweep(ledger_url, [], 10) == [("delivery_failing", "housing_fund", "resolved")]
    assert _sweep(ledger_url, [], 15) == []
    assert _sweep(ledger_url, [failing], 20) == [("delivery_failing", "housing_fund", "open")]  # a new incident


def test_one_party_s_incident_does_not_touch_another_s(ledger_url: str) -> None:
    a, b = Observation("dead_letters", "medical", 1), Observation("dead_letters", "health", 2)
    assert len(_sweep(ledger_url, [a, b], 0)) == 2
    assert _sweep(ledger_url, [b], 5) == [("dead_letters", "medical", "resolved")]


def test_an_untold_incident_stays_due_until_told(ledger_url: str) -> None:
    failing = Observation("overdue", "hrss", 3)
    assert _sweep(ledger_url, [failing], 0, tell=False) == [("overdue", "hrss", "open")]
    assert _sweep(ledger_url, [failing], 5, tell=False) == [("overdue", "hrss", "open")]  # a channel was down
    assert _sweep(ledger_url, [], 10) == [("overdue", "hrss", "resolved")]  # cleared before anyone heard
    assert _sweep(ledger_url, [], 15) == []
