"""MedicalConnector against a real 医疗保障局 simulator: what an operator or the DAG would notice."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from zeep import exceptions as zx

from connectors import load_connector
from connectors.medical.connector import MedicalConnector, translate_error
from connectors.medical.statuses import STATUS_CODES
from lianban.contract import DepartmentConnector, StatusUpdate
from lianban.domain import Status
from lianban.errors import ConfigError, FatalError, RejectedError, RetriableError

MedicalSim = Any  # tests/connectors/medical/conftest.py:MedicalSim (conftest modules are not importable)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def connector(medical_sim: MedicalSim) -> MedicalConnector:
    built = load_connector("medical", medical_sim.settings())
    assert isinstance(built, MedicalConnector)
    return built


def test_loaded_from_the_registry_it_satisfies_the_contract(connector: MedicalConnector) -> None:
    assert isinstance(connector, DepartmentConnector)
    assert connector.department == "medical"
    report = connector.health()
    assert report.ok, report.detail


def test_submit_accepts_each_delivery_and_resubmission_is_a_duplicate(
        connector: MedicalConnector, medical_sim: MedicalSim, make_batch: Any) -> None:
    batch = make_batch(range(3), "11") + make_batch(range(3, 5), "12")
    first = connector.submit(batch)
    assert [r.idempotency_key for r in first] == [d.idempotency_key for d in batch]
    assert all(r.accepted and not r.duplicate and r.department_ref for r in first)
    assert all(r.status is STATUS_CODES[r.department_code or ""] for r in first)
    again = connector.submit(batch)
    assert all(r.accepted and r.duplicate for r in again)
    assert [r.department_ref for r in again] == [r.department_ref for r in first]
    assert medical_sim.engine.stats() == {"unique": 5, "duplicates": 5, "rejected": 0}


def _poll_until_terminal(connector: MedicalConnector, keys: list[str], timeout: float = 10) -> list[StatusUpdate]:
    deadline = time.monotonic() + timeout
    while True:
        updates = connector.poll(keys)
        if all(u.status.is_terminal() for u in updates) or time.monotonic() > deadline:
            return updates
        time.sleep(0.1)


def test_statuses_progress_to_a_terminal_status_in_the_bureaus_own_codes(
        connector: MedicalConnector, make_batch: Any) -> None:
    batch = make_batch(range(8), "12")
    connector.submit(batch)
    keys = [d.idempotency_key for d in batch]
    updates = _poll_until_terminal(connector, keys)
    assert sorted(u.idempotency_key for u in updates) == sorted(keys)
    assert all(u.status.is_terminal() for u in updates)
    assert all(STATUS_CODES[u.department_code] is u.status for u in updates)
    assert Status.COMPLETED in {u.status for u in updates}  # keys fix the paths: most end 已办结
    assert all(u.changed_at[:4].isdigit() and "T" in u.changed_at for u in updates)


def test_poll_leaves_out_keys_the_bureau_never_received(connector: MedicalConnector) -> None:
    assert connector.poll(["LB-never-sent"]) == []
    assert connector.poll([]) == []


def test_a_tampered_envelope_is_refused_with_a_reason(connector: MedicalConnector, make_batch: Any) -> None:
    good, other = make_batch([1, 2])
    moved = dataclasses.replace(good, envelope=other.envelope)  # sealed for another delivery
    receipt, = connector.submit([moved])
    assert not receipt.accepted and receipt.status is None
    assert receipt.department_code == "E_SEAL"
    assert receipt.reason and "解密" in receipt.reason


def test_an_item_the_bureau_does_not_handle_is_refused(connector: MedicalConnector, medical_sim: MedicalSim,
                                                       make_batch: Any) -> None:
    receipt, = connector.submit(make_batch([7], "14"))
    assert (receipt.accepted, receipt.department_code) == (False, "E_ITEM")
    assert medical_sim.engine.stats()["rejected"] == 1


def test_wrong_password_is_a_config_error_naming_the_connection(medical_sim: MedicalSim, make_batch: Any,
                                                                medical_password: str) -> None:
    wrong = "definitely-Wrong-pw-123"
    connector = MedicalConnector.from_settings(medical_sim.settings(password=wrong))
    with pytest.raises(ConfigError) as caught:
        connector.submit(make_batch([1]))
    message = str(caught.value)
    assert "dept_medical" in message and "login/password" in message
    assert wrong not in message and medical_password not in message
    report = connector.health()
    assert not report.ok and "E_AUTH" in report.detail


def test_missing_credentials_fail_before_any_call(medical_sim: MedicalSim) -> None:
    settings = dataclasses.replace(medical_sim.settings(), password=None)
    with pytest.raises(ConfigError, match="dept_medical"):
        MedicalConnector.from_settings(settings)


def test_simulator_down_is_retriable(medical_sim: MedicalSim, make_batch: Any) -> None:
    connector = MedicalConnector.from_settings(medical_sim.settings())
    batch = make_batch([1])
    medical_sim.stop()
    with pytest.raises(RetriableError, match="cannot be reached"):
        connector.submit(batch)
    assert not connector.health().ok
    with pytest.raises(RetriableError):
        MedicalConnector.from_settings(medical_sim.settings())


def test_the_wsdl_shipped_in_the_repo_works_with_the_connection_host(medical_sim: MedicalSim,
                                                                      make_batch: Any) -> None:
    wsdl = str(REPO / "schemas" / "medical" / "medical.wsdl")
    connector = MedicalConnector.from_settings(medical_sim.settings(wsdl=wsdl))
    receipt, = connector.submit(make_batch([3]))
    assert receipt.accepted


@pytest.mark.parametrize(("failure", "expected"), [
    (zx.TransportError("", status_code=503), RetriableError),
    (zx.TransportError("", status_code=429), RetriableError),
    (zx.TransportError("", status_code=401), ConfigError),
    (zx.Fault("服务繁忙", code="soap:Server"), RetriableError),
    (zx.Fault("请求错误", code="soap:Client"), RejectedError),
    (zx.Fault("?", code="soap:MustUnderstand"), FatalError),
    (zx.XMLSyntaxError("not xml"), RetriableError),
    (zx.DTDForbidden("x", "y", "z"), FatalError),
    (zx.ValidationError("missing element"), FatalError),
    (requests.Timeout(), RetriableError),
    (requests.exceptions.SSLError(), ConfigError),
    (FileNotFoundError("medical.wsdl"), ConfigError),
])
def test_failures_map_onto_the_error_tree(failure: BaseException, expected: type[Exception]) -> None:
    error = translate_error(failure)
    assert type(error) is expected
    assert "medical (医疗保障局, connection dept_medical)" in str(error)
