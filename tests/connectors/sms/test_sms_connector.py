"""The SMS connector against the live simulated gateway: what is sent, what is held or reported instead, how
every failure reaches the caller, and that no phone number or text leaks into a log line or an error."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.sms.connector import SmsConnector
from lianban.domain.clock import BEIJING
from lianban.domain.sms import load_templates, segments, sms_length
from lianban.errors import ConfigError, LianbanError, RejectedError, RetriableError
from lianban.wire.settings import parse_connection
from lianban.wire.sms import MESSAGE_ID_MAX, DeliveryState, Outcome, SmsGateway, SmsMessage, compose
from simulators.people import make_id_number
from tests.connectors.sms.conftest import APP_ID, SECRET, LiveGateway

PHONE, EMPTY = "13800001234", "13900000000"
TEMPLATES = load_templates()


def reminder(key: str, phone: str | None = PHONE) -> SmsMessage:
    return compose(TEMPLATES, "retirement_reminder", key, phone, retirement_month="2026年8月",
                   statutory_age="55岁4个月")


def alert(key: str, phone: str = PHONE) -> SmsMessage:
    return compose(TEMPLATES, "incident_opened", key, phone, incident="INC-7", department="住房公积金管理中心",
                   what="接口连续失败", since="12月2日21:05", count=12, runbook="第3.2节")


def shanghai(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 12, 2, hour, minute, second, tzinfo=BEIJING)


def test_the_connector_satisfies_the_gateway_protocol(gateway: LiveGateway) -> None:
    assert isinstance(gateway.connector(), SmsGateway)


def test_rendered_notices_are_sent_and_the_gateway_holds_exactly_their_text(gateway: LiveGateway) -> None:
    messages = [reminder("N1"), reminder("N2", "13700005678")]
    results = gateway.connector().send(messages)

    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert all(r.message_id for r in results)
    assert [(m["phone"], m["text"], m["segments"]) for m in gateway.outbox()] == \
        [(PHONE, messages[0].text, 2), ("13700005678", messages[1].text, 2)]


def test_a_resend_after_a_crash_is_answered_duplicate_and_sent_once(gateway: LiveGateway) -> None:
    (first,) = gateway.connector().send([reminder("N1")])
    (again,) = gateway.connector().send([reminder("N1")])  # a fresh process, the same key

    assert again.outcome is Outcome.DUPLICATE and again.outcome.sent
    assert again.message_id == first.message_id
    assert len(gateway.outbox()) == 1


def test_an_invalid_or_missing_phone_is_reported_in_chinese_and_never_sent(gateway: LiveGateway) -> None:
    full_width = "13８００００１２３４"  # phone_problem alone would take it (\d is Unicode)
    results = gateway.connector().send([reminder("N1", "1380000123"), reminder("N2", None), reminder("N3"),
                                        reminder("N4", full_width)])

    bad, missing, good, wide = results
    assert (bad.outcome, bad.code) == (Outcome.INVALID_PHONE, "PHONE")
    assert bad.reason is not None and "11位手机号码" in bad.reason
    assert (missing.outcome, missing.reason) == (Outcome.INVALID_PHONE, "未登记手机号码，短信未发送")
    assert good.outcome is Outcome.ACCEPTED
    assert (wide.outcome, wide.code) == (Outcome.INVALID_PHONE, "PHONE")
    assert [m["idempotency_key"] for m in gateway.outbox()] == ["N3"]


@pytest.mark.parametrize(("at", "held"), [
    pytest.param(shanghai(20, 59, 59), False, id="20:59:59"),
    pytest.param(shanghai(21), True, id="21:00"),
    pytest.param(shanghai(7, 59, 59), True, id="07:59:59"),
    pytest.param(shanghai(8), False, id="08:00"),
])
def test_notices_wait_out_quiet_hours_while_outage_alerts_go(gateway: LiveGateway, at: datetime,
                                                               held: bool) -> None:
    notice, outage = gateway.connector(at=at.astimezone(UTC)).send([reminder("N1"), alert("A1")])

    assert outage.outcome is Outcome.ACCEPTED
    if held:
        assert (notice.outcome, notice.code) == (Outcome.DEFERRED, "QUIET_HOURS")
        assert notice.not_before is not None
        assert notice.not_before.astimezone(BEIJING).time().isoformat() == "08:00:00"
        assert notice.not_before > at
        assert [m["idempotency_key"] for m in gateway.outbox()] == ["A1"]
    else:
        assert notice.outcome is Outcome.ACCEPTED


def test_a_long_send_that_runs_into_quiet_hours_holds_the_notices_not_yet_sent(gateway: LiveGateway) -> None:
    """Quiet hours were judged once, at the start of a send: a send of many batches begun at 20:59 went on
    texting people after 21:00. Now each batch is screened as it goes: the notices still to send at 21:00 are
    deferred to 08:00, the outage alert among them goes all the same."""
    ticks = iter(range(100))  # the clock moves a minute each time the connector reads it, from 20:58

    def clock() -> datetime:
        return shanghai(20, 58).astimezone(UTC) + timedelta(minutes=next(ticks))

    connector = SmsConnector(gateway.url, gateway.connector().client.session, batch_size=2, clock=clock)
    results = connector.send([reminder("N1"), reminder("N2"), reminder("N3"), alert("A1")])

    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED, Outcome.DEFERRED, Outcome.ACCEPTED]
    assert results[2].not_before == datetime(2025, 12, 3, 8, 0, tzinfo=BEIJING)
    assert [m["idempotency_key"] for m in gateway.outbox()] == ["N1", "N2", "A1"]


def test_an_id_number_in_the_text_never_leaves_the_hub(gateway: LiveGateway) -> None:
    id_number = make_id_number("341602", date(1965, 3, 1), 7, male=True)
    smuggled = SmsMessage("N1", PHONE, f"【亳州人社】您的证件{id_number}已登记。", "retirement_reminder")

    (result,) = gateway.connector().send([smuggled])

    assert (result.outcome, result.code) == (Outcome.REFUSED, "ID_NUMBER")
    assert gateway.outbox() == []


def test_a_message_the_gateway_refuses_comes_back_refused_with_its_code_and_reason(
        start: Callable[..., LiveGateway]) -> None:
    gateway = start(max_chars=100)
    unsigned = SmsMessage("N2", PHONE, "尊敬的参保职工：您好。", "retirement_reminder")

    too_long, no_signature = gateway.connector().send([reminder("N1"), unsigned])

    assert (too_long.outcome, too_long.code) == (Outcome.REFUSED, "TOO_LONG")
    assert too_long.reason == "短信内容超过网关长度上限"
    assert (no_signature.code, no_signature.outcome.sent) == ("SIGNATURE", False)


def test_messages_go_in_batches_and_results_keep_their_order(gateway: LiveGateway) -> None:
    messages = [reminder(f"N{i}", f"1380000{i:04d}") if i % 3 else reminder(f"N{i}", "bad") for i in range(7)]

    results = gateway.connector(batch_size=2).send(messages)

    assert [r.idempotency_key for r in results] == [m.idempotency_key for m in messages]
    assert [r.outcome for r in results].count(Outcome.ACCEPTED) == 4
    assert len(gateway.outbox()) == 4


def test_a_lasting_429_becomes_a_retriable_error_with_retry_after_and_a_repeat_sends_nothing_twice(
        start: Callable[..., LiveGateway]) -> None:
    gateway = start(rate_limit=1)
    messages = [reminder("N1"), reminder("N2", "13700005678")]

    with pytest.raises(RetriableError) as throttled:
        gateway.connector(batch_size=1).send(messages)
    assert throttled.value.retry_after == 1.0
    assert "HTTP 429" in str(throttled.value)

    assert [m["idempotency_key"] for m in gateway.outbox()] == ["N1"]  # the first batch went out

    gateway.clock.now += 1
    assert [r.outcome for r in gateway.connector(batch_size=1).send(messages[:1])] == [Outcome.DUPLICATE]
    gateway.clock.now += 1
    assert [r.outcome for r in gateway.connector(batch_size=1).send(messages[1:])] == [Outcome.ACCEPTED]
    assert [m["idempotency_key"] for m in gateway.outbox()] == ["N1", "N2"]


def test_a_throttled_batch_is_sent_again_after_the_wait_the_gateway_asks(start: Callable[..., LiveGateway]) -> None:
    gateway = start(rate_limit=1)
    messages = [reminder("N1"), reminder("N2", "13700005678")]

    results = gateway.connector(batch_size=1, waits=True).send(messages)

    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert [m["idempotency_key"] for m in gateway.outbox()] == ["N1", "N2"]


def test_a_failing_numbers_receipt_says_failed_with_the_operators_reason(start: Callable[..., LiveGateway]) -> None:
    gateway = start(failing={EMPTY: "EMPTY_NUMBER"}, delivery_seconds=60)
    connector = gateway.connector()
    ok, empty = (r.message_id or "" for r in connector.send([reminder("N1"), reminder("N2", EMPTY)]))

    assert [r.state for r in connector.receipts([ok, empty])] == [DeliveryState.PENDING] * 2

    gateway.clock.now += 60
    delivered, failed = connector.receipts([ok, empty, "SM-never-issued"])
    assert delivered.state is DeliveryState.DELIVERED and delivered.state.is_terminal()
    assert (failed.state, failed.code, failed.reason) == (DeliveryState.FAILED, "EMPTY_NUMBER", "空号")


@pytest.mark.parametrize("secret", [None, "wrong"], ids=["unsigned", "wrong-secret"])
def test_an_unsigned_or_wrongly_signed_connector_gets_a_config_error(gateway: LiveGateway, secret: str | None) -> None:
    with pytest.raises(ConfigError, match="网关认证失败（HTTP 401"):
        gateway.connector(secret=secret).send([reminder("N1")])
    report = gateway.connector(secret="wrong").health()
    assert not report.ok and "app id" in report.detail
    assert gateway.outbox() == []


def test_health_says_reachable_and_signed(gateway: LiveGateway) -> None:
    report = gateway.connector().health()
    assert report.ok and "签名认证通过" in report.detail


def test_built_from_its_connection_settings_it_signs_and_sends(gateway: LiveGateway) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    settings = parse_connection("sms", {"host": host, "port": port, "schema": "http", "login": APP_ID,
                                        "password": SECRET, "extra": {"batch_size": 5}})
    connector = SmsConnector.from_settings(settings)

    assert connector.batch_size == 5
    assert connector.health().ok
    with pytest.raises(ConfigError, match="dept_sms"):
        SmsConnector.from_settings(parse_connection("sms", {"host": host, "port": port}))


def test_a_gateway_server_error_and_a_timeout_are_retriable(start: Callable[..., LiveGateway]) -> None:
    with pytest.raises(RetriableError, match="HTTP 500"):
        start(faults="error_rate=1.0").connector().send([reminder("N1")])
    with pytest.raises(RetriableError, match="超时"):
        start(faults="latency=1.0").connector(read_timeout=0.3).send([reminder("N1")])


def test_a_request_refused_whole_is_a_rejected_error(start: Callable[..., LiveGateway]) -> None:
    with pytest.raises(RejectedError) as refused:
        start(rate_limit=1).connector(batch_size=2).send([reminder("N1"), reminder("N2")])
    assert refused.value.code == "BATCH_TOO_LARGE"


def test_no_phone_number_or_text_in_any_log_line_or_error(start: Callable[..., LiveGateway],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    gateway = start(rate_limit=2, failing={EMPTY: "EMPTY_NUMBER"})
    messages = [reminder("N1"), reminder("N2", EMPTY), reminder("N3", "1380000123")]
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        results = gateway.connector().send(messages)
        connector = gateway.connector()
        connector.receipts([r.message_id for r in results if r.message_id])
        for failing in (lambda: connector.send([reminder("N4"), reminder("N5")]),
                        lambda: gateway.connector(secret="wrong").send(messages)):
            with pytest.raises(LianbanError) as exc:
                failing()
            errors.append(str(exc.value))
    said = caplog.text + "\n".join(errors) + "\n".join(str(r) for r in results) + repr(messages)
    assert "accepted=" in caplog.text
    for secret in (PHONE, EMPTY, "1380000123", "55岁4个月", "法定退休年龄"):
        assert secret not in said, secret


def test_accepted_results_carry_the_segments_billed(gateway: LiveGateway) -> None:
    (result,) = gateway.connector().send([alert("A1")])
    assert result.segments == 2  # 【亳州人社】 + the alert: between 71 and 134 characters


def test_the_readmes_template_figures_are_what_the_loader_measures() -> None:
    readme = (Path(__file__).resolve().parents[3] / "connectors" / "sms" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (\d+) \| (\d+) \| (\w+) \|$", readme, re.M)
    measured = {key: (str(sms_length(TEMPLATES.worst_case(key))), str(segments(TEMPLATES.worst_case(key))),
                      t.quiet_hours.value) for key, t in TEMPLATES.templates.items()}
    assert {key: (length, count, policy) for key, length, count, policy in rows} == measured


def test_a_receipt_that_cannot_be_read_is_left_out_and_the_others_are_taken(
        start: Callable[..., LiveGateway], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The gateway answers one receipt in a state its API does not define: that one waits (asked again next
    run), the others are read; the log names neither the phone nor the odd value."""
    caplog.set_level(logging.DEBUG)  # no log line, at any level
    gateway = start(delivery_seconds=0)
    connector = gateway.connector()
    ok, other = (r.message_id or "" for r in connector.send([reminder("N1"), reminder("N2")]))
    real = connector.client.call

    def odd(method: str, path: str, body: Any = None) -> Any:
        answer = real(method, path, body)
        answer["receipts"][0] = {**answer["receipts"][0], "state": "13800001234-lost"}
        return answer

    monkeypatch.setattr(connector.client, "call", odd)
    taken = connector.receipts([ok, other])
    assert [(r.message_id, r.state) for r in taken] == [(other, DeliveryState.DELIVERED)]
    assert "一条状态报告不符合接口规范，已跳过" in caplog.text and "13800001234" not in caplog.text


def test_a_message_id_too_long_to_keep_is_dropped_and_the_message_counts_as_sent(
        gateway: LiveGateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The gateway took the message but named it with an id longer than the ledger's column: writing it failed
    on PostgreSQL after the send, so the notice was sent again to the person next run. Now it is sent, without
    an id (its receipt is not asked for), and said in the log."""
    connector = gateway.connector()
    real = connector.client.call

    def long_ids(method: str, path: str, body: Any = None) -> Any:
        answer = real(method, path, body)
        answer["results"][0]["message_id"] = "M" * (MESSAGE_ID_MAX + 1)
        return answer

    monkeypatch.setattr(connector.client, "call", long_ids)
    first, second = connector.send([reminder("N1"), reminder("N2")])
    assert first.outcome is Outcome.ACCEPTED and first.message_id is None
    assert second.outcome is Outcome.ACCEPTED and second.message_id and len(second.message_id) <= MESSAGE_ID_MAX
    assert "超过台账可保存的 64 个字符" in caplog.text


@pytest.mark.parametrize("field, value", [("accepted", "false"), ("duplicate", "no")])
def test_an_answer_whose_flags_are_not_booleans_is_malformed_and_sent_again(
        gateway: LiveGateway, monkeypatch: pytest.MonkeyPatch, field: str, value: str) -> None:
    """A gateway answering ``"accepted": "false"`` had its refusal read as an acceptance (any non-empty text is
    true): the notice was marked sent and never went. As the departments' receipts are: a malformed answer,
    retried (a resend is answered duplicate, never sent twice)."""
    connector = gateway.connector()
    real = connector.client.call

    def texts(method: str, path: str, body: Any = None) -> Any:
        answer = real(method, path, body)
        answer["results"][0][field] = value
        return answer

    monkeypatch.setattr(connector.client, "call", texts)
    with pytest.raises(RetriableError, match="应答格式不符合接口规范"):
        connector.send([reminder("N1")])
