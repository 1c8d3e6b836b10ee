"""Fixtures for the REST department connectors: a real simulator on 127.0.0.1 per department (its answers
signed, as `lianban simulate` serves it), sealed batches for synthetic people, and a stub adapter for
answers a healthy simulator never gives."""

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

from connectors._rest import RestDepartmentConnector
from connectors.health import statuses as health_statuses
from connectors.health.connector import HealthConnector
from connectors.housing_fund import statuses as housing_statuses
from connectors.housing_fund.connector import HousingFundConnector
from lianban.domain.catalog import load_catalog
from lianban.wire.contract import SealedItem
from lianban.wire.gateway import GatewayAuth
from lianban.wire.settings import TransportSettings
from lianban.wire.signatures import AnswerCheck
from lianban.wire.transport import make_session
from simulators.engine import DepartmentEngine
from simulators.kit import Item, engine_for, seal_items
from simulators.people import make_id_number, make_uscc
from simulators.rest_department import ERROR_CODES, create_app, serve_in_background
from simulators.runner import response_signer

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


def make_item(seq: int, item_code: str, fields: dict[str, Any] | None = None) -> Item:
    """One synthetic person's case item for `item_code` (its fields, or `fields` when given)."""
    key, case_no = f"K{seq:06d}-{item_code}", f"BZ2025{seq:06d}"
    return Item(key, case_no, item_code, fields if fields is not None else person_fields(seq, item_code))


Sealed = tuple[dict[str, Any], list[SealedItem]]  # (the batch seal, its deliveries), as submit takes them


def make_batch(keys_dir: Path, department: str, items: list[Item]) -> Sealed:
    """`items` sealed as one batch for `department`, as the hub seals it."""
    return seal_items(keys_dir, department, items)


@dataclass
class LiveDepartment:
    spec: Spec
    url: str
    keys_dir: Path
    engine: DepartmentEngine

    def connector(self, secret: str = SECRET) -> RestDepartmentConnector:
        """A connector that signs its requests and checks the department's signature on every answer."""
        session = make_session(TransportSettings(response_check=AnswerCheck.load(self.keys_dir, self.spec.key)))
        session.auth = GatewayAuth(APP_ID, secret)
        return self.spec.connector(self.url, session, batch_size=10)

    def items(self, n: int, start: int = 1) -> list[Item]:
        return [make_item(seq, self.spec.item_code) for seq in range(start, start + n)]

    def seal(self, items: list[Item]) -> Sealed:
        """`items` sealed as one fresh batch for this department (a resend of the same items is sealed
        afresh, as the hub does): (seal, deliveries)."""
        return make_batch(self.keys_dir, self.spec.key, items)

    def batch(self, n: int, start: int = 1) -> Sealed:
        """`n` synthetic people's deliveries sealed as one batch: (seal, deliveries)."""
        return self.seal(self.items(n, start))

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
    keys_dir = tmp_path / "keys"
    engine = engine_for(keys_dir, spec.key, tmp_path / f"{spec.key}.db", step_seconds)
    app = create_app(engine, APP_ID, SECRET, spec.statuses.CODES)  # as `lianban simulate` builds it,
    with serve_in_background(response_signer(app, keys_dir, spec.key)) as url:  # answers signed
        yield LiveDepartment(spec, url, keys_dir, engine)


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
def person() -> Callable[..., Item]:
    """make_item(seq, item_code, fields=None): one synthetic person's case item, not yet sealed."""
    return make_item


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def seal_for(keys_dir: Path) -> Callable[[str, list[Item]], Sealed]:
    """seal_for(department, items): (seal, deliveries) of one batch sealed with the keys in `keys_dir`."""
    return lambda department, items: make_batch(keys_dir, department, items)


@pytest.fixture
def stubbed() -> Callable[..., tuple[Any, StubAdapter]]:
    """build(cls, answers, check=None): a connector whose session talks to a StubAdapter instead of the
    network; `check` is a response check (lianban.pipeline.sealer.response_check) to verify answers with."""

    def build(cls: type[RestDepartmentConnector], answers: list[Answer],
              check: Callable[[requests.Response], None] | None = None) -> tuple[Any, StubAdapter]:
        adapter = StubAdapter(answers)
        session = make_session(TransportSettings(response_check=check))
        session.auth = GatewayAuth(APP_ID, SECRET)
        session.mount("http://stub.invalid", adapter)
        return cls("http://stub.invalid", session), adapter

    return build
