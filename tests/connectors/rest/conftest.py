"""Fixtures for the REST department connectors: a real simulator on 127.0.0.1 per department, sealed
deliveries for synthetic people, and a stub adapter for answers a healthy simulator never gives."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from connectors.health import statuses as health_statuses
from connectors.health.connector import HealthConnector
from connectors.housing_fund import statuses as housing_statuses
from connectors.housing_fund.connector import HousingFundConnector
from lianban.catalog import load_catalog
from lianban.contract import Delivery
from lianban.gateway_auth import GatewayAuth
from lianban.identity import make_id_number, make_uscc
from lianban.keys import KeyRing, ensure_ring
from lianban.rest_client import RestDepartmentConnector
from lianban.sealing import seal
from lianban.transport import make_session
from simulators.engine import DepartmentEngine
from simulators.rest_department import ERROR_CODES, create_app, serve_in_background

APP_ID, SECRET = "lianban-hub", "s3cret-for-tests"


@dataclass(frozen=True)
class Spec:
    """One REST department as the shared suite sees it."""

    key: str
    connector: type[RestDepartmentConnector]
    statuses: ModuleType
    item_code: str
    engine_errors: dict[str, str]  # what the department answers for the engine's refusals


SPECS = [
    Spec("health", HealthConnector, health_statuses, "13", ERROR_CODES["health"]),
    Spec("housing_fund", HousingFundConnector, housing_statuses, "14", ERROR_CODES["housing_fund"]),
]


def person_fields(seq: int, item_code: str) -> dict[str, Any]:
    """The minimum-necessary fields of a synthetic retiree for `item_code`."""
    full = {
        "name": f"测试{seq:04d}",
        "id_number": make_id_number("341602", date(1965, 3, 1), seq, male=True),
        "employer_name": "亳州市测试机械有限公司",
        "employer_uscc": make_uscc("341602", random.Random(seq)),
        "contribution_months": 360,
        "pension_start": "2025-03",
        "phone": f"1380000{seq:04d}",
    }
    return {f: full[f] for f in load_catalog().item(item_code).fields}


def make_delivery(ring: KeyRing, seq: int, item_code: str, fields: dict[str, Any] | None = None) -> Delivery:
    key, case_no = f"K{seq:06d}-{item_code}", f"BZ2025{seq:06d}"
    payload = fields if fields is not None else person_fields(seq, item_code)
    return Delivery(key, case_no, item_code, seal(ring, payload, aad=f"{key}|{case_no}|{item_code}"))


@dataclass
class LiveDepartment:
    spec: Spec
    url: str
    ring: KeyRing
    engine: DepartmentEngine

    def connector(self, secret: str = SECRET) -> RestDepartmentConnector:
        session = make_session()
        session.auth = GatewayAuth(APP_ID, secret)
        return self.spec.connector(self.url, session, batch_size=10)

    def deliveries(self, n: int, start: int = 1) -> list[Delivery]:
        return [make_delivery(self.ring, seq, self.spec.item_code) for seq in range(start, start + n)]

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = requests.get(f"{self.url}/_sim/stats", timeout=5).json()
        return result


@pytest.fixture(params=SPECS, ids=[s.key for s in SPECS])
def spec(request: pytest.FixtureRequest) -> Spec:
    spec: Spec = request.param
    return spec


@pytest.fixture
def step_seconds() -> float:
    """Seconds per status step in the simulated department; 0 = final status at once."""
    return 0.0


@pytest.fixture
def live(spec: Spec, tmp_path: Path, step_seconds: float) -> Iterator[LiveDepartment]:
    ring = ensure_ring(tmp_path / "keys", spec.key)
    engine = DepartmentEngine(spec.key, ring, tmp_path / f"{spec.key}.db", step_seconds=step_seconds)
    app = create_app(engine, APP_ID, SECRET, spec.statuses.CODES)  # as `lianban simulate` builds it
    with serve_in_background(app) as url:
        yield LiveDepartment(spec, url, ring, engine)


# -- a stub transport for answers a healthy department never gives --------------------------------------
Answer = tuple[int, dict[str, str], bytes] | Exception


class StubAdapter(requests.adapters.BaseAdapter):
    """Answers each request with the next canned (status, headers, body) or raises the canned exception."""

    def __init__(self, answers: list[Answer]) -> None:
        super().__init__()
        self.answers = answers
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, headers, body = answer
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.request = status, body, request.url or "", request
        resp.headers = CaseInsensitiveDict(headers)
        return resp

    def close(self) -> None:
        pass


@pytest.fixture
def credentials() -> tuple[str, str]:
    """(app id, secret) the simulators accept."""
    return APP_ID, SECRET


@pytest.fixture
def deliver() -> Callable[..., Delivery]:
    """make_delivery(ring, seq, item_code, fields=None): a sealed delivery for a synthetic person."""
    return make_delivery


@pytest.fixture
def stubbed() -> Callable[[type[RestDepartmentConnector], list[Answer]], tuple[Any, StubAdapter]]:
    """Build a connector whose session talks to a StubAdapter instead of the network."""

    def build(cls: type[RestDepartmentConnector], answers: list[Answer]) -> tuple[Any, StubAdapter]:
        adapter = StubAdapter(answers)
        session = make_session()
        session.auth = GatewayAuth(APP_ID, SECRET)
        session.mount("http://stub.invalid", adapter)
        return cls("http://stub.invalid", session), adapter

    return build
