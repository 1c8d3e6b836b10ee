"""The contract every connector keeps on a healthy department: submit, resubmit, poll, statuses, health;
and a sealed batch is taken whole or refused whole."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pytest
from contract_kit import LiveDepartment, reported_statuses, settled, wait_until_terminal

from lianban.domain.statuses import Status
from lianban.errors import RejectedError
from lianban.wire.contract import DepartmentConnector, StatusSink, StatusUpdate


def documented_statuses(live: LiveDepartment) -> dict[str, Status]:
    """The department's status code → unified status table, as its connector class declares it
    (``statuses``, from ``connectors/<department>/statuses.py``)."""
    table: dict[str, Status] = dict(getattr(live.cls, "statuses", {}))
    assert table, f"{live.cls.__name__} declares no ``statuses`` table (code → lianban.domain.statuses.Status)"
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
    seal, batch = live_department.batch(3)
    before = live_department.received

    receipts = live_department.connector().submit(batch, seal)

    assert [r.idempotency_key for r in receipts] == [d.idempotency_key for d in batch]
    assert all(r.accepted and not r.duplicate and r.department_ref for r in receipts), receipts
    assert all(isinstance(r.status, Status) and r.department_code for r in receipts)
    assert live_department.received == before + len(batch)


def test_submitting_the_same_batch_again_has_no_effect(live_department: LiveDepartment) -> None:
    connector, items = live_department.connector(), live_department.items(3)
    seal, batch = live_department.seal(items)
    first = connector.submit(batch, seal)
    received, duplicates = live_department.received, live_department.stats()["duplicates"]

    resent = live_department.seal(items)  # the hub seals a resend afresh (new batch nonce and time)
    again = connector.submit(resent.deliveries, resent.seal)

    assert live_department.received == received
    assert live_department.stats()["duplicates"] == duplicates + len(batch)
    assert all(r.accepted and r.duplicate for r in again), again
    assert [r.department_ref for r in again] == [r.department_ref for r in first]


def test_resending_the_same_sealed_batch_is_refused_as_a_replay(live_department: LiveDepartment) -> None:
    connector, (seal, batch) = live_department.connector(), live_department.batch(2)
    connector.submit(batch, seal)
    stats = live_department.stats()

    with pytest.raises(RejectedError) as refused:
        connector.submit(batch, seal)

    assert "REPLAY" in refused.value.code and refused.value.reason
    assert live_department.stats()["refused_batches"] == stats["refused_batches"] + 1
    assert live_department.stats()["duplicates"] == stats["duplicates"]


@pytest.mark.parametrize("how", ["changed", "dropped", "reordered"])
def test_a_tampered_batch_is_refused_whole(live_department: LiveDepartment, how: str) -> None:
    seal, batch = live_department.batch(3)
    if how == "changed":
        ct = bytearray(base64.b64decode(batch[1].envelope["ct"]))
        ct[-1] ^= 1
        batch[1] = replace(batch[1], envelope={**batch[1].envelope, "ct": base64.b64encode(bytes(ct)).decode()})
    elif how == "dropped":
        del batch[1]
    else:
        batch.reverse()
    received = live_department.received

    with pytest.raises(RejectedError) as refused:
        live_department.connector().submit(batch, seal)

    assert "ROOT" in refused.value.code and refused.value.reason
    assert live_department.received == received


def test_a_forged_seal_is_refused_whole(live_department: LiveDepartment) -> None:
    seal, batch = live_department.batch(2)
    received = live_department.received

    with pytest.raises(RejectedError) as refused:
        live_department.connector().submit(batch, {**seal, "count": 3})  # the hub's signature no longer fits

    assert "SIG" in refused.value.code and refused.value.reason
    assert live_department.received == received


def test_poll_reaches_a_terminal_status(live_department: LiveDepartment) -> None:
    connector, (seal, batch) = live_department.connector(), live_department.batch(3)
    connector.submit(batch, seal)

    keys = [d.idempotency_key for d in batch]
    updates = wait_until_terminal(connector, live_department, batch)

    # the supplement receipts among them (an item asked for 补正 on the way) are keyed by their supplement ids
    last = {u.idempotency_key: u for u in updates if isinstance(u, StatusUpdate)}
    assert set(last) == set(keys)
    assert all(settled(live_department.name, u.status) and u.changed_at for u in last.values())


def test_poll_leaves_out_unknown_keys(live_department: LiveDepartment) -> None:
    assert live_department.connector().poll(["never-delivered-0000"]) == []


def test_every_documented_status_code_maps_to_a_unified_status(live_department: LiveDepartment) -> None:
    """The statuses table covers all seven unified statuses, and every code the department actually
    answers (on receipt and while polling, along every status path) is read as its table says."""
    table = documented_statuses(live_department)
    assert set(table.values()) == set(Status), "every unified status needs a department code"
    connector = live_department.connector()
    seal, batch = live_department.seal(live_department.items_on_every_path())

    seen: list[Any] = list(connector.submit(batch, seal))
    seen += wait_until_terminal(connector, live_department, batch)

    assert {(x.department_code, x.status) for x in seen} <= set(table.items())
    # every status the department may report was reached; health may also say 已办结 once for item 13 on purpose
    # (the simulated overreach the hub refuses, tests/ledger/test_store.py), which its table still reads
    assert reported_statuses(live_department.name) <= {x.status for x in seen}


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
