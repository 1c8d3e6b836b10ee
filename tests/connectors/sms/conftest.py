"""Fixtures for the SMS connector: the simulated gateway on 127.0.0.1 (a fake clock for its rate limit and
receipts) and connectors built the way the hub builds them, with a clock of the test's choosing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from connectors.sms.connector import SmsConnector
from lianban.wire.gateway import GatewayAuth
from lianban.wire.settings import TransportSettings
from lianban.wire.transport import make_session
from simulators.faults import FaultInjector, parse_faults
from simulators.rest_department import serve_in_background
from simulators.sms import GatewayConfig, create_app

APP_ID, SECRET = "lianban-hub", "sms-secret-for-tests"
#: 2025-12-02 10:00 Asia/Shanghai: outside quiet hours
DAYTIME = datetime(2025, 12, 2, 2, 0, tzinfo=UTC)


class FakeClock:
    """The gateway's clock (seconds), moved by hand."""

    def __init__(self) -> None:
        self.now = DAYTIME.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class LiveGateway:
    url: str
    clock: FakeClock

    def connector(self, secret: str | None = SECRET, batch_size: int = 100, at: datetime = DAYTIME,
                  read_timeout: float = 5.0, waits: bool = False) -> SmsConnector:
        """A connector signing with `secret` (None: not signing at all) whose clock stands at `at`; its waits
        for Retry-After move the gateway's clock (`waits`) or nothing."""
        session = make_session(TransportSettings(read_timeout=read_timeout, retries=0))
        if secret is not None:
            session.auth = GatewayAuth(APP_ID, secret)
        return SmsConnector(self.url, session, batch_size=batch_size, clock=lambda: at,
                            sleep=self.clock.advance if waits else lambda seconds: None)

    def outbox(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = requests.get(f"{self.url}/_sim/outbox", timeout=5).json()["messages"]
        return messages


@pytest.fixture
def start() -> Iterator[Callable[..., LiveGateway]]:
    """start(faults=None, **config): a simulated gateway with GatewayConfig(**config), optionally behind the
    fault injector (a spec for department "sms", see simulators.faults)."""
    with ExitStack() as stack:

        def run(faults: str | None = None, **config: Any) -> LiveGateway:
            clock = FakeClock()
            app: Any = create_app(APP_ID, SECRET, GatewayConfig(**config), clock)
            if faults:
                app = FaultInjector(app, "sms", parse_faults(f"sms:{faults}")["sms"])
            return LiveGateway(stack.enter_context(serve_in_background(app)), clock)

        yield run


@pytest.fixture
def gateway(start: Callable[..., LiveGateway]) -> LiveGateway:
    return start(failing={"13900000000": "EMPTY_NUMBER"})
