"""到龄提醒 end to end on a synthetic register: the real SMS simulator, a real SQLite ledger, the connector's clock
injected. Exactly the right people get exactly one reminder — the expected set brute-forced here from birth month
and category with the reform engine — none during quiet hours, none on a rerun."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from connectors.hrss.frontend import FrontendDB
from connectors.hrss.register import REGISTER_COLUMNS, register
from lianban.app.config import Paths
from lianban.domain.identity import phone_problem
from lianban.domain.retirement import Category, minimum_contribution_months, retirement_month
from lianban.domain.sms import load_templates
from lianban.ledger.db import session_factory
from lianban.ledger.models import SmsNotice
from lianban.pipeline.reminders import plan_reminders
from lianban.pipeline.sms_notices import MAX_SENDS, collect_receipts, listed, send_due
from simulators.register import generate_register
from simulators.sms import GatewayConfig
from tests.pipeline.sms_kit import Gateway, serving

APP_ID, SECRET = "lianban-reminders", "reminder-secret"
TODAY = date(2026, 11, 20)
NIGHT = datetime(2026, 11, 19, 14, 30, tzinfo=UTC)  # 22:30 Beijing, quiet hours (and before the morning below)
MORNING = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 Beijing
CATEGORY = {"60": Category.MALE, "55": Category.FEMALE55, "50": Category.FEMALE50}
PEOPLE = 600


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with serving(APP_ID, SECRET, GatewayConfig(rate_limit=1000)) as gw:
        yield gw


@pytest.fixture
def people(paths: Paths) -> list[dict[str, Any]]:
    people = list(generate_register(PEOPLE, TODAY, seed=7))
    FrontendDB(paths.frontend_url).register.insert_people(people, chunk=100)
    return people


def expected(people: list[dict[str, Any]], months: int = 3) -> dict[str, tuple[str, bool]]:
    """ID number → (retirement month as the SMS says it, short of the minimum?) of everyone due, brute force."""
    due = {}
    for p in people:
        if p["insured_status"] not in ("1", "2"):
            continue
        year, month = (int(x) for x in p["birth_month"].split("-"))
        ry, rm = retirement_month(CATEGORY[p["original_age"]], year, month)
        ahead = (ry - TODAY.year) * 12 + rm - TODAY.month
        if 0 <= ahead <= months:
            due[p["id_number"]] = (f"{ry}年{rm}月", p["contribution_months"] < minimum_contribution_months(ry))
    return due


def _valid(phone: str | None) -> bool:
    return bool(phone) and phone_problem(phone or "") is None


def test_exactly_the_people_due_get_one_reminder_none_at_night_none_on_a_rerun(
        paths: Paths, gateway: Gateway, people: list[dict[str, Any]]) -> None:
    due, by_id = expected(people), {p["id_number"]: p for p in people}
    reachable = {n for n in due if _valid(by_id[n]["phone"])}
    assert len(due) > 10 and len(reachable) < len(due) and any(short for _, short in due.values())  # the test bites
    planned = plan_reminders(FrontendDB(paths.frontend_url).register, paths.ledger_url, paths.keys_dir, TODAY, chunk=50)
    assert (planned.planned, planned.due, planned.already) == (len(due), len(due), 0)
    assert planned.read == sum(p["insured_status"] in ("1", "2") for p in people)  # every chunk read, 终止 not

    book = load_templates()
    night = send_due(gateway.connector(NIGHT), book, paths.ledger_url, paths.keys_dir)
    assert (night.sent, night.deferred, night.invalid) == (0, len(reachable), len(due) - len(reachable))
    assert gateway.outbox() == []  # quiet hours: nothing went out
    morning = send_due(gateway.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
    assert morning.sent == len(reachable)

    sent = gateway.outbox()
    assert sorted(m["phone"] for m in sent) == sorted(by_id[n]["phone"] for n in reachable)  # each one once
    for n in reachable:
        text = next(m["text"] for m in sent if m["phone"] == by_id[n]["phone"])
        month, short = due[n]
        assert f"您将于{month}达到法定退休年龄" in text and ("尚未达到" in text) is short

    again = plan_reminders(FrontendDB(paths.frontend_url).register, paths.ledger_url, paths.keys_dir, TODAY)
    assert (again.planned, again.already) == (0, len(due))
    assert send_due(gateway.connector(MORNING), book, paths.ledger_url, paths.keys_dir).sent == 0
    assert len(gateway.outbox()) == len(reachable)
    invalid = [n for n in listed(paths.ledger_url, ("invalid",))]
    assert len(invalid) == len(due) - len(reachable) and all(n.reason for n in invalid)


def test_reaching_the_minimum_between_two_runs_sends_no_second_reminder(
        paths: Paths, people: list[dict[str, Any]]) -> None:
    short = [n for n, (_, s) in expected(people).items() if s]
    source = FrontendDB(paths.frontend_url)
    plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
    with source.engine.begin() as conn:  # HRSS records the missing contributions
        conn.execute(update(register).where(register.c[REGISTER_COLUMNS["id_number"]].in_(short))
                     .values({REGISTER_COLUMNS["contribution_months"]: 400}))
    again = plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
    assert short and again.planned == 0 and again.already == len(expected(people))


def test_the_window_is_configurable_and_a_later_day_reminds_only_the_newly_due(
        paths: Paths, people: list[dict[str, Any]]) -> None:
    source = FrontendDB(paths.frontend_url).register
    wide = plan_reminders(source, paths.ledger_url, paths.keys_dir, TODAY, months=6)
    assert wide.planned == len(expected(people, months=6)) > len(expected(people))
    later = plan_reminders(source, paths.ledger_url, paths.keys_dir, date(2027, 2, 1), months=6)
    assert later.already > 0 and later.planned > 0  # overlapping windows: the overlap is not reminded again


def test_a_phone_number_hrss_corrects_later_gets_the_reminder_once(
        paths: Paths, gateway: Gateway, people: list[dict[str, Any]]) -> None:
    due, by_id = expected(people), {p["id_number"]: p for p in people}
    unreachable = sorted(n for n in due if not _valid(by_id[n]["phone"]))
    source, book = FrontendDB(paths.frontend_url), load_templates()
    plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
    assert send_due(gateway.connector(MORNING), book, paths.ledger_url, paths.keys_dir).invalid == len(unreachable)
    fixed = {n: f"1370000{i:04d}" for i, n in enumerate(unreachable)}
    with source.engine.begin() as conn:  # HRSS records their mobile numbers
        for number, phone in fixed.items():
            conn.execute(update(register).where(register.c[REGISTER_COLUMNS["id_number"]] == number)
                         .values({REGISTER_COLUMNS["phone"]: phone}))
    again = plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
    assert unreachable and (again.planned, again.already) == (len(fixed), len(due) - len(fixed))
    send_due(gateway.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
    assert sorted(m["phone"] for m in gateway.outbox() if m["phone"].startswith("1370000")) == sorted(fixed.values())
    assert plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY).planned == 0
    assert listed(paths.ledger_url, ("invalid",)) == []


def test_a_reminder_another_run_planned_meanwhile_is_counted_as_already_planned(
        paths: Paths, people: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run writes the reminders between this run's read of what the ledger holds and its own planning
    (stood in for by a read that finds nothing): they are counted as already planned, not planned a second
    time."""
    from lianban.pipeline import reminders

    source = FrontendDB(paths.frontend_url)
    first = plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
    monkeypatch.setattr(reminders, "_reminded", lambda session, indexes: (set(), {}))
    again = plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
    assert first.planned and (again.planned, again.already) == (0, first.planned)


def test_a_person_who_already_applied_is_not_told_to_apply(paths: Paths, people: list[dict[str, Any]]) -> None:
    """Someone whose 退休一件事 application the ledger already holds (an approved case: flexible early, or applied
    before the register caught up) is not sent 到龄提醒's "届时请…申请": counted applied, nothing planned."""
    from lianban.crypto.hashing import blind_index
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Case
    from lianban.pipeline.reminders import notice_keys

    due, index = sorted(expected(people)), notice_keys(paths.keys_dir).index
    applied = due[:3]
    with session_factory(paths.ledger_url).begin() as session:
        session.add_all(Case(case_no=f"LB-TEST-{i}", source_seq=i, id_index=blind_index(index, number),
                             region_code="341602", approved_at=datetime(2026, 11, 1), staged_at=datetime(2026, 11, 2))
                        for i, number in enumerate(applied))
    result = plan_reminders(FrontendDB(paths.frontend_url).register, paths.ledger_url, paths.keys_dir, TODAY)
    assert (result.due, result.applied, result.planned) == (len(due), len(applied), len(due) - len(applied))
    assert len(listed(paths.ledger_url)) == len(due) - len(applied)


def test_a_reminder_another_run_replanned_and_sent_meanwhile_is_not_replanned_again(
        paths: Paths, gateway: Gateway, people: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """HRSS records a mobile number for people whose reminder never went (invalid). Another run replans and sends
    those reminders between this run's read of what the ledger holds and its own replanning (stood in for by a
    write right after the read): this run set them planned again over the send, so the next send went under
    the next key, a second SMS to each; now it finds them sent and leaves them."""
    from lianban.pipeline import reminders

    due, by_id = expected(people), {p["id_number"]: p for p in people}
    unreachable = sorted(n for n in due if not _valid(by_id[n]["phone"]))
    source, book = FrontendDB(paths.frontend_url), load_templates()
    plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
    send_due(gateway.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
    with source.engine.begin() as conn:
        for i, number in enumerate(unreachable):
            conn.execute(update(register).where(register.c[REGISTER_COLUMNS["id_number"]] == number)
                         .values({REGISTER_COLUMNS["phone"]: f"1370000{i:04d}"}))
    read = reminders._reminded

    def read_then_another_run_sends(session: Any, indexes: Any) -> Any:
        found = read(session, indexes)
        with session_factory(paths.ledger_url).begin() as other:
            other.execute(update(SmsNotice).where(SmsNotice.state == "invalid")
                          .values(state="sent", attempts=1, message_id="SM-other-run", reason=None))
        return found

    monkeypatch.setattr(reminders, "_reminded", read_then_another_run_sends)
    again = plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
    with session_factory(paths.ledger_url)() as session:
        states = list(session.scalars(select(SmsNotice.state).where(SmsNotice.message_id == "SM-other-run")))
    assert unreachable and again.planned == 0 and states == ["sent"] * len(unreachable)


def test_a_reminder_to_a_number_that_does_not_exist_goes_again_only_to_another_number(
        paths: Paths, people: list[dict[str, Any]]) -> None:
    """The operator says 空号 for a person's number: the reminder is not sent to it again, run after run (it was,
    as a phone switched off is, MAX_SENDS times); once HRSS records another number, it goes there, once."""
    due, by_id = expected(people), {p["id_number"]: p for p in people}
    number = sorted(n for n in due if _valid(by_id[n]["phone"]))[0]
    empty, corrected = by_id[number]["phone"], "13700009999"
    source, book = FrontendDB(paths.frontend_url), load_templates()
    with serving(APP_ID, SECRET, GatewayConfig(rate_limit=1000, failing={empty: "EMPTY_NUMBER"})) as gw:
        for _ in range(3):  # day after day, the register unchanged
            plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
            send_due(gw.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
            collect_receipts(gw.connector(MORNING), paths.ledger_url)
        assert [m["phone"] for m in gw.outbox()].count(empty) == 1
        with source.engine.begin() as conn:  # HRSS records the person's new number
            conn.execute(update(register).where(register.c[REGISTER_COLUMNS["id_number"]] == number)
                         .values({REGISTER_COLUMNS["phone"]: corrected}))
        for _ in range(2):
            plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
            send_due(gw.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
            collect_receipts(gw.connector(MORNING), paths.ledger_url)
        sent = [m["phone"] for m in gw.outbox()]
    assert (sent.count(empty), sent.count(corrected)) == (1, 1)


def test_a_reminder_still_to_go_goes_to_the_number_the_register_holds_now(
        paths: Paths, people: list[dict[str, Any]]) -> None:
    """A reminder whose delivery failed (关机) is sent again; when HRSS has recorded another number for the person
    meanwhile, it went to the old number all the same (the one sealed when it was planned). Now the day's run
    moves it to the new number, and a reminder not sent yet too; either goes once, to the new number only."""
    due, by_id = expected(people), {p["id_number"]: p for p in people}
    failing, waiting = sorted(n for n in due if _valid(by_id[n]["phone"]))[:2]
    old = by_id[failing]["phone"]
    new = {failing: "13700009998", waiting: "13700009999"}
    source, book = FrontendDB(paths.frontend_url), load_templates()
    with serving(APP_ID, SECRET, GatewayConfig(rate_limit=1000, failing={old: "POWERED_OFF"})) as gw:
        plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
        with session_factory(paths.ledger_url).begin() as session:  # one is held back: not sent yet
            session.execute(update(SmsNotice).where(SmsNotice.person_index == _index(paths, waiting))
                            .values(not_before=datetime(2099, 1, 1)))
        send_due(gw.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
        collect_receipts(gw.connector(MORNING), paths.ledger_url)  # 关机: to be sent again
        with source.engine.begin() as conn:  # HRSS records both people's new numbers
            for number, phone in new.items():
                conn.execute(update(register).where(register.c[REGISTER_COLUMNS["id_number"]] == number)
                             .values({REGISTER_COLUMNS["phone"]: phone}))
        again = plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
        with session_factory(paths.ledger_url).begin() as session:
            session.execute(update(SmsNotice).values(not_before=datetime(2026, 1, 1)))
        send_due(gw.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
        sent = [m["phone"] for m in gw.outbox()]
    assert (sent.count(old), sent.count(new[failing]), sent.count(new[waiting])) == (1, 1, 1)
    assert by_id[waiting]["phone"] not in sent
    assert (again.planned, again.readdressed) == (0, 2)


def _index(paths: Paths, number: str) -> str:
    from lianban.crypto.hashing import blind_index
    from lianban.pipeline.reminders import notice_keys

    return blind_index(notice_keys(paths.keys_dir).index, number)


def test_a_person_the_register_lists_twice_is_reminded_at_the_first_rows_number_run_after_run(
        paths: Paths, people: list[dict[str, Any]]) -> None:
    """HRSS lists one person twice, with two valid numbers, in different chunks: the first row in 序号 order
    decides, so the reminder still to go is not moved from one number to the other and back run after run (each
    move a fresh version with fresh tries); it goes once, to the first row's number."""
    due, by_id = expected(people), {p["id_number"]: p for p in people}
    number = sorted(n for n in due if _valid(by_id[n]["phone"]))[0]
    first, second = by_id[number]["phone"], "13700009997"
    source, book = FrontendDB(paths.frontend_url), load_templates()
    source.register.insert_people([{**by_id[number], "phone": second}])  # a later 序号: another chunk
    runs = []
    for _ in range(3):
        runs.append(plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY, chunk=50))
        with session_factory(paths.ledger_url).begin() as session:  # not sent yet, day after day
            session.execute(update(SmsNotice).values(not_before=datetime(2099, 1, 1)))
    assert [(r.readdressed, r.repeated, r.due) for r in runs] == [(0, 1, len(due))] * 3
    with session_factory(paths.ledger_url).begin() as session:
        session.execute(update(SmsNotice).values(not_before=datetime(2026, 1, 1)))
        mine = SmsNotice.person_index == _index(paths, number)
        versions = set(session.scalars(select(SmsNotice.version).where(mine)))
    with serving(APP_ID, SECRET, GatewayConfig(rate_limit=1000)) as gw:
        send_due(gw.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
        sent = [m["phone"] for m in gw.outbox()]
    assert (sent.count(first), sent.count(second), versions) == (1, 0, {0})  # never moved


def test_a_reminder_that_failed_every_send_goes_once_to_the_number_hrss_records_later(
        paths: Paths, people: list[dict[str, Any]]) -> None:
    """Every send of a reminder failed (停机: a number the person gave up) and it was dead, for an operator; when
    HRSS recorded the person's new number, the reminder stayed dead and the person was never told. Now the day's
    run plans it again for the new number (counted planned), and it goes there once."""
    due, by_id = expected(people), {p["id_number"]: p for p in people}
    number = sorted(n for n in due if _valid(by_id[n]["phone"]))[0]
    old, new = by_id[number]["phone"], "13700009996"
    source, book = FrontendDB(paths.frontend_url), load_templates()
    with serving(APP_ID, SECRET, GatewayConfig(rate_limit=1000, failing={old: "SUSPENDED"})) as gw:
        for _ in range(MAX_SENDS + 1):
            plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY)
            send_due(gw.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
            collect_receipts(gw.connector(MORNING), paths.ledger_url)
        with source.engine.begin() as conn:  # HRSS records the person's new number
            conn.execute(update(register).where(register.c[REGISTER_COLUMNS["id_number"]] == number)
                         .values({REGISTER_COLUMNS["phone"]: new}))
        again = [plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY) for _ in range(2)]
        send_due(gw.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
        sent = [m["phone"] for m in gw.outbox()]
    assert (sent.count(old), sent.count(new)) == (MAX_SENDS, 1)
    assert [r.planned for r in again] == [1, 0]


def test_a_person_whose_first_row_has_no_valid_number_is_reminded_at_their_next_rows(
        paths: Paths, people: list[dict[str, Any]]) -> None:
    """HRSS lists a person twice: the first row's number is malformed, a later row's valid. The first row decided
    for the person, and the reminder never went; now a row without a number the reminder can go to leaves the
    person to their next row: it goes once, to the valid number, and stays there run after run."""
    due, by_id = expected(people), {p["id_number"]: p for p in people}
    number = sorted(n for n in due if _valid(by_id[n]["phone"]))[0]
    source, book, valid = FrontendDB(paths.frontend_url), load_templates(), "13700009995"
    with source.engine.begin() as conn:  # the first row's number malformed
        conn.execute(update(register).where(register.c[REGISTER_COLUMNS["id_number"]] == number)
                     .values({REGISTER_COLUMNS["phone"]: "18947195"}))
    source.register.insert_people([{**by_id[number], "phone": valid}])  # a later 序号: another chunk
    runs = [plan_reminders(source.register, paths.ledger_url, paths.keys_dir, TODAY, chunk=50) for _ in range(3)]
    assert [(r.planned, r.readdressed) for r in runs[1:]] == [(0, 0)] * 2  # settled at the first run
    with serving(APP_ID, SECRET, GatewayConfig(rate_limit=1000)) as gw:
        send_due(gw.connector(MORNING), book, paths.ledger_url, paths.keys_dir)
        sent = [m["phone"] for m in gw.outbox()]
    assert sent.count(valid) == 1 and "18947195" not in sent
