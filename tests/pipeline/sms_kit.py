"""The simulated SMS gateway for pipeline tests: served on loopback, reached by the real connector with an
injected clock (quiet hours), its outbox read back as the people's phones would see it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from connectors.sms.connector import SmsConnector
from lianban.wire.gateway import GatewayAuth
from lianban.wire.settings import TransportSettings
from lianban.wire.transport import make_session
from simulators.rest_department import serve_in_background
from simulators.sms import GatewayConfig, create_app


@dataclass
class Gateway:
    url: str
    app_id: str
    secret: str

    def connector(self, at: datetime) -> SmsConnector:
        session = make_session(TransportSettings(read_timeout=5.0, retries=0))
        session.auth = GatewayAuth(self.app_id, self.secret)
        return SmsConnector(self.url, session, clock=lambda: at)

    def outbox(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = requests.get(f"{self.url}/_sim/outbox", timeout=5).json()["messages"]
        return messages


@contextmanager
def serving(app_id: str, secret: str, config: GatewayConfig) -> Iterator[Gateway]:
    with serve_in_background(create_app(app_id, secret, config)) as url:
        yield Gateway(url, app_id, secret)
