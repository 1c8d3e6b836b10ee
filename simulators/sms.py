"""A simulated SMS gateway (短信网关), signed like the other REST services; it records what it was asked to send.

Routes (published in ``schemas/sms/openapi.yaml``; FastAPI also serves ``/openapi.json``)::

    POST /api/v1/sms:send       {"messages": [{idempotency_key, phone, text, template}]}
                                → {"results": [{idempotency_key, accepted, duplicate, message_id, segments,
                                code, reason}]}
    POST /api/v1/sms:receipts   {"message_ids": [...]} → {"receipts": [{message_id, state, code, reason,
                                changed_at}]}; an id the gateway never issued is not returned
    GET  /health                liveness, unsigned
    GET  /_sim/outbox           every message it accepted (phone and text: synthetic people only), unsigned
    POST /_sim/config           replace rate_limit, failing, delivery_seconds at run time, unsigned

Every ``/api/`` request carries the gateway signature (:func:`simulators.rest_department.install_gateway`):
a missing or wrong one answers 401 ``AUTH``. Per message, after deduplication (a key accepted before is
answered ``duplicate`` with the first message id, whatever the text: a resend after a crash never sends
twice), the first failing check refuses it: ``PHONE`` (not an 11-digit mobile number), ``SIGNATURE`` (the
text does not start with a registered 签名), ``TOO_LONG`` (more than ``max_chars``), ``ID_NUMBER`` (an
ID-number-shaped run). Beyond ``rate_limit`` messages in any one second a request answers 429 with
Retry-After and nothing of it is accepted; a request with more messages than the limit answers 400
``BATCH_TOO_LARGE``. Receipts stay ``pending`` for ``delivery_seconds`` after acceptance, then read
``delivered``, or ``failed`` with the operator's reason for a number in ``failing`` (phone → code in
:data:`FAILURES`, e.g. ``EMPTY_NUMBER`` 空号). State lives in memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from lianban.domain.identity import phone_problem
from lianban.domain.sms import has_id_number, segments, sms_length
from lianban.wire.gateway import GatewayVerifier
from simulators.rest_department import GATEWAY_RESPONSES, install_gateway

SEND, RECEIPTS = "/api/v1/sms:send", "/api/v1/sms:receipts"
MAX_BATCH = 1000
#: refusal code → Chinese reason, in check order
REFUSALS = {
    "PHONE": "手机号码格式错误，应为以1开头的11位手机号码",
    "SIGNATURE": "短信签名未报备或不在正文开头",
    "TOO_LONG": "短信内容超过网关长度上限",
    "ID_NUMBER": "短信内容含疑似身份证号码，网关拒绝发送",
}
#: delivery failure code → the operator's reason (状态报告)
FAILURES = {"EMPTY_NUMBER": "空号", "POWERED_OFF": "关机", "SUSPENDED": "停机", "REJECTED": "用户拒收"}


@dataclass(frozen=True)
class GatewayConfig:
    rate_limit: int = 100  # messages per second
    max_chars: int = 500  # one message, signature included, counted as lianban.domain.sms.sms_length
    signatures: tuple[str, ...] = ("【亳州人社】",)
    failing: Mapping[str, str] = field(default_factory=dict)  # phone → FAILURES code
    delivery_seconds: float = 0.0  # receipts pending this long after acceptance

    def __post_init__(self) -> None:
        unknown = sorted(set(self.failing.values()) - set(FAILURES))
        if unknown or self.rate_limit < 1:
            raise ValueError(f"failing codes must be in {sorted(FAILURES)} (got {unknown}); rate_limit ≥ 1")


@dataclass(frozen=True)
class Sent:
    message_id: str
    idempotency_key: str
    phone: str
    text: str
    template: str
    segments: int
    accepted_at: float
    fails_with: str | None  # decided at acceptance from the config's failing numbers
    deliver_after: float


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class Gateway:
    """Deduplication, refusals, the rate limit, the outbox and receipts; thread-safe."""

    def __init__(self, config: GatewayConfig, clock: Callable[[], float] = time.time) -> None:
        self.config, self._clock = config, clock
        self._lock = threading.Lock()
        self._by_key: dict[str, Sent] = {}
        self._by_id: dict[str, Sent] = {}
        self._window: deque[float] = deque()

    def send(self, messages: list[dict[str, str]]) -> list[dict[str, Any]]:
        """One result per message; raises Throttled (nothing accepted) beyond the rate limit."""
        with self._lock:
            now = self._clock()
            self._admit(len(messages), now)
            return [self._one(m, now) for m in messages]

    def _admit(self, count: int, now: float) -> None:
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        excess = len(self._window) + count - self.config.rate_limit
        if excess > 0:
            frees_at = (self._window[min(excess, len(self._window)) - 1] if self._window else now) + 1.0
            raise Throttled(max(1, math.ceil(frees_at - now)))
        self._window.extend([now] * count)

    def _one(self, m: dict[str, str], now: float) -> dict[str, Any]:
        key = m["idempotency_key"]
        if key in self._by_key:
            first = self._by_key[key]
            return _result(key, message_id=first.message_id, duplicate=True, segments=first.segments)
        code = self._refusal(m["phone"], m["text"])
        if code:
            return _result(key, code=code, reason=REFUSALS[code])
        sent = Sent(f"SM{len(self._by_id) + 1:010d}", key, m["phone"], m["text"], m.get("template", ""),
                    segments(m["text"]), now, self.config.failing.get(m["phone"]), now + self.config.delivery_seconds)
        self._by_key[key] = self._by_id[sent.message_id] = sent
        return _result(key, message_id=sent.message_id, segments=sent.segments)

    def _refusal(self, phone: str, text: str) -> str | None:
        checks = (("PHONE", phone_problem(phone) is not None),
                  ("SIGNATURE", not text.startswith(self.config.signatures)),
                  ("TOO_LONG", sms_length(text) > self.config.max_chars),
                  ("ID_NUMBER", has_id_number(text)))
        return next((code for code, failed in checks if failed), None)

    def receipts(self, message_ids: list[str]) -> list[dict[str, Any]]:
        with self._lock:
            now = self._clock()
            return [_receipt(self._by_id[i], now) for i in message_ids if i in self._by_id]

    def outbox(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"message_id": s.message_id, "idempotency_key": s.idempotency_key, "phone": s.phone,
                     "text": s.text, "template": s.template, "segments": s.segments,
                     "accepted_at": _iso(s.accepted_at)} for s in self._by_id.values()]

    def reconfigure(self, **changes: Any) -> GatewayConfig:
        with self._lock:
            self.config = replace(self.config, **changes)
            return self.config


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _result(key: str, message_id: str | None = None, duplicate: bool = False, segments: int = 0,
            code: str | None = None, reason: str | None = None) -> dict[str, Any]:
    return {"idempotency_key": key, "accepted": message_id is not None, "duplicate": duplicate,
            "message_id": message_id, "segments": segments, "code": code, "reason": reason}


def _receipt(s: Sent, now: float) -> dict[str, Any]:
    if now < s.deliver_after:
        return {"message_id": s.message_id, "state": "pending", "code": None, "reason": None, "changed_at": None}
    state = "failed" if s.fails_with else "delivered"
    return {"message_id": s.message_id, "state": state, "code": s.fails_with,
            "reason": FAILURES.get(s.fails_with or ""), "changed_at": _iso(s.deliver_after)}


# -- the API ------------------------------------------------------------------------------------------------
class MessageIn(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    phone: str = Field(max_length=32)
    text: str = Field(min_length=1, max_length=2000)
    template: str = Field("", max_length=64)


class SendIn(BaseModel):
    messages: list[MessageIn] = Field(max_length=MAX_BATCH)


class ResultOut(BaseModel):
    idempotency_key: str
    accepted: bool
    duplicate: bool
    message_id: str | None
    segments: int
    code: str | None
    reason: str | None


class SendOut(BaseModel):
    results: list[ResultOut]


class ReceiptsIn(BaseModel):
    message_ids: list[str] = Field(max_length=MAX_BATCH)


class ReceiptOut(BaseModel):
    message_id: str
    state: str  # pending | delivered | failed
    code: str | None
    reason: str | None
    changed_at: str | None


class ReceiptsOut(BaseModel):
    receipts: list[ReceiptOut]


class ConfigIn(BaseModel):
    rate_limit: int | None = Field(None, ge=1)
    failing: dict[str, str] | None = None
    delivery_seconds: float | None = Field(None, ge=0)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def create_app(app_id: str, secret: str, config: GatewayConfig | None = None,
               clock: Callable[[], float] = time.time) -> FastAPI:
    """The simulated gateway accepting requests signed with `app_id`/`secret`; `clock` drives the rate limit
    and the receipts (tests pass a fake one)."""
    gateway = Gateway(config or GatewayConfig(), clock)
    app = FastAPI(title="短信网关（模拟）", version="1.0.0")
    install_gateway(app, GatewayVerifier({app_id: secret}))
    throttled: dict[int | str, dict[str, Any]] = {429: {"description": "超过每秒条数限额，按 Retry-After 秒后重试"}}

    @app.post(SEND, response_model=SendOut, responses={**GATEWAY_RESPONSES, **throttled})
    def send(body: SendIn) -> SendOut | JSONResponse:
        """发送短信：按 idempotency_key 去重，逐条校验号码、签名、长度与身份证号，逐条返回结果。"""
        limit = gateway.config.rate_limit
        if len(body.messages) > limit:
            return _error(400, "BATCH_TOO_LARGE",
                          f"单次请求 {len(body.messages)} 条，超过每秒限额 {limit} 条，请减小批次")
        try:
            results = gateway.send([m.model_dump() for m in body.messages])
        except Throttled as t:
            return _error(429, "THROTTLED", f"超过每秒 {limit} 条的发送限额，请 {t.retry_after} 秒后重试",
                          {"Retry-After": str(t.retry_after)})
        return SendOut(results=[ResultOut(**r) for r in results])

    @app.post(RECEIPTS, response_model=ReceiptsOut, responses=GATEWAY_RESPONSES)
    def receipts(body: ReceiptsIn) -> ReceiptsOut:
        """查询状态报告：pending 待回执、delivered 已送达、failed 发送失败（附运营商原因）；未知编号不返回。"""
        return ReceiptsOut(receipts=[ReceiptOut(**r) for r in gateway.receipts(body.message_ids)])

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "gateway": "sms"}

    @app.get("/_sim/outbox")
    def outbox() -> dict[str, Any]:
        return {"messages": gateway.outbox()}

    @app.post("/_sim/config", response_model=None)
    def reconfigure(body: ConfigIn) -> dict[str, Any] | JSONResponse:
        try:
            c = gateway.reconfigure(**body.model_dump(exclude_none=True))
        except ValueError as exc:
            return _error(400, "CONFIG", str(exc))
        return {"rate_limit": c.rate_limit, "failing": dict(c.failing), "delivery_seconds": c.delivery_seconds}

    return app
