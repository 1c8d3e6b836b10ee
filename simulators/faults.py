"""Fault injection for the simulated departments: one parsed spec, one ASGI middleware around any simulator.

A spec names faults per department (``lianban simulate --faults SPEC`` or ``LIANBAN_SIM_FAULTS``)::

    SPEC     := [PART (";" PART)*]
    PART     := DEPARTMENT ":" SETTING ("," SETTING)*
    SETTING  := latency=SECONDS            added before the department answers
              | error_rate=SHARE           answered 500 (a SOAP 1.1 Fault, faultcode Server, on /soap/)
              | outage=START-END           seconds since the faults were set: 503 without Retry-After,
                                           connection closed, on every path but /_sim/ (also /health)
              | outage_requests=START-END  the same answer for the /api/ and /soap/ requests numbered START
                                           up to END (counted from 0 since the faults were set): a
                                           department down for the middle of a push, whatever its speed
              | malformed=SHARE            the department's answer cut in half (invalid JSON / XML)
              | rate_limit=N               at most N requests per second; beyond it 429 with Retry-After
              | wrong_content_type=SHARE   answered 200 text/html (a gateway's maintenance page)
              | seed=INT                   makes the SHARE draws repeatable (default 0)

    e.g. "medical:latency=2.5,error_rate=0.3;health:outage=0-30,rate_limit=5;housing_fund:malformed=1.0"

Only ``/api/`` and ``/soap/`` paths are affected (never ``/_sim/``; ``/health`` only by an outage). An
error, an outage, a throttled request or a maintenance page never reaches the department; a malformed
answer does (the department acted, the answer was lost). Draws are a hash of (seed, fault, request
number), so the same seed and the same request sequence give the same faults. ``GET /_sim/faults`` shows
a department's faults, ``POST /_sim/faults`` with a JSON object of the same keys replaces them (``{}``
clears them) and restarts the outage clock and the request count. A malformed spec raises ValueError
with a sentence naming the bad part.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FaultInjector", "Faults", "Plan", "parse_faults"]

AFFECTED_PREFIXES = ("/api/", "/soap/")
CONTROL_PATH = "/_sim/faults"
JSON = "application/json"

SOAP_SERVER_FAULT = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
    "<faultcode>soap:Server</faultcode><faultstring>服务内部错误（模拟故障），请稍后重试</faultstring>"
    "</soap:Fault></soap:Body></soap:Envelope>"
).encode()
MAINTENANCE_PAGE = (
    '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>系统维护</title></head>\n'
    "<body><h1>系统维护中</h1><p>服务暂时不可用，请稍后再试。<br>统一身份认证网关</p></body></html>\n"
).encode()


@dataclass(frozen=True)
class Faults:
    """One department's faults; the zero value is a healthy department."""

    latency: float = 0.0
    error_rate: float = 0.0
    outage: tuple[float, float] | None = None
    outage_requests: tuple[float, float] | None = None
    malformed: float = 0.0
    rate_limit: int | None = None
    wrong_content_type: float = 0.0
    seed: int = 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "faults") -> Faults:
        """Build from ``{key: value}`` (spec text values or JSON values); ValueError names `where`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{where}: unknown fault {unknown[0]!r}; known faults are {', '.join(sorted(known))}")
        parsed = {key: _PARSERS[key](key, value, where) for key, value in values.items()}
        return cls(**parsed)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["outage"] = list(self.outage) if self.outage else None
        data["outage_requests"] = list(self.outage_requests) if self.outage_requests else None
        return data


def _number(key: str, value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{where}: {key} must be a finite number ≥ 0, not {value!r}")
    return number


def _share(key: str, value: Any, where: str) -> float:
    share = _number(key, value, where)
    if share > 1:
        raise ValueError(f"{where}: {key} is a share of requests between 0 and 1, not {value!r}")
    return share


def _whole(key: str, value: Any, where: str) -> int:
    if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
        raise ValueError(f"{where}: {key} must be a whole number, not {value!r}")
    return int(str(value).strip())


def _rate(key: str, value: Any, where: str) -> int | None:
    if value is None:
        return None
    rate = _whole(key, value, where)
    if rate < 1:
        raise ValueError(f"{where}: {key} is requests per second and must be at least 1, not {value!r}")
    return rate


def _window(key: str, value: Any, where: str) -> tuple[float, float] | None:
    """``"START-END"`` (spec text) or ``[START, END]`` (JSON) in seconds."""
    if value is None:
        return None
    bounds = str(value).split("-") if isinstance(value, str) else value
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        raise ValueError(f"{where}: {key} must be START-END in seconds (e.g. 0-30), not {value!r}")
    begin, finish = (_number(key, b, where) for b in bounds)
    if finish <= begin:
        raise ValueError(f"{where}: {key} must end after it starts, not {value!r}")
    return begin, finish


_PARSERS: dict[str, Callable[[str, Any, str], Any]] = {
    "latency": _number, "error_rate": _share, "outage": _window, "outage_requests": _window, "malformed": _share,
    "rate_limit": _rate, "wrong_content_type": _share, "seed": _whole,
}


def parse_faults(spec: str | None) -> dict[str, Faults]:
    """Department → Faults from a spec string (see the module docstring); ``""``/None is no faults."""
    plan: dict[str, Faults] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(";"))):
        department, sep, settings = (s.strip() for s in part.partition(":"))
        if not sep or not department or not settings:
            raise ValueError(f"fault spec part {part!r} must look like DEPARTMENT:key=value[,key=value…]")
        if department in plan:
            raise ValueError(f"fault spec names department {department!r} twice; put its faults in one part")
        values: dict[str, str] = {}
        for setting in (s.strip() for s in settings.split(",")):
            key, eq, value = (s.strip() for s in setting.partition("="))
            if not eq or not key or not value or key in values:
                raise ValueError(f"fault spec part {part!r}: {setting!r} must be one key=value per fault")
            values[key] = value
        plan[department] = Faults.from_mapping(values, where=f"fault spec part {part!r}")
    return plan


# -- what happens to one request ---------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """The fate of one request: wait `latency`, then `answer` it ourselves or pass it on (maybe garbled)."""

    latency: float = 0.0
    answer: str | None = None  # outage | throttle | error | html
    retry_after: int = 0
    malformed: bool = False


def draw(seed: int, fault: str, number: int) -> float:
    """A repeatable uniform draw in [0, 1) for request `number`."""
    digest = hashlib.sha256(f"{seed}:{fault}:{number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class FaultInjector:
    """ASGI middleware: injects `faults` into `app`'s answers and serves ``/_sim/faults``."""

    def __init__(self, app: ASGIApp, department: str, faults: Faults | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.department, self.clock = app, department, clock
        self.set(faults or Faults())

    def set(self, faults: Faults) -> None:
        """Replace the faults; the outage clock, the request count and the rate window restart."""
        self.faults, self.since, self.count = faults, self.clock(), 0
        self._admitted: deque[float] = deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == CONTROL_PATH:
            await self._control(scope, receive, send)
            return
        plan = self.plan(scope["path"])
        if plan.latency:
            await asyncio.sleep(plan.latency)
        if plan.answer:
            await _send(send, *self._answer(plan, scope["path"]))
        elif plan.malformed:
            await self.app(scope, receive, _Truncating(send))
        else:
            await self.app(scope, receive, send)

    def plan(self, path: str) -> Plan:
        """Decide one request's fate now (outage, then rate limit, then the drawn faults)."""
        f, now = self.faults, self.clock()
        if path.startswith("/_sim/"):
            return Plan()
        if f.outage and f.outage[0] <= now - self.since < f.outage[1]:
            return Plan(answer="outage")
        if not path.startswith(AFFECTED_PREFIXES):
            return Plan()
        number, self.count = self.count, self.count + 1
        if f.outage_requests and f.outage_requests[0] <= number < f.outage_requests[1]:
            return Plan(answer="outage")
        if f.rate_limit:
            wait = self._throttle(now, f.rate_limit)
            if wait:
                return Plan(answer="throttle", retry_after=wait)
        answer = next((name for fault, name in (("error_rate", "error"), ("wrong_content_type", "html"))
                       if draw(f.seed, fault, number) < getattr(f, fault)), None)
        return Plan(latency=f.latency, answer=answer, malformed=draw(f.seed, "malformed", number) < f.malformed)

    def _throttle(self, now: float, limit: int) -> int:
        """Seconds to wait when `limit` requests were already admitted in the last second, else 0."""
        while self._admitted and now - self._admitted[0] >= 1.0:
            self._admitted.popleft()
        if len(self._admitted) >= limit:
            return max(1, math.ceil(1.0 - (now - self._admitted[0])))
        self._admitted.append(now)
        return 0

    def _answer(self, plan: Plan, path: str) -> tuple[int, str, bytes, dict[str, str]]:
        """(HTTP status, content type, body, extra headers) for an answer we give instead of the app."""
        wait = {"Retry-After": str(plan.retry_after)}
        if plan.answer == "outage":
            return 503, "text/plain; charset=utf-8", "服务暂停（模拟停机）".encode(), {"Connection": "close"}
        if plan.answer == "throttle":
            return 429, JSON, _json("RATE_LIMITED", f"请求过于频繁，请 {plan.retry_after} 秒后重试"), wait
        if plan.answer == "html":
            return 200, "text/html; charset=utf-8", MAINTENANCE_PAGE, {}
        if path.startswith("/soap/"):
            return 500, "text/xml; charset=utf-8", SOAP_SERVER_FAULT, {}
        return 500, JSON, _json("SERVER_ERROR", "服务内部错误（模拟故障），请稍后重试"), {}

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        """GET shows this department's faults; POST replaces them with a JSON object of the same keys."""
        if scope["method"] == "POST":
            try:
                values = json.loads(await _body(receive) or b"{}")
                if not isinstance(values, dict):
                    raise ValueError(f"POST {CONTROL_PATH} expects a JSON object of faults")
                values.pop("department", None)  # what GET shows can be posted back
                self.set(Faults.from_mapping(values, where=f"faults for {self.department}"))
            except ValueError as exc:
                await _send(send, 400, JSON, _json("BAD_FAULTS", str(exc)), {})
                return
        elif scope["method"] != "GET":
            await _send(send, 405, JSON, _json("METHOD", "use GET or POST"), {"Allow": "GET, POST"})
            return
        body = json.dumps({"department": self.department, **self.faults.to_json()}, ensure_ascii=False)
        await _send(send, 200, JSON, body.encode(), {})


class _Truncating:
    """An ASGI `send` that holds the whole answer back and sends only its first half."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.start: Message | None = None
        self.parts: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.parts.append(message.get("body", b""))
        if not message.get("more_body"):
            whole = b"".join(self.parts)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in self.start.get("headers", [])
                       if k.lower() != b"content-length"}
            content_type = headers.pop("content-type", "application/octet-stream")
            await _send(self.send, self.start["status"], content_type, whole[:len(whole) // 2], headers)


def _json(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}, ensure_ascii=False).encode()


async def _body(receive: Receive) -> bytes:
    parts, more = [], True
    while more:
        message = await receive()
        parts.append(message.get("body", b""))
        more = message["type"] == "http.request" and bool(message.get("more_body"))
    return b"".join(parts)


async def _send(send: Send, status: int, content_type: str, body: bytes, headers: Mapping[str, str]) -> None:
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
           *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
