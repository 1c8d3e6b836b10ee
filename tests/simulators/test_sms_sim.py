"""The simulated SMS gateway over real HTTP: signature, deduplication, refusals, the rate limit, receipts, and
its published document."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import requests
import yaml

from connectors.sms.connector import ERRORS
from lianban.domain.schemas import schema_path
from lianban.wire.gateway import sign_headers
from simulators.people import make_id_number
from simulators.rest_department import serve_in_background
from simulators.sms import FAILURES, RECEIPTS, REFUSALS, SEND, GatewayConfig, create_app

APP_ID, SECRET = "lianban-hub", "sms-secret-for-tests"
PHONE, EMPTY = "13800001234", "13900000000"
TEXT = "【亳州人社】尊敬的参保职工：您将于2025年7月达到法定退休年龄。"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_764_633_600.0  # 2025-12-02T00:00:00Z

    def __call__(self) -> float:
        return self.now


@dataclass
class Sim:
    url: str
    clock: FakeClock

    def post(self, path: str, body: Any, secret: str = SECRET, signed: bool = True) -> requests.Response:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            headers |= sign_headers(APP_ID, secret, "POST", path, data)
        return requests.post(self.url + path, data=data, headers=headers, timeout=5)

    def send(self, *messages: dict[str, str]) -> list[dict[str, Any]]:
        resp = self.post(SEND, {"messages": list(messages)})
        assert resp.status_code == 200, resp.text
        results: list[dict[str, Any]] = resp.json()["results"]
        return results

    def receipts(self, *ids: str) -> list[dict[str, Any]]:
        resp = self.post(RECEIPTS, {"message_ids": list(ids)})
        assert resp.status_code == 200, resp.text
        receipts: list[dict[str, Any]] = resp.json()["receipts"]
        return receipts

    def outbox(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = requests.get(f"{self.url}/_sim/outbox", timeout=5).json()["messages"]
        return messages


def message(key: str, phone: str = PHONE, text: str = TEXT) -> dict[str, str]:
    return {"idempotency_key": key, "phone": phone, "text": text, "template": "retirement_reminder"}


@pytest.fixture
def start() -> Iterator[Callable[..., Sim]]:
    """start(**config): a gateway with GatewayConfig(**config) on 127.0.0.1 and a fake clock."""
    stack: list[Any] = []

    def run(**config: Any) -> Sim:
        clock = FakeClock()
        served = serve_in_background(create_app(APP_ID, SECRET, GatewayConfig(**config), clock))
        stack.append(served)
        return Sim(served.__enter__(), clock)

    yield run
    for served in stack:
        served.__exit__(None, None, None)


@pytest.fixture
def sim(start: Callable[..., Sim]) -> Sim:
    return start(failing={EMPTY: "EMPTY_NUMBER"})


def test_unsigned_and_wrongly_signed_requests_are_refused_401(sim: Sim) -> None:
    for resp in (sim.post(SEND, {"messages": [message("k1")]}, signed=False),
                 sim.post(SEND, {"messages": [message("k1")]}, secret="wrong")):
        assert resp.status_code == 401
        assert resp.json()["code"] == "AUTH"
    assert sim.outbox() == []


def test_an_accepted_message_is_in_the_outbox_with_its_segments(sim: Sim) -> None:
    (result,) = sim.send(message("k1"))
    assert result["accepted"] and not result["duplicate"]
    (sent,) = sim.outbox()
    assert (sent["message_id"], sent["phone"], sent["text"], sent["segments"]) == \
        (result["message_id"], PHONE, TEXT, 1)


def test_a_resend_with_the_same_key_is_a_duplicate_and_the_outbox_holds_one(sim: Sim) -> None:
    (first,) = sim.send(message("k1"))
    (again,) = sim.send(message("k1", text=TEXT + "（重发）"))
    assert again["accepted"] and again["duplicate"]
    assert again["message_id"] == first["message_id"]
    assert [m["text"] for m in sim.outbox()] == [TEXT]


def test_a_key_repeated_within_one_request_is_sent_once(sim: Sim) -> None:
    results = sim.send(message("k1"), message("k1"))
    assert [r["duplicate"] for r in results] == [False, True]
    assert len(sim.outbox()) == 1


@pytest.mark.parametrize(("phone", "text", "code"), [
    pytest.param("1380000123", TEXT, "PHONE", id="ten-digit-phone"),
    pytest.param("", TEXT, "PHONE", id="no-phone"),
    pytest.param(PHONE, "尊敬的参保职工：您好。", "SIGNATURE", id="no-signature"),
    pytest.param(PHONE, "【亳州人社】" + "字" * 95, "TOO_LONG", id="101-characters"),
    pytest.param(PHONE, "【亳州人社】证件" + make_id_number("341602", date(1965, 3, 1), 7, True), "ID_NUMBER",
                 id="id-number"),
])
def test_a_message_the_gateway_refuses_is_answered_with_code_and_reason_and_not_sent(
        start: Callable[..., Sim], phone: str, text: str, code: str) -> None:
    sim = start(max_chars=100)
    (result,) = sim.send(message("k1", phone, text))
    assert (result["accepted"], result["code"], result["reason"]) == (False, code, REFUSALS[code])
    assert sim.outbox() == []


def test_beyond_the_rate_limit_a_request_is_429_with_retry_after_and_nothing_is_sent(
        start: Callable[..., Sim]) -> None:
    sim = start(rate_limit=2)
    sim.send(message("k1"), message("k2"))
    throttled = sim.post(SEND, {"messages": [message("k3")]})
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["code"] == "THROTTLED"
    assert len(sim.outbox()) == 2

    sim.clock.now += 1.0
    (later,) = sim.send(message("k3"))
    assert later["accepted"]


def test_a_request_larger_than_the_rate_limit_is_refused_whole(start: Callable[..., Sim]) -> None:
    sim = start(rate_limit=2)
    resp = sim.post(SEND, {"messages": [message(f"k{i}") for i in range(3)]})
    assert resp.status_code == 400 and resp.json()["code"] == "BATCH_TOO_LARGE"


def test_receipts_are_pending_then_delivered_or_failed_with_the_operators_reason(start: Callable[..., Sim]) -> None:
    sim = start(failing={EMPTY: "EMPTY_NUMBER"}, delivery_seconds=30)
    ok, empty = (r["message_id"] for r in sim.send(message("k1"), message("k2", EMPTY)))
    assert [r["state"] for r in sim.receipts(ok, empty)] == ["pending", "pending"]

    sim.clock.now += 30
    delivered, failed = sim.receipts(ok, empty, "SM-unknown")
    assert (delivered["state"], delivered["code"]) == ("delivered", None)
    assert (failed["state"], failed["code"], failed["reason"]) == ("failed", "EMPTY_NUMBER", "空号")


def test_failing_numbers_can_be_changed_at_run_time(sim: Sim) -> None:
    resp = requests.post(f"{sim.url}/_sim/config", json={"failing": {PHONE: "POWERED_OFF"}}, timeout=5)
    assert resp.status_code == 200
    (sent,) = sim.send(message("k1"))
    assert sim.receipts(sent["message_id"])[0]["reason"] == "关机"
    bad = requests.post(f"{sim.url}/_sim/config", json={"failing": {PHONE: "NOPE"}}, timeout=5)
    assert bad.status_code == 400


def test_the_published_document_matches_the_served_api_and_the_code_tables(sim: Sim) -> None:
    static = yaml.safe_load(schema_path("sms", "openapi.yaml").read_text(encoding="utf-8"))
    served = requests.get(f"{sim.url}/openapi.json", timeout=5).json()
    assert set(static["paths"]) == {p for p in served["paths"] if not p.startswith("/_sim")}
    for path, ops in static["paths"].items():
        assert set(ops) == set(served["paths"][path])
    schemas = static["components"]["schemas"]
    assert schemas["RefusalCode"]["enum"] == list(REFUSALS)
    assert schemas["FailureCode"]["x-reason"] == FAILURES
    documented = set(schemas["ErrorCode"]["enum"]) | set(REFUSALS) | set(FAILURES)
    assert documented == set(ERRORS)
