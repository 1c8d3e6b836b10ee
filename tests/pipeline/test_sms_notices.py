"""双告知 by SMS against the simulated gateway: each notice once per person × kind × period, across reruns and a
crash between the gateway's acceptance and the ledger's note; failed deliveries sent again, a bounded number of
times, then listed for the operator; quiet hours defer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import requests
import yaml
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from lianban.app.cli import app
from lianban.app.config import Paths
from lianban.crypto.hashing import blind_index
from lianban.domain.sms import TEMPLATES_FILE, TemplateError, load_templates, parse_templates
from lianban.keys.names import INDEX, VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import SmsNotice
from lianban.ledger.store import utcnow
from lianban.pipeline.sms_notices import (
    EXHAUSTED,
    FRESH_REWRITES,
    MAX_SENDS,
    PLANNED_AGAIN,
    READDRESSED,
    another_number,
    collect_receipts,
    key,
    phone_of,
    plan,
    plan_again,
    replan,
    send_due,
    values_of,
)
from lianban.wire.contract import HealthReport
from lianban.wire.sms import DeliveryReceipt, DeliveryState, Outcome, SmsMessage, SmsResult
from simulators.sms import GatewayConfig
from tests.pipeline.sms_kit import Gateway, serving

APP_ID, SECRET = "lianban-notices", "notice-secret"
EMPTY = "13900000000"  # the operator says 空号 for it
OFF = "13900000002"  # the operator says 关机 for it: a failure worth sending again
NOON = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
NIGHT = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # 22:00 in Beijing: quiet hours
VALUES = {"retirement_month": "2027年3月", "statutory_age": "60岁7个月"}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with serving(APP_ID, SECRET, GatewayConfig(failing={EMPTY: "EMPTY_NUMBER", OFF: "POWERED_OFF"})) as gw:
        yield gw


def _plan(paths: Paths, phones: list[str | None]) -> list[bool]:
    vault, index = load_ring(paths.keys_dir, VAULT), load_ring(paths.keys_dir, INDEX).active_key()[1]
    with session_factory(paths.ledger_url).begin() as session:
        return [plan(session, vault, "retirement_reminder", blind_index(index, f"person-{n}"), "2027-03", phone,
                     VALUES) for n, phone in enumerate(phones)]


def _states(paths: Paths) -> list[str]:
    with session_factory(paths.ledger_url)() as session:
        return [n.state for n in session.scalars(select(SmsNotice).order_by(SmsNotice.id))]


def test_each_notice_goes_once_and_a_failed_delivery_is_retried_then_listed(paths: Paths, gateway: Gateway) -> None:
    book = load_templates()
    assert _plan(paths, ["13912345678", OFF, "12345"]) == [True, True, True]
    assert _plan(paths, ["13912345678", OFF, "12345"]) == [False, False, False]  # a rerun plans nothing new
    first = send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
    assert (first.sent, first.invalid) == (2, 1) and _states(paths) == ["sent", "sent", "invalid"]
    assert send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir).sent == 0  # nothing twice
    for _ in range(MAX_SENDS):
        collect_receipts(gateway.connector(NOON), paths.ledger_url)
        send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
    collect_receipts(gateway.connector(NOON), paths.ledger_url)
    assert _states(paths) == ["delivered", "dead", "invalid"]
    sent_to = [m["phone"] for m in gateway.outbox()]
    assert sent_to.count("13912345678") == 1 and sent_to.count(OFF) == MAX_SENDS and "12345" not in sent_to
    listed = CliRunner().invoke(app, ["notices", "list", "--failed", "--json"])
    rows = json.loads(listed.output)
    assert [r["state"] for r in rows] == ["dead", "invalid"] and "关机" in (rows[0]["reason"] or "")
    assert OFF not in listed.output and "12345" not in listed.output


class _Wordy:
    """A gateway refusing every message, and saying every delivery failed, in 100 KB quoting an ID number."""

    words = "号码 341602195501010012 无法接收" + "。" * 100_000

    def send(self, messages: Sequence[SmsMessage]) -> list[SmsResult]:
        return [SmsResult(m.idempotency_key, Outcome.REFUSED, code="X", reason=self.words) for m in messages]

    def receipts(self, message_ids: Sequence[str]) -> list[DeliveryReceipt]:
        return [DeliveryReceipt(i, DeliveryState.FAILED, code="X", reason=self.words) for i in message_ids]


def test_the_gateways_huge_reasons_are_kept_bounded_and_masked(paths: Paths, gateway: Gateway) -> None:
    """The gateway's refusal and its delivery-failure reason were kept whole (masked) in the notice's reason."""
    book = load_templates()
    _plan(paths, ["13912345678", "13912345679"])
    with session_factory(paths.ledger_url).begin() as session:  # the second one goes first, for a receipt
        session.execute(update(SmsNotice).where(SmsNotice.id == 1).values(not_before=utcnow() + timedelta(days=1)))
    assert send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir).sent == 1
    assert collect_receipts(cast(Any, _Wordy()), paths.ledger_url).failed == 1
    with session_factory(paths.ledger_url).begin() as session:  # now the first one, the second held back
        session.execute(update(SmsNotice).values(not_before=utcnow() + timedelta(days=1)))
        session.execute(update(SmsNotice).where(SmsNotice.id == 1).values(not_before=utcnow()))
    assert send_due(cast(Any, _Wordy()), book, paths.ledger_url, paths.keys_dir).dead == 1
    with session_factory(paths.ledger_url)() as session:
        kept = {n.state: n.reason or "" for n in session.scalars(select(SmsNotice))}
    assert set(kept) == {"dead", "failed"}
    for reason in kept.values():
        assert reason.startswith("号码 341602********0012 无法接收") and len(reason) <= 500
        assert reason.endswith("…（已截断）")


def test_a_crash_after_the_gateway_took_it_never_sends_it_twice(paths: Paths, gateway: Gateway) -> None:
    book = load_templates()
    _plan(paths, ["13912345678"])
    with session_factory(paths.ledger_url)() as session:
        notice = session.scalars(select(SmsNotice)).one()
        message_key = key(notice)
    from lianban.wire.sms import compose

    gateway.connector(NOON).send([compose(book, "retirement_reminder", message_key, "13912345678", **VALUES)])
    again = send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)  # the ledger never heard
    assert again.sent == 1 and _states(paths) == ["sent"] and len(gateway.outbox()) == 1


def test_quiet_hours_defer_until_eight_in_the_morning(paths: Paths, gateway: Gateway) -> None:
    _plan(paths, ["13912345678"])
    night = send_due(gateway.connector(NIGHT), load_templates(), paths.ledger_url, paths.keys_dir)
    assert (night.sent, night.deferred) == (0, 1) and gateway.outbox() == []
    with session_factory(paths.ledger_url)() as session:
        not_before = session.scalars(select(SmsNotice.not_before)).one()
    assert not_before == datetime(2026, 12, 3, 0, 0)  # 08:00 Beijing, in the ledger's naive UTC
    with session_factory(paths.ledger_url).begin() as session:  # the morning came
        session.execute(update(SmsNotice).values(not_before=datetime(2026, 1, 1)))
    assert send_due(gateway.connector(NOON), load_templates(), paths.ledger_url, paths.keys_dir).sent == 1


class _Meanwhile:
    """A gateway that lets `meanwhile` run (another run, between our read of the ledger and our write) before
    it sends, and before its receipts come back."""

    def __init__(self, inner: Gateway, meanwhile: Callable[[], None]) -> None:
        self.inner, self.meanwhile = inner.connector(NOON), meanwhile

    def send(self, messages: Sequence[SmsMessage]) -> list[SmsResult]:
        self.meanwhile()
        return self.inner.send(messages)

    def receipts(self, message_ids: Sequence[str]) -> list[DeliveryReceipt]:
        answer = self.inner.receipts(message_ids)
        self.meanwhile()
        return answer

    def health(self) -> HealthReport:
        return self.inner.health()


def test_a_stale_receipt_of_an_earlier_send_never_sends_the_notice_again(paths: Paths, gateway: Gateway) -> None:
    book, phone = load_templates(), "13912345678"
    requests.post(f"{gateway.url}/_sim/config", json={"failing": {phone: "POWERED_OFF"}}, timeout=5)
    _plan(paths, [phone])
    send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)  # 关机: fails

    def another_run() -> None:  # reads the failure too, sends again: this time the phone is on
        requests.post(f"{gateway.url}/_sim/config", json={"failing": {}}, timeout=5)
        collect_receipts(gateway.connector(NOON), paths.ledger_url)
        assert send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir).sent == 1

    collect_receipts(_Meanwhile(gateway, another_run), paths.ledger_url)  # its receipt is of the first send
    send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
    collect_receipts(gateway.connector(NOON), paths.ledger_url)
    assert [m["phone"] for m in gateway.outbox()] == [phone, phone] and _states(paths) == ["delivered"]


def test_a_send_noted_by_another_run_meanwhile_is_not_counted_twice(paths: Paths, gateway: Gateway) -> None:
    book = load_templates()
    _plan(paths, [OFF])

    def another_run() -> None:  # sends the same notice first; ours is then answered duplicate
        assert send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir).sent == 1

    send_due(_Meanwhile(gateway, another_run), book, paths.ledger_url, paths.keys_dir)
    for _ in range(MAX_SENDS):
        collect_receipts(gateway.connector(NOON), paths.ledger_url)
        send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
    assert [m["phone"] for m in gateway.outbox()] == [OFF] * MAX_SENDS and _states(paths) == ["dead"]


def test_a_day_of_more_notices_than_the_gateway_takes_in_a_second_is_sent_whole(paths: Paths,
                                                                                gateway: Gateway) -> None:
    book = load_templates()  # the gateway takes 100 a second, the connector sends batches of 100 back to back
    _plan(paths, [f"1391234{n:04d}" for n in range(150)])
    done = send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
    assert done.stopped_by is None and done.sent == 150
    assert len(gateway.outbox()) == 150 and _states(paths) == ["sent"] * 150


def test_after_a_restore_notices_planned_again_in_another_order_each_reach_their_own_person(
        paths: Paths, gateway: Gateway) -> None:
    book, first, second = load_templates(), "13912345678", "13787654321"
    _plan(paths, [first])  # person-0's notice, row 1
    send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
    vault, index = load_ring(paths.keys_dir, VAULT), load_ring(paths.keys_dir, INDEX).active_key()[1]
    with session_factory(paths.ledger_url).begin() as session:
        session.execute(delete(SmsNotice))  # the ledger restored from a backup taken before: row ids reused
        for person, phone in (("person-1", second), ("person-0", first)):  # planned again, in another order
            plan(session, vault, "retirement_reminder", blind_index(index, person), "2027-03", phone, VALUES)
    send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
    assert sorted(m["phone"] for m in gateway.outbox()) == sorted([first, second])  # each person once


def test_a_notice_whose_receipt_never_comes_is_listed_for_an_operator(paths: Paths, gateway: Gateway) -> None:
    _plan(paths, ["13912345678", "13787654321"])
    send_due(gateway.connector(NOON), load_templates(), paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as session:  # one was sent four days ago, one yesterday
        for notice_id, days in ((1, 4), (2, 1)):
            session.execute(update(SmsNotice).where(SmsNotice.id == notice_id)
                            .values(sent_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)))
    with serving(APP_ID, SECRET, GatewayConfig()) as restarted:  # the gateway forgot every message id
        collect_receipts(restarted.connector(NOON), paths.ledger_url)
    assert _states(paths) == ["dead", "sent"]
    listed = json.loads(CliRunner().invoke(app, ["notices", "list", "--failed", "--json"]).output)
    assert [r["state"] for r in listed] == ["dead"] and "状态报告" in listed[0]["reason"]


def test_a_template_the_hub_cannot_fill_stops_the_run_and_kills_no_notice(paths: Paths, gateway: Gateway) -> None:
    doc = yaml.safe_load(TEMPLATES_FILE.read_text(encoding="utf-8"))
    reworded = doc["templates"]["retirement_reminder"]  # an operator drops the age from the wording
    reworded["text"] = reworded["text"].replace("（{statutory_age}）", "")
    del reworded["placeholders"]["statutory_age"]
    _plan(paths, ["13912345678"])
    with pytest.raises(TemplateError, match="statutory_age"):
        send_due(gateway.connector(NOON), parse_templates(doc, TEMPLATES_FILE), paths.ledger_url, paths.keys_dir)
    assert _states(paths) == ["planned"] and gateway.outbox() == []
    assert send_due(gateway.connector(NOON), load_templates(), paths.ledger_url, paths.keys_dir).sent == 1  # fixed


def test_an_operator_reads_when_a_notice_was_planned_in_beijing_time(paths: Paths) -> None:
    vault, index = load_ring(paths.keys_dir, VAULT), load_ring(paths.keys_dir, INDEX).active_key()[1]
    with session_factory(paths.ledger_url).begin() as session:  # 17:00 UTC: 01:00 the next day in Beijing
        plan(session, vault, "retirement_reminder", blind_index(index, "person-0"), "2027-03", "13912345678", VALUES,
             now=datetime(2026, 12, 2, 17, 0))
    rows = json.loads(CliRunner().invoke(app, ["notices", "list", "--json"]).output)
    assert [r["created_at"] for r in rows] == ["2026-12-03T01:00:00+08:00"]


def test_two_runs_planning_the_same_notice_at_once_write_it_once(paths: Paths, ledger_url: str) -> None:
    """The second run checks while the first run's notice is written but not committed: it waits (SQLite) or
    meets the first's notice at its insert (PostgreSQL), and counts the notice as already planned; before, its
    insert ended the run in a unique-key error."""
    vault, index = load_ring(paths.keys_dir, VAULT), load_ring(paths.keys_dir, INDEX).active_key()[1]
    sessions, person = session_factory(ledger_url), blind_index(index, "person-0")
    planned, started = threading.Event(), threading.Event()
    answers: dict[str, bool | Exception] = {}

    def run(name: str, before: Callable[[], None], after: Callable[[], None]) -> None:
        try:
            before()
            with sessions.begin() as session:
                answers[name] = plan(session, vault, "retirement_reminder", person, "2027-03", "13912345678", VALUES)
                after()
        except Exception as error:  # the assertion below shows it
            answers[name] = error

    first = threading.Thread(target=run, args=("first", lambda: None,
                                               lambda: (planned.set(), started.wait(5), time.sleep(0.5))))
    second = threading.Thread(target=run, args=("second", lambda: (planned.wait(5), started.set()), lambda: None))
    for thread in (first, second):
        thread.start()
    for thread in (first, second):
        thread.join(30)
    assert answers == {"first": True, "second": False}
    with sessions() as session:
        assert len(session.scalars(select(SmsNotice)).all()) == 1


def test_a_notice_whose_seal_cannot_be_opened_is_dead_with_a_chinese_reason(paths: Paths, gateway: Gateway) -> None:
    """Its envelope sealed under a key retired since (stood in for by an unknown key id): the operator's list says
    why in Chinese, not the crypto layer's English ("envelope key id unknown")."""
    _plan(paths, ["13912345678"])
    with session_factory(paths.ledger_url).begin() as session:
        n = session.scalars(select(SmsNotice)).one()
        n.sealed = json.dumps({**json.loads(n.sealed), "kid": "retired-key"})
    assert send_due(gateway.connector(NOON), load_templates(), paths.ledger_url, paths.keys_dir).dead == 1
    listed = json.loads(CliRunner().invoke(app, ["notices", "list", "--failed", "--json"]).output)
    assert listed[0]["state"] == "dead" and listed[0]["reason"] == "无法生成短信：密钥标识无效或已停用，无法解密"


@pytest.mark.parametrize("config", [GatewayConfig(signatures=("【亳州市人社局】",)), GatewayConfig(max_chars=100)])
def test_a_gateway_refusing_every_message_for_its_own_setup_kills_no_notice(paths: Paths,
                                                                             config: GatewayConfig) -> None:
    """The gateway refuses each message SIGNATURE (our 签名 is not the one registered with it) or TOO_LONG (its
    limit is below templates.yaml's max_chars): the hub's setup, not the notice, is at fault, as a template the hub
    cannot fill is. Every notice of the run went dead for good (nothing requeues a notice); now the run stops
    saying why and the notices go once the setup is fixed."""
    book = load_templates()
    _plan(paths, ["13912345678", "13912345679"])
    with serving(APP_ID, SECRET, config) as wrong:
        refused = send_due(wrong.connector(NOON), book, paths.ledger_url, paths.keys_dir)
        assert (refused.sent, refused.dead) == (0, 0) and refused.stopped_by and wrong.outbox() == []
    assert _states(paths) == ["planned", "planned"]
    with serving(APP_ID, SECRET, GatewayConfig()) as fixed:
        assert send_due(fixed.connector(NOON), book, paths.ledger_url, paths.keys_dir).sent == 2


def test_a_person_who_refuses_our_messages_is_not_sent_the_notice_again(paths: Paths) -> None:
    """The operator's receipt says 用户拒收 (REJECTED): the person has refused our messages, and a message they
    refused must not be sent to them again (通信短信息服务管理规定). It was sent again, MAX_SENDS times in all, as a
    phone switched off is; now the notice is dead at once, for an operator, with the reason."""
    book, refusing = load_templates(), "13900000001"
    _plan(paths, [refusing])
    with serving(APP_ID, SECRET, GatewayConfig(failing={refusing: "REJECTED"})) as gw:
        for _ in range(MAX_SENDS):
            send_due(gw.connector(NOON), book, paths.ledger_url, paths.keys_dir)
            collect_receipts(gw.connector(NOON), paths.ledger_url)
        assert [m["phone"] for m in gw.outbox()] == [refusing]
    with session_factory(paths.ledger_url)() as session:
        n = session.scalars(select(SmsNotice)).one()
    assert (n.state, n.attempts) == ("dead", 1) and "用户拒收" in (n.reason or "")


def test_only_a_notice_dead_for_want_of_sends_may_go_to_another_number(paths: Paths, gateway: Gateway) -> None:
    """Two notices fail their first sends (关机); at the last send one is still off, the other's person refuses our
    messages (用户拒收). Both are dead; only the first never reached anyone for want of sends: it may go to the
    person's new number (saying so to the operator), the refused one may not."""
    book, vault, refusing, new = load_templates(), load_ring(paths.keys_dir, VAULT), "13900000001", "13900000003"
    _plan(paths, [OFF, refusing])
    requests.post(f"{gateway.url}/_sim/config", json={"failing": {OFF: "POWERED_OFF", refusing: "POWERED_OFF"}},
                  timeout=5)
    for send in range(MAX_SENDS):
        if send == MAX_SENDS - 1:
            requests.post(f"{gateway.url}/_sim/config", json={"failing": {OFF: "POWERED_OFF", refusing: "REJECTED"}},
                          timeout=5)
        send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
        collect_receipts(gateway.connector(NOON), paths.ledger_url)
    with session_factory(paths.ledger_url)() as session:
        off, refused = session.scalars(select(SmsNotice).order_by(SmsNotice.id)).all()
        assert (off.state, refused.state, off.attempts, refused.attempts) == ("dead", "dead", MAX_SENDS, MAX_SENDS)
        assert (off.reason or "").startswith(EXHAUSTED) and "关机" in (off.reason or "")
        assert not (refused.reason or "").startswith(EXHAUSTED) and "用户拒收" in (refused.reason or "")
        assert (another_number(vault, off, new), another_number(vault, refused, new)) == (True, False)
        assert another_number(vault, off, OFF) is False  # the same number: no


def test_a_number_that_does_not_exist_is_not_sent_to_again(paths: Paths, gateway: Gateway) -> None:
    """The operator's receipt says 空号 (EMPTY_NUMBER): the number does not exist. It was sent again, MAX_SENDS
    times in all, as a phone switched off is; now the notice is invalid at once (号码无效, like a notice without
    a valid number), and the operator's list says in Chinese to have the number corrected."""
    book = load_templates()
    _plan(paths, [EMPTY])
    for _ in range(MAX_SENDS):
        send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
        collect_receipts(gateway.connector(NOON), paths.ledger_url)
    assert [m["phone"] for m in gateway.outbox()] == [EMPTY] and _states(paths) == ["invalid"]
    listed = CliRunner().invoke(app, ["notices", "list", "--failed", "--json"])
    reason = json.loads(listed.output)[0]["reason"] or ""
    assert "空号" in reason and "更正" in reason and EMPTY not in listed.output


def test_a_notice_out_of_sends_at_a_dead_number_goes_to_the_corrected_one(paths: Paths, gateway: Gateway) -> None:
    """A notice whose last allowed send drew 空号 is invalid with MAX_SENDS sends made. Planned again for another
    number it sat planned for ever (a send takes only notices with sends left), listed nowhere; then it was kept
    invalid, and the corrected number never heard. Now the corrected number gets sends of its own: the notice is
    planned again, sent there and delivered, never left in a state no send takes."""
    vault, corrected = load_ring(paths.keys_dir, VAULT), "13912345678"
    _plan(paths, [EMPTY])
    with session_factory(paths.ledger_url).begin() as session:
        n = session.scalars(select(SmsNotice)).one()
        n.state, n.attempts, n.reason = "invalid", MAX_SENDS, "空号"
    with session_factory(paths.ledger_url).begin() as session:
        n = session.scalars(select(SmsNotice)).one()
        assert another_number(vault, n, corrected) and not another_number(vault, n, EMPTY)
        assert plan_again(session, vault, n, n.kind, corrected, VALUES) == PLANNED_AGAIN
    assert send_due(gateway.connector(NOON), load_templates(), paths.ledger_url, paths.keys_dir).sent == 1
    collect_receipts(gateway.connector(NOON), paths.ledger_url)
    assert [m["phone"] for m in gateway.outbox()] == [corrected] and _states(paths) == ["delivered"]


def test_a_notice_moved_to_a_new_number_has_its_sends_there_afresh(paths: Paths, gateway: Gateway) -> None:
    """A notice that used all but one of its sends on a wrong number (关机 each time) was moved to the person's
    new number keeping the sends it had used: the new number, off for a day, got one try and the notice was
    dead. Now the new number gets MAX_SENDS sends of its own, as any notice does; the old number got no more.
    The operator's list shows it 待发送 with no reason (the old number's 关机, 送达失败待重发, told of a number it no
    longer goes to) and the sends it took in all, those at the new number apart (it showed 0 sends in all)."""
    book, vault, new = load_templates(), load_ring(paths.keys_dir, VAULT), "13900000003"
    requests.post(f"{gateway.url}/_sim/config", json={"failing": {OFF: "POWERED_OFF", new: "POWERED_OFF"}},
                  timeout=5)
    _plan(paths, [OFF])
    for _ in range(MAX_SENDS - 1):
        send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
        collect_receipts(gateway.connector(NOON), paths.ledger_url)
    with session_factory(paths.ledger_url).begin() as session:
        n = session.scalars(select(SmsNotice)).one()
        assert plan_again(session, vault, n, n.kind, new, VALUES) == READDRESSED
    listed = json.loads(CliRunner().invoke(app, ["notices", "list", "--json"]).output)
    assert [(r["state"], r["sends"], r["sends_here"], r["reason"]) for r in listed] == [
        ("planned", MAX_SENDS - 1, 0, None)]
    assert f"{MAX_SENDS - 1}（本轮 0/{MAX_SENDS}）" in CliRunner().invoke(app, ["notices", "list"]).output
    for _ in range(MAX_SENDS + 1):
        send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
        collect_receipts(gateway.connector(NOON), paths.ledger_url)
    sent = [m["phone"] for m in gateway.outbox()]
    assert (sent.count(OFF), sent.count(new)) == (MAX_SENDS - 1, MAX_SENDS) and _states(paths) == ["dead"]
    listed = json.loads(CliRunner().invoke(app, ["notices", "list", "--json"]).output)
    assert [(r["sends"], r["sends_here"]) for r in listed] == [(len(sent), MAX_SENDS)]  # as many as the gateway took


def _taken_then_crashed(paths: Paths, gateway: Gateway) -> tuple[str, str]:
    """The gateway takes the one notice's current version, and the run crashes before the ledger notes it; the
    notice's phone and text, as the gateway took them."""
    from lianban.wire.sms import compose

    vault = load_ring(paths.keys_dir, VAULT)
    with session_factory(paths.ledger_url)() as session:
        n = session.scalars(select(SmsNotice)).one()
        phone, values = phone_of(vault, n), values_of(vault, n) or {}
        message = compose(load_templates(), n.kind, key(n), phone, **values)
    assert gateway.connector(NOON).send([message])[0].outcome is Outcome.ACCEPTED
    return phone or "", message.text


@pytest.mark.parametrize("change", ["readdressed", "replanned"])
def test_a_notice_rewritten_after_a_crash_is_sent_as_rewritten(paths: Paths, gateway: Gateway, change: str) -> None:
    """The gateway took a notice, the run crashed before the ledger noted it, then the notice was rewritten: moved
    to the person's new number, or told new values (重新核定). It kept its idempotency key: the gateway answered
    duplicate, the person heard the old version only (at the old number, or the old amount) and never the new
    one. Now a rewritten notice is another version, under another key, and goes as rewritten; a crash after the
    gateway took the new version still sends it once."""
    book, vault, old, new = load_templates(), load_ring(paths.keys_dir, VAULT), "13912345678", "13787654321"
    _plan(paths, [old])
    first = _taken_then_crashed(paths, gateway)
    with session_factory(paths.ledger_url).begin() as session:
        n = session.scalars(select(SmsNotice)).one()
        if change == "readdressed":
            assert plan_again(session, vault, n, n.kind, new, VALUES) == READDRESSED
        else:
            replan(vault, n, n.kind, old, {**VALUES, "statutory_age": "63岁"})
    second = _taken_then_crashed(paths, gateway)  # the new version taken, and the run crashes again
    assert send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir).sent == 1
    sent = [(m["phone"], m["text"]) for m in gateway.outbox()]
    assert sent == [first, second] and first != second and _states(paths) == ["sent"]
    assert (new if change == "readdressed" else "63岁") in "".join(second)


def test_a_notice_moved_while_its_send_is_on_the_wire_still_goes_to_the_new_number(paths: Paths,
                                                                                    gateway: Gateway) -> None:
    """Another run moved the notice to the person's new number while ours was sending it to the old one: our
    answer was noted against the moved notice (sent), and the new number never heard. Now the answer of a
    version no longer to go is not noted; the next run sends the moved notice to the new number."""
    book, vault, old, new = load_templates(), load_ring(paths.keys_dir, VAULT), "13912345678", "13787654321"
    _plan(paths, [old])

    def another_run() -> None:  # HRSS recorded the person's new number: the notice moves there
        with session_factory(paths.ledger_url).begin() as session:
            n = session.scalars(select(SmsNotice)).one()
            assert plan_again(session, vault, n, n.kind, new, VALUES) == READDRESSED

    assert send_due(_Meanwhile(gateway, another_run), book, paths.ledger_url, paths.keys_dir).sent == 0
    assert send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir).sent == 1
    assert [m["phone"] for m in gateway.outbox()] == [old, new] and _states(paths) == ["sent"]
    listed = json.loads(CliRunner().invoke(app, ["notices", "list", "--json"]).output)
    assert [(r["sends"], r["sends_here"]) for r in listed] == [(2, 1)]  # the old number's message counted too


def test_a_notice_moved_to_and_fro_between_two_failing_numbers_is_sent_a_bounded_number_of_times(
        paths: Paths, gateway: Gateway) -> None:
    """A person listed twice, with two numbers, both switched off: each run moved the notice to one number, then
    the other, and each move started its sends afresh: one SMS a day, for ever. Now only the first FRESH_REWRITES
    moves start afresh; the notice runs out of sends and is dead, for an operator."""
    book, vault, other = load_templates(), load_ring(paths.keys_dir, VAULT), "13900000003"
    requests.post(f"{gateway.url}/_sim/config", json={"failing": {OFF: "POWERED_OFF", other: "POWERED_OFF"}},
                  timeout=5)
    _plan(paths, [OFF])
    for day in range(20):
        send_due(gateway.connector(NOON), book, paths.ledger_url, paths.keys_dir)
        collect_receipts(gateway.connector(NOON), paths.ledger_url)
        with session_factory(paths.ledger_url).begin() as session:
            n = session.scalars(select(SmsNotice)).one()
            if another_number(vault, n, (other, OFF)[day % 2]):
                plan_again(session, vault, n, n.kind, (other, OFF)[day % 2], VALUES)
    assert len(gateway.outbox()) <= MAX_SENDS * (FRESH_REWRITES + 1) and _states(paths) == ["dead"]
