"""The 补正 contract every department connector keeps: a 补正资料 names its materials by catalog code; a sealed
supplement is taken once (a resend is a duplicate) and the item goes on; a supplement whose seal fails is
refused whole."""

from __future__ import annotations

import time

import pytest
from contract_kit import POLL_EVERY, STEP_SECONDS, LiveDepartment, reported_statuses

from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.errors import RejectedError
from lianban.wire.contract import StatusUpdate
from simulators.engine import choose_path
from simulators.kit import Item, Supplied, seal_supplements


def waiting_item(live: LiveDepartment) -> Item:
    """A fresh delivery whose status path holds at 补正资料."""
    for _ in range(5000):
        item = live.item()
        if Status.SUPPLEMENT in choose_path(item.idempotency_key)[0]:
            return item
    raise AssertionError("no delivery on a 补正 path in 5000 tries")


def wait_for(connector: object, key: str, status: Status, timeout: float = 6 * STEP_SECONDS + 5) -> StatusUpdate:
    deadline = time.monotonic() + timeout
    while True:
        updates = [u for u in connector.poll([key]) if u.status is status]  # type: ignore[attr-defined]
        if updates:
            return updates[0]
        assert time.monotonic() < deadline, f"{key} never reached {status.value}"
        time.sleep(POLL_EVERY)


def test_supplement_materials_are_taken_once_and_the_item_goes_on(live_department: LiveDepartment) -> None:
    connector, item = live_department.connector(), waiting_item(live_department)
    seal, batch = live_department.seal([item])
    connector.submit(batch, seal)

    asked = wait_for(connector, item.idempotency_key, Status.SUPPLEMENT)
    assert asked.materials and set(asked.materials) <= {m.code for m in load_catalog().materials}
    supplied = Supplied(item.idempotency_key, f"S-{item.idempotency_key}", item.case_no, item.item_code,
                        asked.materials)
    header, items = seal_supplements(live_department.keys_dir, live_department.name, [supplied])
    first = connector.supplement(items, header)
    header, items = seal_supplements(live_department.keys_dir, live_department.name, [supplied])
    again = connector.supplement(items, header)  # a resend is sealed afresh

    assert [(r.idempotency_key, r.accepted, r.duplicate) for r in first + again] == [
        (supplied.supplement_id, True, False), (supplied.supplement_id, True, True)]
    last_word = Status.COMPLETED if Status.COMPLETED in reported_statuses(live_department.name) else Status.APPROVED
    assert wait_for(connector, item.idempotency_key, last_word).changed_at > asked.changed_at


def test_a_supplement_whose_seal_fails_is_refused_whole(live_department: LiveDepartment) -> None:
    connector, item = live_department.connector(), waiting_item(live_department)
    seal, batch = live_department.seal([item])
    connector.submit(batch, seal)
    supplied = Supplied(item.idempotency_key, f"S-{item.idempotency_key}", item.case_no, item.item_code, ("M01",))
    header, items = seal_supplements(live_department.keys_dir, live_department.name, [supplied])

    with pytest.raises(RejectedError) as refused:
        connector.supplement(items, {**header, "count": 2})  # the hub's signature no longer fits

    assert "SIG" in refused.value.code and refused.value.reason
