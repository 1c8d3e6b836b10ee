"""One poison item never takes its batch down: the department's (or the connector's) refusal of a whole batch
for what is in it is bisected to the offending items, which are refused with the reason and told to the
applicant; the rest are delivered once. Poison rows are planted in the ledger as a legacy hub (before intake
checked 办件编号) would have staged them."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.crypto.hashing import blind_index
from lianban.domain.catalog import load_catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, Evidence, StatusEvent
from lianban.ledger.new_cases import NewCases
from lianban.ledger.store import DeliveryState, utcnow
from lianban.pipeline import notices
from lianban.pipeline.deliver import deliver
from lianban.pipeline.prepare import fingerprint, load_keys, sealed_items
from simulators.people import synthetic_application

ITEM = {"housing_fund": "14", "medical": "11"}


def _records(count: int, item: str, poison: dict[int, str]) -> Iterator[RetirementRecord]:
    rng = random.Random(5)
    for seq in range(1, count + 1):
        app = synthetic_application(rng, seq)
        yield RetirementRecord(**{**app, "case_no": poison.get(seq, app["case_no"]), "items": ("01", item),
                                  "source_seq": seq})


def _plant(paths: Paths, department: str, count: int, poison: dict[int, str]) -> None:
    catalog, keys = load_catalog(), load_keys(paths.keys_dir)
    new = NewCases(utcnow())  # entered as staging enters a chunk's cases, without the checks intake adds now
    for record in _records(count, ITEM[department], poison):
        new.add(notices.case_columns(record, blind_index(keys.index_key, record.id_number),
                                     fingerprint(keys.index_key, record), keys.query, new.now),
                sealed_items(record, catalog, keys.vault))
    with session_factory(paths.ledger_url).begin() as session:
        new.write(session)


def _deliver(paths: Paths, department: str, batch_size: int = 100) -> Any:
    peer = load_department(department, department_settings(department), paths.keys_dir)
    return deliver(peer, paths.ledger_url, batch_size, paths.keys_dir)


def _refused(paths: Paths) -> list[tuple[str, str | None, str | None]]:
    with session_factory(paths.ledger_url)() as s:
        rows = s.execute(select(Case.case_no, Delivery.last_error, CaseItem.status)
                         .join(CaseItem, Delivery.case_item_id == CaseItem.id).join(Case)
                         .where(Delivery.state == DeliveryState.REFUSED)).all()
    return [tuple(r) for r in rows]


def _sent_alone(paths: Paths, case_no: str) -> list[Evidence]:
    with session_factory(paths.ledger_url)() as s:
        return [e for e in s.scalars(select(Evidence).where(Evidence.kind == "submit"))
                if json.loads(e.case_nos) == [case_no]]


def test_a_poison_item_in_a_batch_of_100_leaves_99_delivered_and_1_refused(paths: Paths, simulation: Any) -> None:
    poison, reason = "X" * 70, "请求体不符合接口规范"  # the department's schema refuses the whole batch (422)
    _plant(paths, "housing_fund", 100, {37: poison})
    result = _deliver(paths, "housing_fund")
    assert (result.accepted, result.refused, result.retrying, result.dead) == (99, 1, 0, 0), result
    assert result.split > 0 and simulation.engines["housing_fund"].stats()["unique"] == 99
    ((case_no, error, status),) = _refused(paths)
    assert case_no == poison and reason in (error or "") and status == Status.NOT_ACCEPTED.value
    with session_factory(paths.ledger_url)() as s:
        told = s.scalars(select(StatusEvent.reason).join(CaseItem).join(Case)
                         .where(Case.case_no == poison, StatusEvent.status == Status.NOT_ACCEPTED.value)).one()
    assert reason in (told or "")  # the applicant is told why, through the status path
    assert _sent_alone(paths, poison)  # evidence: it went out alone, and the department answered
    assert _deliver(paths, "housing_fund").sent == 0  # nothing left to send, nothing sent twice


def test_an_item_the_connector_cannot_send_leaves_99_delivered_and_backs_off_unrefused(
        paths: Paths, simulation: Any) -> None:
    """The department never saw it (lxml cannot serialise it): not 不予受理, retried later like an outage."""
    poison = "BZ\x00POISON"
    _plant(paths, "medical", 100, {37: poison})
    result = _deliver(paths, "medical")
    assert (result.accepted, result.refused, result.retrying, result.dead) == (99, 0, 1, 0), result
    assert result.split > 0 and simulation.engines["medical"].stats()["unique"] == 99
    with session_factory(paths.ledger_url)() as s:
        state, error, status = s.execute(select(Delivery.state, Delivery.last_error, CaseItem.status)
                                         .join(CaseItem, Delivery.case_item_id == CaseItem.id).join(Case)
                                         .where(Case.case_no == poison)).one()
    assert state == DeliveryState.RETRY and "连接器无法发送" in (error or "")
    assert status != Status.NOT_ACCEPTED.value and _refused(paths) == []
    assert _sent_alone(paths, poison) == []  # evidence: a send only when something went out
    assert _deliver(paths, "medical").sent == 0  # backing off: nothing due now, nothing sent twice


def test_a_batch_whose_every_item_is_refused_backs_off_instead(paths: Paths, simulation: Any,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    _plant(paths, "housing_fund", 4, {n: f"{'Y' * 70}{n}" for n in range(1, 5)})
    result = _deliver(paths, "housing_fund")
    assert (result.accepted, result.refused, result.retrying) == (0, 0, 4)
    assert "系统性" in (result.stopped_by or "") and any("系统性" in r.getMessage() for r in caplog.records)
