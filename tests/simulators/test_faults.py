"""Fault injection: the spec, repeatable draws, which paths it touches, and flipping faults on a live server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from lianban.wire.signatures import HEADER
from simulators.faults import FaultInjector, Faults, Plan, parse_faults
from simulators.runner import Simulation, start

EXAMPLE = "medical:latency=2.5,error_rate=0.3;health:outage=0-30,rate_limit=5;housing_fund:malformed=1.0"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def injector(clock: Clock | None = None, **faults: object) -> FaultInjector:
    async def app(scope: object, receive: object, send: object) -> None:  # never called by plan()
        raise AssertionError

    return FaultInjector(app, "health", Faults.from_mapping(faults), clock=clock or Clock())


# -- the spec ---------------------------------------------------------------------------------------------
def test_the_documented_example_parses() -> None:
    assert parse_faults(EXAMPLE) == {
        "medical": Faults(latency=2.5, error_rate=0.3),
        "health": Faults(outage=(0.0, 30.0), rate_limit=5),
        "housing_fund": Faults(malformed=1.0),
    }


def test_no_spec_is_no_faults() -> None:
    assert parse_faults(None) == parse_faults("") == parse_faults(" ; ") == {}


def test_spaces_and_seed_are_allowed() -> None:
    assert parse_faults(" health : wrong_content_type = 0.5 , seed = 7 ") == {
        "health": Faults(wrong_content_type=0.5, seed=7)}


@pytest.mark.parametrize(("spec", "named"), [
    ("medical", "'medical' must look like DEPARTMENT:key=value"),
    ("medical:", "'medical:' must look like"),
    (":latency=1", "':latency=1' must look like"),
    ("medical:latency", "'latency' must be one key=value"),
    ("medical:latency=1,latency=2", "'latency=2' must be one key=value"),
    ("medical:latency=1;medical:error_rate=0.1", "department 'medical' twice"),
    ("medical:latncy=1", "unknown fault 'latncy'"),
    ("medical:latency=soon", "latency must be a number, not 'soon'"),
    ("medical:latency=-1", "latency must be a finite number ≥ 0"),
    ("medical:latency=nan", "latency must be a finite number ≥ 0"),
    ("medical:error_rate=1.5", "error_rate is a share of requests between 0 and 1"),
    ("health:outage=30", "outage must be START-END in seconds"),
    ("health:outage=30-10", "outage must end after it starts"),
    ("health:outage=a-b", "outage must be a number, not 'a'"),
    ("health:rate_limit=0", "rate_limit is requests per second and must be at least 1"),
    ("health:rate_limit=2.5", "rate_limit must be a whole number, not '2.5'"),
    ("health:seed=x", "seed must be a whole number"),
])
def test_a_malformed_spec_names_the_bad_part(spec: str, named: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_faults(f"housing_fund:latency=0.1;{spec}")
    assert named in str(caught.value)
    assert "housing_fund" not in str(caught.value)


def test_the_runner_refuses_an_unknown_department(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown department 'nowhere'.*medical, health"):
        start(tmp_path, tmp_path / "keys", None, 1.0, faults="nowhere:latency=1")


# -- deciding a request's fate ----------------------------------------------------------------------------
def fates(inj: FaultInjector, count: int = 400) -> list[str | None]:
    return [inj.plan("/api/v1/cases:batch").answer for _ in range(count)]


def test_the_same_seed_gives_the_same_faults() -> None:
    first = fates(injector(error_rate=0.3, seed=11))
    assert first == fates(injector(error_rate=0.3, seed=11))
    assert first != fates(injector(error_rate=0.3, seed=12))
    assert 0.22 < first.count("error") / len(first) < 0.38


def test_setting_faults_again_restarts_the_draws() -> None:
    inj = injector(error_rate=0.5, seed=3)
    first = fates(inj, 50)
    inj.set(inj.faults)
    assert fates(inj, 50) == first


def test_only_department_apis_are_touched() -> None:
    inj = injector(error_rate=1.0, latency=1.0, malformed=1.0)
    assert inj.plan("/api/v1/cases:status").answer == "error"
    assert inj.plan("/soap/medical").answer == "error"
    for path in ("/health", "/_sim/stats", "/openapi.json"):
        assert inj.plan(path) == Plan()


def test_an_outage_follows_its_window_and_spares_only_sim_paths() -> None:
    clock = Clock()
    inj = injector(clock, outage="5-10")
    clock.now = 4.9
    assert inj.plan("/health").answer is None
    clock.now = 5.0
    assert inj.plan("/health").answer == inj.plan("/api/x").answer == "outage"
    assert inj.plan("/_sim/stats").answer is None
    clock.now = 10.0
    assert inj.plan("/api/x").answer is None


def test_a_request_counted_outage_downs_the_middle_of_a_push_then_the_department_is_back() -> None:
    inj = injector(outage_requests="2-4")
    answers = [inj.plan("/api/v1/cases:batch").answer for _ in range(6)]
    assert answers == [None, None, "outage", "outage", None, None]
    assert inj.plan("/health").answer is None  # only the counted paths, and never a count of /health
    inj.set(Faults.from_mapping({"outage_requests": [0, 1]}))  # a new setting counts from 0 again
    assert inj.plan("/soap/medical").answer == "outage"
    assert inj.faults.to_json()["outage_requests"] == [0.0, 1.0]


def test_the_rate_limit_counts_a_sliding_second() -> None:
    clock = Clock()
    inj = injector(clock, rate_limit=2)
    assert [inj.plan("/api/x").answer for _ in range(3)] == [None, None, "throttle"]
    clock.now = 0.5
    assert inj.plan("/api/x").retry_after == 1
    clock.now = 1.0
    assert inj.plan("/api/x").answer is None


# -- on a running simulation ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulation]:
    home = tmp_path_factory.mktemp("faults")
    simulation = start(home, home / "keys", None, 0.1, faults="health:error_rate=1.0")
    yield simulation
    simulation.stop()


def set_faults(url: str, **faults: object) -> requests.Response:
    return requests.post(f"{url}/_sim/faults", json=faults, timeout=5)


def test_faults_from_the_command_line_are_served_and_shown(sim: Simulation) -> None:
    url = sim.urls["health"]
    shown = requests.get(f"{url}/_sim/faults", timeout=5).json()
    answer = requests.post(f"{url}/api/v1/cases:status", json={}, timeout=5)
    assert (shown["department"], shown["error_rate"]) == ("health", 1.0)
    assert (answer.status_code, answer.json()["code"]) == (500, "SERVER_ERROR")
    assert requests.get(f"{url}/health", timeout=5).status_code == 200
    assert requests.get(f"{sim.urls['housing_fund']}/_sim/faults", timeout=5).json()["error_rate"] == 0.0


def test_faults_flip_at_runtime(sim: Simulation) -> None:
    url = sim.urls["housing_fund"]
    api = f"{url}/api/v1/cases:status"
    try:
        assert set_faults(url, wrong_content_type=1.0).json()["wrong_content_type"] == 1.0
        page = requests.post(api, json={}, timeout=5)
        assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
        assert HEADER not in page.headers  # a gateway's page, never signed by the department

        set_faults(url, malformed=1.0)
        garbled = requests.post(api, json={}, timeout=5)
        assert garbled.status_code == 401  # the gateway still answered: unsigned request
        assert len(garbled.content) == int(garbled.headers["content-length"])
        with pytest.raises(ValueError):
            json.loads(garbled.content)

        set_faults(url, rate_limit=1)
        requests.post(api, json={}, timeout=5)
        throttled = requests.post(api, json={}, timeout=5)
        assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "1")

        set_faults(url, latency=0.3)
        started = time.monotonic()
        requests.post(api, json={}, timeout=5)
        assert time.monotonic() - started >= 0.3

        set_faults(url, outage=[0, 30])
        assert requests.get(f"{url}/health", timeout=5).status_code == 503
        assert requests.get(f"{url}/_sim/stats", timeout=5).status_code == 200
    finally:
        set_faults(url)
    answer = requests.post(api, json={}, timeout=5)
    assert answer.status_code == 401 and HEADER in answer.headers  # the department's own answer: signed
    assert requests.get(f"{url}/health", timeout=5).status_code == 200


def test_a_bad_runtime_change_is_refused_and_changes_nothing(sim: Simulation) -> None:
    url = sim.urls["wanshi_tong"]
    set_faults(url, latency=0.01)
    refused = set_faults(url, error_rate=2)
    assert refused.status_code == 400
    assert "error_rate is a share of requests between 0 and 1" in refused.json()["message"]
    assert requests.get(f"{url}/_sim/faults", timeout=5).json()["latency"] == 0.01
    shown = requests.get(f"{url}/_sim/faults", timeout=5).json()
    assert set_faults(url, **shown).json() == shown  # what GET shows can be posted back
    set_faults(url)


def test_a_soap_department_answers_errors_with_a_server_fault(sim: Simulation) -> None:
    url = sim.urls["medical"]
    try:
        set_faults(url, error_rate=1.0)
        answer = requests.post(f"{url}/soap/medical", data=b"<x/>", timeout=5)
    finally:
        set_faults(url)
    fault = etree.fromstring(answer.content).find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    assert answer.status_code == 500 and answer.headers["content-type"].startswith("text/xml")
    assert fault is not None and fault.findtext("faultcode") == "soap:Server"
