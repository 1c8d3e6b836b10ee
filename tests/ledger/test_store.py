"""Recording statuses: the catalog's completer rule (item 13 is completed by HRSS's payment, never by health),
and results kept sealed, checked against their form, never in a log line."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.statuses import Status
from lianban.errors import RejectedError
from lianban.keys.names import VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, IllegalTransition, StatusEvent, Supplement
from lianban.ledger.results import open_result, result_summary, seal_result
from lianban.ledger.store import record_status
from lianban.pipeline.stage import stage
from simulators.people import generate


@pytest.fixture
def reward_case(paths: Paths) -> str:
    """A staged case whose applicant chose item 13 (the one-child parents' reward)."""
    apps = [a for a in generate(60, seed=13) if "13" in a["items"].split(",")]
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(apps[:1])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1
    return str(apps[0]["case_no"])


def _report(paths: Paths, case_no: str, status: Status, source: str, at: str, result: str | None = None) -> bool:
    with session_factory(paths.ledger_url).begin() as s:
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == case_no, CaseItem.item_code == "13")).one()
        return record_status(s, item, status, source, code=None, reason=None, changed_at=at, result=result)


def test_health_never_completes_item_13_hrss_payment_does(paths: Paths, reward_case: str) -> None:
    for n, status in enumerate((Status.ACCEPTED, Status.UNDER_REVIEW, Status.APPROVED)):
        assert _report(paths, reward_case, status, "health", f"2026-12-01T10:0{n}:00+08:00")

    assert not _report(paths, reward_case, Status.COMPLETED, "health", "2026-12-01T10:05:00+08:00")
    with session_factory(paths.ledger_url)() as s:
        refused = s.scalars(select(IllegalTransition)).one()
        assert (refused.source, refused.from_status, refused.to_status) == ("health", "审核通过", "已办结")
        assert s.scalars(select(CaseItem.status).where(CaseItem.item_code == "13")).one() == "审核通过"

    assert _report(paths, reward_case, Status.COMPLETED, "hrss", "2026-12-02T09:00:00+08:00")
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(CaseItem.final).where(CaseItem.item_code == "13")).one() is True


def test_a_result_is_sealed_to_its_item_and_read_back_as_a_sentence(paths: Paths, reward_case: str) -> None:
    vault = load_ring(paths.keys_dir, VAULT)
    sealed = seal_result(vault, reward_case, "13", "hrss", {"amount": "3000.00", "paid_on": "2026-12-02"})
    assert sealed is not None and "3000" not in sealed
    assert _report(paths, reward_case, Status.ACCEPTED, "health", "2026-12-01T10:00:00+08:00")
    with session_factory(paths.ledger_url)() as s:
        stored = s.scalars(select(StatusEvent.result)).all()
    assert stored == [None]  # a status without a result keeps none

    assert result_summary(vault, reward_case, "13", sealed) == "一次性奖励3000.00元已于2026-12-02发放"
    assert open_result(vault, reward_case, "13", sealed) == ("hrss", {"amount": "3000.00", "paid_on": "2026-12-02"})
    with pytest.raises(RejectedError) as refused:  # bound to its case item: not readable as another's
        open_result(vault, "BZ-OTHER", "13", sealed)
    assert "完整性" in refused.value.reason


@pytest.mark.parametrize("again_at", ["2026-12-01T10:02:00+08:00", "2026-12-03T09:00:00+08:00"])
def test_a_result_refused_for_its_form_is_taken_when_the_department_sends_it_corrected(
        paths: Paths, reward_case: str, again_at: str) -> None:
    """Health's amount for item 13 refused for its form (the status taken without it): the department's corrected
    report, at the same time or later, brings it, and HRSS can then be asked to pay; once kept, repeats add
    nothing."""
    vault = load_ring(paths.keys_dir, VAULT)
    for n, status in enumerate((Status.ACCEPTED, Status.UNDER_REVIEW)):
        assert _report(paths, reward_case, status, "health", f"2026-12-01T10:0{n}:00+08:00")
    refused = seal_result(vault, reward_case, "13", "health", {"amount": "3,000"})
    assert refused is None
    assert _report(paths, reward_case, Status.APPROVED, "health", "2026-12-01T10:02:00+08:00", refused)

    corrected = seal_result(vault, reward_case, "13", "health", {"amount": "3000.00"})
    assert _report(paths, reward_case, Status.APPROVED, "health", again_at, corrected)
    assert not _report(paths, reward_case, Status.APPROVED, "health", again_at, corrected)
    with session_factory(paths.ledger_url)() as s:
        kept = s.scalars(select(StatusEvent.result).where(StatusEvent.status == "审核通过")).all()
    assert kept[0] is None and len(kept) == 2
    assert open_result(vault, reward_case, "13", str(kept[1]))[1] == {"amount": "3000.00"}


def test_a_result_that_does_not_fit_its_form_is_not_taken_and_the_alert_names_keys_only(
        paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    vault = load_ring(paths.keys_dir, VAULT)
    with caplog.at_level(logging.ERROR, logger="lianban.alerts"):
        sealed = seal_result(vault, "BZ1", "14", "housing_fund", {"amount": "12,345", "account": "6222021234"})
    assert sealed is None
    assert "account" in caplog.text and "amount" in caplog.text and "transferred_on" in caplog.text
    assert "6222021234" not in caplog.text and "12,345" not in caplog.text


def _materials_report(paths: Paths, case_no: str, at: str, reason: str | None, materials: tuple[str, ...]) -> bool:
    with session_factory(paths.ledger_url).begin() as s:
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == case_no, CaseItem.item_code == "13")).one()
        return record_status(s, item, Status.SUPPLEMENT, "health", code=None, reason=reason, changed_at=at,
                             materials=materials)


def test_a_late_echo_of_a_supplement_request_without_its_words_neither_repeats_it_nor_erases_the_materials(
        paths: Paths, reward_case: str) -> None:
    """Found by the status-echo drill: a department answering a poll with an old report (same status, same
    time) but without its reason and materials was recorded again, and 皖事通办 then showed no materials."""
    asked = "2026-12-01T10:01:00+08:00"
    assert _report(paths, reward_case, Status.ACCEPTED, "health", "2026-12-01T10:00:00+08:00")
    assert _materials_report(paths, reward_case, asked, "请补正资料：联办申请表", ("M02",))
    assert not _materials_report(paths, reward_case, asked, None, ())
    with session_factory(paths.ledger_url)() as s:
        item = s.scalars(select(CaseItem).where(CaseItem.item_code == "13")).one()
        assert (item.reason, item.materials) == ("请补正资料：联办申请表", '["M02"]')
        assert len(s.scalars(select(StatusEvent).where(StatusEvent.status == "补正资料")).all()) == 1
    assert _materials_report(paths, reward_case, "2026-12-01T10:02:00+08:00", "请补正资料：联办申请表、身份证",
                             ("M01", "M02"))  # a later request with other materials is news


def test_health_s_completion_after_hrss_paid_changes_nothing(paths: Paths, reward_case: str) -> None:
    """Once HRSS completed item 13, health's own 已办结 (other words, a later time) went in as a repeat with new
    words: a second 已办结 event, its reason replacing HRSS's in what the applicant and 皖事通办 see."""
    for n, status in enumerate((Status.ACCEPTED, Status.UNDER_REVIEW, Status.APPROVED)):
        assert _report(paths, reward_case, status, "health", f"2026-12-01T10:0{n}:00+08:00")
    with session_factory(paths.ledger_url).begin() as s:
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == reward_case,
                                                           CaseItem.item_code == "13")).one()
        assert record_status(s, item, Status.COMPLETED, "hrss", code=None, reason="奖励已发放",
                             changed_at="2026-12-02T09:00:00+08:00")
        assert not record_status(s, item, Status.COMPLETED, "health", code=None, reason="卫健委办结",
                                 changed_at="2026-12-03T09:00:00+08:00")
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(CaseItem.reason).where(CaseItem.item_code == "13")).one() == "奖励已发放"
        assert len(s.scalars(select(StatusEvent).where(StatusEvent.status == "已办结")).all()) == 1


def test_a_supplement_request_asked_again_after_the_applicant_supplied_is_news_with_a_new_deadline(
        paths: Paths, reward_case: str) -> None:
    """The applicant supplied materials and the department, finding them not enough, asked again in the same
    words: taken for a repeat, the applicant was never told and the 补正 deadline ran from the first request."""
    first, again = "2026-12-01T10:01:00+08:00", "2026-12-07T09:00:00+08:00"
    assert _report(paths, reward_case, Status.ACCEPTED, "health", "2026-12-01T10:00:00+08:00")
    assert _materials_report(paths, reward_case, first, "请补正资料：联办申请表", ("M02",))
    assert not _materials_report(paths, reward_case, "2026-12-02T09:00:00+08:00", "请补正资料：联办申请表", ("M02",))
    with session_factory(paths.ledger_url).begin() as s:
        item = s.scalars(select(CaseItem).where(CaseItem.item_code == "13")).one()
        first_due = item.supplement_due
        supplied = datetime(2026, 12, 3, 7)  # 15:00 Beijing, as the ledger keeps times (naive UTC)
        s.add(Supplement(source="hrss", source_seq=1, case_no=reward_case, item_code="13", case_item_id=item.id,
                         department="health", materials='["M02"]', supplied_at="2026-12-03T15:00:00+08:00",
                         state="accepted", next_attempt_at=supplied, created_at=supplied))
    assert _materials_report(paths, reward_case, again, "请补正资料：联办申请表", ("M02",))
    with session_factory(paths.ledger_url)() as s:
        item = s.scalars(select(CaseItem).where(CaseItem.item_code == "13")).one()
        assert item.status_at == again and first_due is not None and item.supplement_due > first_due
        assert len(s.scalars(select(StatusEvent).where(StatusEvent.status == "补正资料")).all()) == 2
    assert not _materials_report(paths, reward_case, "2026-12-08T09:00:00+08:00", "请补正资料：联办申请表", ("M02",))
