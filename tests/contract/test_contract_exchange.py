"""The contract every connector keeps on a healthy department: submit, resubmit, poll, statuses, health."""

from __future__ import annotations

import importlib
from typing import Any

from contract_kit import LiveDepartment, wait_until_terminal

from lianban.contract import DepartmentConnector, StatusSink
from lianban.domain import Status


def documented_statuses(department: str) -> dict[str, Status]:
    """The department's status code → unified status table(s) in ``connectors/<department>/statuses.py``."""
    module = importlib.import_module(f"connectors.{department}.statuses")
    table: dict[str, Status] = {}
    for value in vars(module).values():
        if isinstance(value, dict) and value and all(isinstance(v, Status) for v in value.values()):
            table.update(value)
    assert table, f"connectors/{department}/statuses.py documents no status code → lianban.domain.Status table"
    return table


def test_connector_satisfies_its_protocol(live: LiveDepartment) -> None:
    connector = live.connector()
    protocol = DepartmentConnector if live.role == "department" else StatusSink
    assert isinstance(connector, protocol)


def test_health_is_ok_and_says_why(live: LiveDepartment) -> None:
    report = live.connector().health()
    assert report.ok, report.detail
    assert report.detail.strip()
    assert live.password not in report.detail


def test_submit_a_sealed_batch(live_department: LiveDepartment) -> None:
    batch = live_department.deliveries(3)
    before = live_department.received

    receipts = live_department.connector().submit(batch)

    assert [r.idempotency_key for r in receipts] == [d.idempotency_key for d in batch]
    assert all(r.accepted and not r.duplicate and r.department_ref for r in receipts), receipts
    assert all(isinstance(r.status, Status) and r.department_code for r in receipts)
    assert live_department.received == before + len(batch)


def test_submitting_the_same_batch_again_has_no_effect(live_department: LiveDepartment) -> None:
    connector, batch = live_department.connector(), live_department.deliveries(3)
    first = connector.submit(batch)
    received, duplicates = live_department.received, live_department.stats()["duplicates"]

    again = connector.submit(batch)

    assert live_department.received == received
    assert live_department.stats()["duplicates"] == duplicates + len(batch)
    assert all(r.accepted and r.duplicate for r in again), again
    assert [r.department_ref for r in again] == [r.department_ref for r in first]


def test_poll_reaches_a_terminal_status(live_department: LiveDepartment) -> None:
    connector, batch = live_department.connector(), live_department.deliveries(3)
    connector.submit(batch)

    keys = [d.idempotency_key for d in batch]
    updates = wait_until_terminal(connector, keys)

    last = {u.idempotency_key: u for u in updates}
    assert set(last) == set(keys)
    assert all(u.status.is_terminal() and u.changed_at for u in last.values())


def test_poll_leaves_out_unknown_keys(live_department: LiveDepartment) -> None:
    assert live_department.connector().poll(["never-delivered-0000"]) == []


def test_every_documented_status_code_maps_to_a_unified_status(live_department: LiveDepartment) -> None:
    """The statuses table covers all seven unified statuses, and every code the department actually
    answers (on receipt and while polling, along every status path) is read as its table says."""
    table = documented_statuses(live_department.name)
    assert set(table.values()) == set(Status), "every unified status needs a department code"
    connector, batch = live_department.connector(), live_department.deliveries_on_every_path()

    seen: list[Any] = list(connector.submit(batch))
    seen += wait_until_terminal(connector, [d.idempotency_key for d in batch])

    assert {(x.department_code, x.status) for x in seen} <= set(table.items())
    assert {x.status for x in seen} == set(Status)


def test_push_events_in_order(live_sink: LiveDepartment) -> None:
    events = live_sink.events(3)
    before = live_sink.received

    result = live_sink.connector().push(events)

    assert (result.accepted, result.duplicates) == (3, 0)
    assert live_sink.received == before + 3


def test_pushing_the_same_events_again_has_no_effect(live_sink: LiveDepartment) -> None:
    connector, events = live_sink.connector(), live_sink.events(3)
    connector.push(events)
    received = live_sink.received

    again = connector.push(events)

    assert (again.accepted, again.duplicates) == (0, 3)
    assert live_sink.received == received


def test_every_unified_status_can_be_reported(live_sink: LiveDepartment) -> None:
    result = live_sink.connector().push(live_sink.events(len(Status), statuses=list(Status)))
    assert result.accepted == len(Status)
