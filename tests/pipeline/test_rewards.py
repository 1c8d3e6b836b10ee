"""Item 13's payment requests: one approved reward whose sealed amount cannot be opened is alerted and left, the
others are still asked for (it stopped every reward of the run with a traceback)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from lianban.app.config import Paths
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.keys.names import VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, PaymentRequest
from lianban.ledger.results import seal_result
from lianban.ledger.store import record_status
from lianban.pipeline import rewards
from lianban.pipeline.rewards import request_payments
from lianban.pipeline.stage import stage
from lianban.wire.contract import PaymentOrder


class _Desk:
    def __init__(self) -> None:
        self.orders: list[PaymentOrder] = []

    def request_payments(self, requests: Sequence[PaymentOrder]) -> None:
        self.orders += requests


def test_a_reward_whose_amount_cannot_be_opened_is_alerted_and_the_others_still_paid(
        seeded: Any, paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    vault = load_ring(paths.keys_dir, VAULT)
    with session_factory(paths.ledger_url).begin() as s:
        rewards = s.execute(select(CaseItem, Case.case_no).join(Case).where(CaseItem.item_code == "13")
                            .order_by(CaseItem.id).limit(2)).all()
        assert len(rewards) == 2
        (broken, broken_no), (good, good_no) = rewards
        sealed = seal_result(vault, good_no, "13", "health", {"amount": "1000.00"})
        unreadable = seal_result(vault, good_no, "13", "health", {"amount": "1000.00"})  # bound to another case
        for item, result in ((broken, unreadable), (good, sealed)):
            record_status(s, item, Status.APPROVED, "health", code="2", reason=None,
                          changed_at="2026-12-01T10:00:00+08:00", result=result)
        good_id = good.id

    with caplog.at_level(logging.ERROR, logger="lianban.alerts"):
        result = request_payments(_Desk(), paths.ledger_url, paths.keys_dir)
    assert (result.read, result.changed, result.skipped) == (2, 1, 1)
    assert broken_no in caplog.text and "无法" in caplog.text
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(PaymentRequest.case_item_id)).all() == [good_id]


def test_two_runs_asking_for_the_same_rewards_at_once_ask_once(seeded: Any, paths: Paths) -> None:
    """A second run (``lianban run`` by hand while the DAG runs) that read the same approved rewards before the
    first recorded them: the 前置库 keeps one request per 请求号 and the ledger one per item; the second run ended
    in a unique-key error after writing to HRSS's 前置库."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    vault = load_ring(paths.keys_dir, VAULT)
    with session_factory(paths.ledger_url).begin() as s:
        for item, case_no in s.execute(select(CaseItem, Case.case_no).join(Case)
                                       .where(CaseItem.item_code == "13")).all():
            record_status(s, item, Status.APPROVED, "health", code="2", reason=None,
                          changed_at="2026-12-01T10:00:00+08:00",
                          result=seal_result(vault, case_no, "13", "health", {"amount": "1000.00"}))
        approved = len(s.scalars(select(CaseItem.id).where(CaseItem.item_code == "13")).all())

    class _Racing(_Desk):
        """While this run writes its requests, another whole run asks for the same ones and commits."""

        def request_payments(self, requests: Sequence[PaymentOrder]) -> None:
            super().request_payments(requests)
            request_payments(_Desk(), paths.ledger_url, paths.keys_dir)

    result = request_payments(_Racing(), paths.ledger_url, paths.keys_dir)
    assert result.changed == 0 and approved > 0  # the other run recorded them all
    with session_factory(paths.ledger_url)() as s:
        assert len(s.scalars(select(PaymentRequest.case_item_id)).all()) == approved


def test_an_item_another_department_completes_is_no_reward_for_hrss_to_pay(
        seeded: Any, paths: Paths, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """``completed_by`` names any party: an item medical approves and housing_fund completes is not a reward,
    and HRSS's 前置库 gets no payment request for it (every item completed by another party was asked for)."""
    catalog = load_catalog()
    handed_on = replace(catalog.items["12"], completed_by="housing_fund")
    monkeypatch.setattr(rewards, "load_catalog", lambda: replace(catalog, items={**catalog.items, "12": handed_on}))
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    vault = load_ring(paths.keys_dir, VAULT)
    with session_factory(paths.ledger_url).begin() as s:
        item, case_no = s.execute(select(CaseItem, Case.case_no).join(Case)
                                  .where(CaseItem.item_code == "12").limit(1)).one()
        record_status(s, item, Status.APPROVED, "medical", code="2", reason=None,
                      changed_at="2026-12-01T10:00:00+08:00",
                      result=seal_result(vault, case_no, "12", "medical", {"amount": "1000.00"}))

    desk = _Desk()
    with caplog.at_level(logging.ERROR, logger="lianban.alerts"):
        result = request_payments(desk, paths.ledger_url, paths.keys_dir)
    assert desk.orders == [] and result.read == 0 and "奖励" not in caplog.text


def test_an_approval_without_amount_names_the_department_that_decided(
        seeded: Any, paths: Paths, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The alert sent the operator to 卫健委's liaison whichever department had approved the item."""
    catalog = load_catalog()
    paid = replace(catalog.items["12"], completed_by="hrss")
    monkeypatch.setattr(rewards, "load_catalog", lambda: replace(catalog, items={**catalog.items, "12": paid}))
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        item = s.scalars(select(CaseItem).where(CaseItem.item_code == "12").limit(1)).one()
        record_status(s, item, Status.APPROVED, "medical", code="2", reason=None,
                      changed_at="2026-12-01T10:00:00+08:00")

    with caplog.at_level(logging.ERROR, logger="lianban.alerts"):
        result = request_payments(_Desk(), paths.ledger_url, paths.keys_dir)
    assert result.skipped == 1 and "医疗保障局" in caplog.text and "卫健委" not in caplog.text
