"""The operator's view of cases (issue 9, item 9): the case list and one case in full, read from a real ledger.

Eight synthetic approvals are staged through the real stage step; departments' reports are recorded with
:func:`lianban.ledger.store.record_status` as the feedback steps do. What an operator would notice is checked:
the case status follows its items, ``--had-status`` looks at history (not only where an item is now), one
case's history is in order with who said it and why, a phone number in a reason is masked, a mistyped case
number is one sentence, and a near-duplicate spelling finds the case.

Time limits (压时限): an HRSS item is due its catalog limit in working days after the case's 受理 at the window,
a pushed item after the day its department took the delivery (none before), both in Beijing days; ``today`` is
passed in, never read from the clock, so each due date and each overdue verdict below is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.domain.working_days import add_working_days, official_years
from lianban.errors import ConfigError
from lianban.ledger.cases import ItemView, list_cases, show_case, status_named
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery
from lianban.ledger.progress import progress
from lianban.ledger.store import DeliveryState, record_status
from lianban.pipeline.stage import stage
from simulators.people import generate

PHONE = "13812345678"
Report = Callable[..., None]


@pytest.fixture
def case_nos(paths: Paths) -> list[str]:
    """Eight valid cases staged (seed 5: none broken), in 办件编号 order (not the order they were staged)."""
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(list(generate(8, seed=5)))
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 8
    with session_factory(paths.ledger_url)() as s:
        staged = list(s.scalars(select(Case.case_no).order_by(Case.id)))
    assert staged != sorted(staged)  # so the order checks below mean something
    return sorted(staged)


@pytest.fixture
def report(paths: Paths) -> Report:
    """``report(case_no, item_code, status, at, reason=None)``: the item's department reports a status."""
    def go(case_no: str, item_code: str, status: Status, at: str, reason: str | None = None) -> None:
        with session_factory(paths.ledger_url).begin() as s:
            item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == case_no,
                                                               CaseItem.item_code == item_code)).one()
            record_status(s, item, status, item.department, code=None, reason=reason, changed_at=at)
    return go


def items_of(paths: Paths, case_no: str) -> list[str]:
    with session_factory(paths.ledger_url)() as s:
        return sorted(s.scalars(select(CaseItem.item_code).join(Case).where(Case.case_no == case_no)))


def departments_of(paths: Paths, case_no: str) -> dict[str, str]:
    """item code -> the department that handles it"""
    with session_factory(paths.ledger_url)() as s:
        rows = s.execute(select(CaseItem.item_code, CaseItem.department).join(Case).where(Case.case_no == case_no))
        return {code: department for code, department in rows}


def set_approved(paths: Paths, case_no: str, at: datetime) -> None:
    """The case's 受理 at the window was at `at` (naive UTC, as the ledger stores it)."""
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(Case).where(Case.case_no == case_no).values(approved_at=at))


def take_delivery(paths: Paths, case_no: str, item_code: str, at: datetime,
                  state: DeliveryState = DeliveryState.ACCEPTED) -> None:
    """The item's department answered its delivery at `at` (naive UTC), as the deliver step records it."""
    with session_factory(paths.ledger_url).begin() as s:
        row = s.scalars(select(Delivery).join(CaseItem).join(Case).where(Case.case_no == case_no,
                                                                         CaseItem.item_code == item_code)).one()
        row.state, row.sent_at = state, at


def shown(paths: Paths, case_no: str, today: date) -> dict[str, ItemView]:
    return {i.item_code: i for i in show_case(paths.ledger_url, case_no, today=today).items}


def statuses(paths: Paths, had_status: Status | None = None) -> dict[str, str]:
    return {c.case_no: c.status for c in list_cases(paths.ledger_url, had_status)}


def test_list_is_in_case_number_order_and_unreported_cases_are_accepted(paths: Paths, case_nos: list[str]) -> None:
    rows = list_cases(paths.ledger_url)
    assert [r.as_dict() for r in rows] == [{"case_no": n, "status": "受理"} for n in case_nos]


def test_case_status_follows_its_items(paths: Paths, case_nos: list[str], report: Report) -> None:
    a, b = case_nos[0], case_nos[1]
    first, *others = items_of(paths, a)
    assert others  # the other items of the case stay unreported (未反馈) throughout
    report(a, first, Status.ACCEPTED, "2025-03-01T09:00:00+08:00")
    assert statuses(paths)[a] == "受理"  # accepted or not reported yet: still 受理
    report(a, first, Status.SUPPLEMENT, "2025-03-02T09:00:00+08:00", "缺少退休审批表")
    assert statuses(paths)[a] == "补正资料"  # the applicant has something to do
    report(a, first, Status.UNDER_REVIEW, "2025-03-03T09:00:00+08:00")
    assert statuses(paths)[a] == "审核中"
    for code in items_of(paths, b):
        report(b, code, Status.APPROVED, "2025-03-04T09:00:00+08:00")
        report(b, code, Status.COMPLETED, "2025-03-05T09:00:00+08:00")
    assert statuses(paths)[b] == "已办结"
    assert all(s == "受理" for n, s in statuses(paths).items() if n not in (a, b))


def test_had_status_filters_by_history_not_by_current_status(paths: Paths, case_nos: list[str],
                                                            report: Report) -> None:
    a, b, c = case_nos[2], case_nos[5], case_nos[7]
    report(a, "01", Status.SUPPLEMENT, "2025-03-01T09:00:00+08:00", "缺少身份证复印件")
    report(a, "01", Status.UNDER_REVIEW, "2025-03-02T09:00:00+08:00")  # no longer 补正资料 now
    report(b, "01", Status.UNDER_REVIEW, "2025-03-01T09:00:00+08:00")
    report(c, "01", Status.APPROVED, "2025-03-01T09:00:00+08:00")
    assert statuses(paths, had_status=Status.SUPPLEMENT) == {a: "审核中"}
    assert list(statuses(paths, had_status=Status.UNDER_REVIEW)) == [a, b]  # 办件编号 order
    assert list(statuses(paths, had_status=Status.APPROVED)) == [c]
    assert statuses(paths, had_status=Status.COMPLETED) == {}


def test_overdue_keeps_nothing_before_any_due_date_and_takes_a_predicate(paths: Paths, case_nos: list[str]) -> None:
    assert list_cases(paths.ledger_url, overdue_only=True, today=date(2024, 1, 1)) == []  # before every 受理
    one = case_nos[3]
    chosen = list_cases(paths.ledger_url, overdue_only=True,
                        overdue=lambda item: item.case.case_no == one and item.item_code == "01")
    assert [r.case_no for r in chosen] == [one]


def test_show_gives_items_in_code_order_with_their_history(paths: Paths, case_nos: list[str],
                                                           report: Report) -> None:
    n = case_nos[4]
    codes = items_of(paths, n)
    pushed = codes[-1]  # a department outside HRSS (medical or housing_fund)
    report(n, pushed, Status.ACCEPTED, "2025-03-01T09:00:00+08:00")
    report(n, pushed, Status.SUPPLEMENT, "2025-03-02T10:00:00+08:00", f"请补交材料，联系电话 {PHONE}")
    report(n, pushed, Status.UNDER_REVIEW, "2025-03-03T11:00:00+08:00")
    report(n, "01", Status.APPROVED, "2025-03-04T12:00:00+08:00", "审批通过")

    view = show_case(paths.ledger_url, n).as_dict()
    assert view["case_no"] == n and view["status"] == "审核中"
    assert [i["item_code"] for i in view["items"]] == codes
    by_code = {i["item_code"]: i for i in view["items"]}
    item = by_code[pushed]
    assert item["status"] == "审核中" and item["department"] != "hrss"
    assert [(h["status"], h["at"], h["source"]) for h in item["history"]] == [
        ("受理", "2025-03-01T09:00:00+08:00", item["department"]),
        ("补正资料", "2025-03-02T10:00:00+08:00", item["department"]),
        ("审核中", "2025-03-03T11:00:00+08:00", item["department"]),
    ]
    reasons = [h["reason"] for h in item["history"]]
    assert reasons[0] is None and reasons[2] is None
    assert PHONE not in reasons[1] and "138****5678" in reasons[1] and reasons[1].startswith("请补交材料")
    assert all(h["materials"] == [] for h in item["history"])
    assert by_code["01"]["history"] == [{"status": "审核通过", "at": "2025-03-04T12:00:00+08:00",
                                         "source": "hrss", "reason": "审批通过", "materials": []}]
    silent = [i for c, i in by_code.items() if c not in ("01", pushed)]
    assert silent and all(i["status"] is None and i["history"] == [] for i in silent)
    # HRSS's items are due from the window's 受理; the pushed ones, still waiting for their delivery, are not yet
    assert all((i["due_date"] is None) == (i["department"] != "hrss") for i in view["items"])
    assert all(i["overdue"] is False for i in view["items"] if i["due_date"] is None)


#: naive UTC 2025-09-29 17:30 is 2025-09-30 01:30 in Beijing: the clock starts on the 30th, the day before 国庆
EVE_OF_NATIONAL_DAY = datetime(2025, 9, 29, 17, 30)
#: naive UTC 2026-02-12 16:30 is 2026-02-13 00:30 in Beijing, the Friday before 春节
EVE_OF_SPRING_FESTIVAL = datetime(2026, 2, 12, 16, 30)


def test_an_hrss_item_is_due_from_the_windows_acceptance_in_beijing_working_days(paths: Paths,
                                                                                  case_nos: list[str]) -> None:
    n = case_nos[0]
    set_approved(paths, n, EVE_OF_NATIONAL_DAY)
    on_time = shown(paths, n, today=date(2025, 10, 21))
    # 10 working days after Sep 30: Oct 1–8 off, Oct 9, 10, 11 (调休 Saturday), 13–17, 20, 21; counted from the
    # UTC day (Sep 29) it would be Oct 20
    assert on_time["01"].due_date == "2025-10-21"
    assert on_time["01"].overdue is False and on_time["01"].due_date_estimated is False
    catalog = load_catalog()
    for code, department in departments_of(paths, n).items():
        if department == "hrss":
            limit = catalog.item(code).time_limit_days
            assert on_time[code].due_date == add_working_days(date(2025, 9, 30), limit).isoformat(), code
    assert shown(paths, n, today=date(2025, 10, 22))["01"].overdue is True  # the day after


def test_a_pushed_item_is_due_from_the_day_its_department_took_the_delivery(paths: Paths,
                                                                             case_nos: list[str]) -> None:
    n = case_nos[2]
    pushed = [c for c, d in departments_of(paths, n).items() if d != "hrss"]
    assert pushed
    later = date(2030, 1, 1)  # whenever it is asked, no clock has started
    assert all(shown(paths, n, later)[c].due_date is None and not shown(paths, n, later)[c].overdue for c in pushed)
    take_delivery(paths, n, pushed[0], EVE_OF_SPRING_FESTIVAL, DeliveryState.REFUSED)  # 不予受理: no clock either
    assert shown(paths, n, later)[pushed[0]].due_date is None
    for code in pushed:
        take_delivery(paths, n, code, EVE_OF_SPRING_FESTIVAL)
    # from Fri Feb 13: Sat 14 (调休), 春节 Feb 15–23 off, then 24, 25, 26, 27, Sat 28 (调休), Mar 2 …
    expected = {"11": "2026-02-27", "12": "2026-03-05", "13": "2026-03-05", "14": "2026-02-25"}
    view = shown(paths, n, today=date(2026, 2, 27))
    assert {c: view[c].due_date for c in pushed} == {c: expected[c] for c in pushed}
    assert view["01"].due_date is not None  # HRSS's own item keeps the window's clock
    assert all(view[c].overdue is (expected[c] < "2026-02-27") for c in pushed)


def test_a_final_item_is_never_overdue_and_keeps_its_due_date(paths: Paths, case_nos: list[str],
                                                             report: Report) -> None:
    n = case_nos[1]
    set_approved(paths, n, EVE_OF_NATIONAL_DAY)
    report(n, "01", Status.APPROVED, "2025-10-30T09:00:00+08:00")
    assert shown(paths, n, date(2025, 11, 3))["01"].overdue is True  # 审核通过 is not the end
    report(n, "01", Status.COMPLETED, "2025-11-03T09:00:00+08:00")  # late, but done
    done = shown(paths, n, date(2025, 11, 3))["01"]
    assert done.overdue is False and done.due_date == "2025-10-21"


def test_a_due_date_beyond_the_published_holidays_is_marked_estimated(paths: Paths, case_nos: list[str]) -> None:
    n = case_nos[3]
    set_approved(paths, n, datetime(official_years()[-1], 12, 30, 2))  # 10 working days run into the next year
    item = shown(paths, n, date(official_years()[-1], 12, 30))["01"]
    assert item.due_date is not None and item.due_date.startswith(str(official_years()[-1] + 1))
    assert item.due_date_estimated is True and item.as_dict()["due_date_estimated"] is True


def test_list_overdue_keeps_exactly_the_late_case_and_progress_counts_its_items(paths: Paths, case_nos: list[str],
                                                                                report: Report) -> None:
    today = date(2025, 6, 30)  # a Monday
    for n in case_nos:
        set_approved(paths, n, datetime(2025, 6, 26, 2))  # Thursday: even a 3-day limit runs to Jul 1
    late = case_nos[5]
    set_approved(paths, late, datetime(2025, 3, 3, 2))  # every limit long past by Jun 30
    assert [c.case_no for c in list_cases(paths.ledger_url, overdue_only=True, today=today)] == [late]
    hrss = [c for c, d in departments_of(paths, late).items() if d == "hrss"]
    pushed = [c for c, d in departments_of(paths, late).items() if d != "hrss"]
    assert progress(paths.ledger_url, today=today).overdue_items == len(hrss)  # pushed: not delivered yet

    report(late, "01", Status.APPROVED, "2025-03-10T09:00:00+08:00")
    report(late, "01", Status.COMPLETED, "2025-03-11T09:00:00+08:00")  # final: no longer counted
    take_delivery(paths, late, pushed[0], datetime(2025, 3, 3, 2))  # taken in March: long past due too
    assert progress(paths.ledger_url, today=today).overdue_items == len(hrss) - 1 + 1
    assert [c.case_no for c in list_cases(paths.ledger_url, overdue_only=True, today=today)] == [late]
    assert progress(paths.ledger_url, today=date(2025, 3, 3)).overdue_items == 0  # the day of 受理


def test_show_finds_a_case_however_it_is_typed(paths: Paths, case_nos: list[str]) -> None:
    n = case_nos[0]
    full_width = n.translate({ord(ch): ord(ch) + 0xFEE0 for ch in n})
    for typed in (n.lower(), f"  {n} ", full_width):
        assert show_case(paths.ledger_url, typed).case_no == n


def test_an_unknown_case_is_one_chinese_sentence(paths: Paths, case_nos: list[str]) -> None:
    with pytest.raises(ConfigError, match="台账中没有办件 'BZTX000000000000'"):
        show_case(paths.ledger_url, "bztx000000000000")
    with pytest.raises(ConfigError, match=r"台账中没有办件.*只能包含字母"):
        show_case(paths.ledger_url, "BZ/../1")
    id_shaped = "341622196503150012"
    with pytest.raises(ConfigError, match="疑似身份证号码") as caught:
        show_case(paths.ledger_url, id_shaped)
    assert id_shaped not in str(caught.value)  # never echoed in the clear


def test_a_status_name_outside_the_seven_is_refused_naming_them() -> None:
    assert status_named("审核中") is Status.UNDER_REVIEW
    with pytest.raises(ConfigError) as caught:
        status_named("完成")
    assert "'完成'" in str(caught.value) and all(s.value in str(caught.value) for s in Status)


# -- 补正资料: materials by name, and the applicant's 补正 deadline ------------------------------------------
def supplement(paths: Paths, case_no: str, item_code: str, at: str, materials: tuple[str, ...]) -> bool:
    with session_factory(paths.ledger_url).begin() as s:
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == case_no,
                                                           CaseItem.item_code == item_code)).one()
        return record_status(s, item, Status.SUPPLEMENT, item.department, code=None, reason="请补正资料",
                             changed_at=at, materials=materials)


def test_history_names_the_materials_a_supplement_asks_for_and_a_new_list_is_a_new_event(
        paths: Paths, case_nos: list[str], report: Report) -> None:
    n = case_nos[3]
    report(n, "01", Status.ACCEPTED, "2025-03-03T09:00:00+08:00")
    assert supplement(paths, n, "01", "2025-03-04T09:00:00+08:00", ("M01", "M12"))
    assert not supplement(paths, n, "01", "2025-03-04T10:00:00+08:00", ("M01", "M12"))  # the same again
    assert supplement(paths, n, "01", "2025-03-05T09:00:00+08:00", ("M13",))  # asks for something else now

    history = show_case(paths.ledger_url, n).as_dict()["items"][0]["history"]

    assert [h["materials"] for h in history] == [
        [], ["社会保障卡或身份证（含电子证照）", "申请人人事档案"], ["单位补欠费申报表"]]
    assert set(history[0]) == {"status", "at", "source", "reason", "materials"}  # the shape is unchanged


def test_a_supplement_past_its_deadline_is_overdue_until_the_item_moves_on(
        paths: Paths, case_nos: list[str], report: Report) -> None:
    from lianban.domain.supplements import deadline_days
    from lianban.ledger.time_limits import overdue_items

    n = case_nos[5]
    pushed = items_of(paths, n)[-1]  # its delivery not taken here: no due date of its own, only the 补正 one
    report(n, pushed, Status.ACCEPTED, "2025-03-03T09:00:00+08:00")
    supplement(paths, n, pushed, "2025-03-03T10:00:00+08:00", ("M03",))  # 2025-03-03, a Monday in Beijing
    due = add_working_days(date(2025, 3, 3), deadline_days())
    with session_factory(paths.ledger_url)() as s:
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == n, CaseItem.item_code == pushed)).one()
        assert item.supplement_due == due and item.materials == '["M03"]'

    late = date.fromordinal(due.toordinal() + 1)
    assert shown(paths, n, today=due)[pushed].overdue is False
    assert shown(paths, n, today=late)[pushed].overdue is True and shown(paths, n, today=late)[pushed].due_date is None
    assert n in [c.case_no for c in list_cases(paths.ledger_url, overdue_only=True, today=late)]
    with session_factory(paths.ledger_url)() as s:
        before = overdue_items(s, today=due)
        assert overdue_items(s, today=late) == before + 1
    report(n, pushed, Status.UNDER_REVIEW, "2025-03-10T09:00:00+08:00")  # the materials came: no longer waiting
    assert shown(paths, n, today=late)[pushed].overdue is False


@pytest.mark.parametrize("department", ["hrss", "medical", "housing_fund", "health"])
@pytest.mark.parametrize("accepted", [None, datetime(2026, 12, 1, 16, 30)])
def test_clock_started_says_what_clock_start_would_without_working_the_day_out(department: str,
                                                                             accepted: datetime | None) -> None:
    """The report tells a case's reading final by clock_started: it must agree with clock_start everywhere."""
    from lianban.ledger.time_limits import clock_start, clock_started

    approved = datetime(2026, 11, 30, 17, 0)  # 01:00 the next day in Beijing
    assert clock_started(department, accepted) == (clock_start(department, approved, accepted) is not None)
