"""MedicalConnector against a real 医疗保障局 simulator: what an operator or the DAG would notice."""

from __future__ import annotations

import base64
import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from zeep import exceptions as zx

from connectors.medical.connector import (
    MedicalConnector,
    receipt_from,
    supplement_receipt_from,
    translate_error,
    update_from,
)
from connectors.medical.statuses import STATUSES
from lianban.app.registry import load_connector
from lianban.domain.statuses import Status
from lianban.errors import ConfigError, FatalError, RejectedError, RetriableError
from lianban.keys.provision import ensure_keys
from lianban.wire.contract import DepartmentConnector, StatusUpdate
from lianban.wire.signatures import SignatureAlert
from simulators.kit import supply_asked

MedicalSim = Any  # tests/connectors/medical/conftest.py:MedicalSim (conftest modules are not importable)
BatchMaker = Any  # tests/connectors/medical/conftest.py:BatchMaker

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def connector(medical_sim: MedicalSim) -> MedicalConnector:
    built = load_connector("medical", medical_sim.settings(), keys_dir=medical_sim.keys_dir)
    assert isinstance(built, MedicalConnector)
    return built


def test_loaded_from_the_registry_it_satisfies_the_contract(connector: MedicalConnector) -> None:
    assert isinstance(connector, DepartmentConnector)
    assert connector.department == "medical"
    report = connector.health()
    assert report.ok, report.detail


def test_submit_accepts_each_delivery_and_resubmission_is_a_duplicate(
        connector: MedicalConnector, medical_sim: MedicalSim, make_batch: BatchMaker) -> None:
    batch = make_batch([*range(3), *((seq, "12") for seq in range(3, 5))])
    first = connector.submit(batch.deliveries, batch.seal)
    assert [r.idempotency_key for r in first] == batch.keys
    assert all(r.accepted and not r.duplicate and r.department_ref for r in first)
    assert all(r.status is STATUSES[r.department_code or ""] for r in first)
    again = make_batch.reseal(batch)  # a retry: the hub seals the same items again
    receipts = connector.submit(again.deliveries, again.seal)
    assert [r.idempotency_key for r in receipts] == batch.keys
    assert all(r.accepted and r.duplicate for r in receipts)
    assert [r.department_ref for r in receipts] == [r.department_ref for r in first]
    assert medical_sim.engine.stats() == {"unique": 5, "duplicates": 5, "rejected": 0, "refused_batches": 0}


def test_the_same_sealed_batch_sent_again_is_refused_as_a_replay(
        connector: MedicalConnector, medical_sim: MedicalSim, make_batch: BatchMaker) -> None:
    batch = make_batch(range(2))
    connector.submit(batch.deliveries, batch.seal)
    with pytest.raises(RejectedError) as caught:
        connector.submit(batch.deliveries, batch.seal)
    assert caught.value.code == "E_BATCH_REPLAY" and "重放" in caught.value.reason
    assert medical_sim.engine.stats() == {"unique": 2, "duplicates": 0, "rejected": 0, "refused_batches": 1}


def test_answers_not_signed_with_the_bureaus_key_are_not_trusted(medical_sim: MedicalSim, tmp_path: Path) -> None:
    elsewhere = tmp_path / "another-installation"
    ensure_keys(elsewhere)  # its medical-signing.pub is not the simulator's key
    connector = load_connector("medical", medical_sim.settings(), keys_dir=elsewhere)
    with pytest.raises(SignatureAlert, match="medical"):
        connector.poll(["LB-never-sent"])
    report = connector.health()
    assert not report.ok and "签名" in report.detail


def _poll_until_terminal(connector: MedicalConnector, batch: Any, keys_dir: Path,
                         timeout: float = 10) -> list[StatusUpdate]:
    """Poll until every item is final, bringing the materials any 补正资料 asks for, as an applicant would."""
    deadline = time.monotonic() + timeout
    while True:
        updates = connector.poll(batch.keys)
        if all(u.status.is_terminal() for u in updates) or time.monotonic() > deadline:
            return updates
        supply_asked(connector, keys_dir, batch.deliveries, updates)
        time.sleep(0.1)


def test_statuses_progress_to_a_terminal_status_in_the_bureaus_own_codes(
        connector: MedicalConnector, make_batch: BatchMaker, medical_sim: MedicalSim) -> None:
    batch = make_batch(range(8), "12")
    connector.submit(batch.deliveries, batch.seal)
    keys = batch.keys
    updates = _poll_until_terminal(connector, batch, medical_sim.keys_dir)
    assert sorted(u.idempotency_key for u in updates) == sorted(keys)
    assert all(u.status.is_terminal() for u in updates)
    assert all(STATUSES[u.department_code] is u.status for u in updates)
    assert Status.COMPLETED in {u.status for u in updates}  # keys fix the paths: most end 已办结
    assert all(u.changed_at[:4].isdigit() and "T" in u.changed_at for u in updates)


def test_poll_leaves_out_keys_the_bureau_never_received(connector: MedicalConnector) -> None:
    assert connector.poll(["LB-never-sent"]) == []
    assert connector.poll([]) == []


def test_a_tampered_item_makes_the_bureau_refuse_the_whole_batch(
        connector: MedicalConnector, medical_sim: MedicalSim, make_batch: BatchMaker) -> None:
    batch = make_batch([1, 2])
    good, other = batch.deliveries
    ct = bytearray(base64.b64decode(other.envelope["ct"]))
    ct[0] ^= 1
    tampered = dataclasses.replace(other, envelope={**other.envelope, "ct": base64.b64encode(ct).decode()})
    with pytest.raises(RejectedError) as caught:
        connector.submit([good, tampered], batch.seal)
    assert caught.value.code == "E_BATCH_ROOT"
    assert caught.value.reason and "摘要" in caught.value.reason
    assert "E_BATCH_ROOT" in str(caught.value) and "dept_medical" in str(caught.value)
    assert medical_sim.engine.stats() == {"unique": 0, "duplicates": 0, "rejected": 0, "refused_batches": 1}
    assert connector.poll(batch.keys) == []  # not even the untouched item was taken


def test_an_envelope_sealed_for_another_delivery_is_refused_with_a_reason(
        connector: MedicalConnector, make_batch: BatchMaker) -> None:
    good = make_batch([1]).deliveries[0]  # only its identity goes on the wire
    other = make_batch([2])
    moved = dataclasses.replace(good, envelope=other.deliveries[0].envelope)  # signed, but bound to delivery 2
    receipt, = connector.submit([moved], other.seal)
    assert not receipt.accepted and receipt.status is None
    assert receipt.department_code == "E_SEAL"
    assert receipt.reason and "解密" in receipt.reason


def test_an_item_the_bureau_does_not_handle_is_refused(connector: MedicalConnector, medical_sim: MedicalSim,
                                                       make_batch: BatchMaker) -> None:
    batch = make_batch([7], "14")
    receipt, = connector.submit(batch.deliveries, batch.seal)
    assert (receipt.accepted, receipt.department_code) == (False, "E_ITEM")
    assert medical_sim.engine.stats()["rejected"] == 1


def test_wrong_password_is_a_config_error_naming_the_connection(medical_sim: MedicalSim, make_batch: BatchMaker,
                                                                medical_password: str) -> None:
    wrong = "definitely-Wrong-pw-123"
    connector = MedicalConnector.from_settings(medical_sim.settings(password=wrong))
    batch = make_batch([1])
    with pytest.raises(ConfigError) as caught:
        connector.submit(batch.deliveries, batch.seal)
    message = str(caught.value)
    assert "dept_medical" in message and "login/password" in message
    assert wrong not in message and medical_password not in message
    report = connector.health()
    assert not report.ok and "E_AUTH" in report.detail


def test_missing_credentials_fail_before_any_call(medical_sim: MedicalSim) -> None:
    settings = dataclasses.replace(medical_sim.settings(), password=None)
    with pytest.raises(ConfigError, match="dept_medical"):
        MedicalConnector.from_settings(settings)


def test_simulator_down_is_retriable(medical_sim: MedicalSim, make_batch: BatchMaker) -> None:
    connector = MedicalConnector.from_settings(medical_sim.settings())
    batch = make_batch([1])
    medical_sim.stop()
    with pytest.raises(RetriableError, match="cannot be reached"):
        connector.submit(batch.deliveries, batch.seal)
    assert not connector.health().ok
    # A bureau that is down from the start: on port 9, as the pipeline's tests put one (tests/pipeline/
    # test_deliver.py), which no test's server is given; the stopped simulator's port was, in a parallel run,
    # while this call retried, and the other server answered HTTP 404 for the WSDL.
    down = dataclasses.replace(medical_sim, base_url="http://127.0.0.1:9")
    later = MedicalConnector.from_settings(down.settings())  # built while the bureau is down: no call yet
    with pytest.raises(RetriableError, match="无法连接"):  # its WSDL is fetched on the first call, an outage
        later.submit(batch.deliveries, batch.seal)


def test_the_wsdl_shipped_in_the_repo_works_with_the_connection_host(medical_sim: MedicalSim,
                                                                      make_batch: BatchMaker) -> None:
    wsdl = str(REPO / "schemas" / "medical" / "medical.wsdl")
    connector = load_connector("medical", medical_sim.settings(wsdl=wsdl), keys_dir=medical_sim.keys_dir)
    batch = make_batch([3])
    receipt, = connector.submit(batch.deliveries, batch.seal)
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
    assert str(error).startswith("医疗保障局（连接 dept_medical）") and "dept_medical" in str(error)


def test_a_status_naming_an_unknown_material_is_refused_naming_the_code() -> None:
    from types import SimpleNamespace

    from connectors.medical.connector import update_from

    wire = SimpleNamespace(idempotencyKey="K1", code="04", reason="请补正", changedAt="2025-03-01T10:00:00+08:00",
                           material=["M02", "M42"])
    assert update_from(SimpleNamespace(**{**vars(wire), "material": ["M02"]})).materials == ("M02",)
    with pytest.raises(FatalError, match="M42") as refused:
        update_from(wire)
    assert "医疗保障局" in str(refused.value)


def test_a_poll_sets_aside_a_status_it_cannot_read_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown material code, a time outside 2000–2100 or an unknown status code (the reason naming
    statuses.py) sets that CaseStatus aside; the others are read."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from lianban.wire.contract import UnreadableStatus

    def wire(key: str, **also: Any) -> SimpleNamespace:
        return SimpleNamespace(**{"idempotencyKey": key, "code": "03", "reason": None, "material": [],
                                  "changedAt": datetime(2025, 3, 1, 2, tzinfo=UTC), **also})

    reply = [wire("K1"), wire("K2", code="04", material=["M42"]), wire("K3", changedAt=datetime(1900, 1, 1)),
             wire("K4")]
    connector = MedicalConnector(lambda: None)  # type: ignore[arg-type,return-value]
    monkeypatch.setattr(connector, "_call", lambda operation, **kw: reply)
    polled = connector.poll(["K1", "K2", "K3", "K4"])
    assert [(u.idempotency_key, u.status) for u in polled if isinstance(u, StatusUpdate)] == [
        ("K1", Status.UNDER_REVIEW), ("K4", Status.UNDER_REVIEW)]
    aside = {u.idempotency_key: u.reason for u in polled if isinstance(u, UnreadableStatus)}
    assert "M42" in aside["K2"] and "搁置" in aside["K2"] and "changed_at" in aside["K3"]
    reply[:] = [wire("K5", code="99"), wire("K6")]
    polled = connector.poll(["K5", "K6"])
    assert [u.idempotency_key for u in polled if isinstance(u, StatusUpdate)] == ["K6"]
    unknown = [u for u in polled if isinstance(u, UnreadableStatus)]
    assert [u.idempotency_key for u in unknown] == ["K5"]
    assert "'99'" in unknown[0].reason and "connectors/medical/statuses.py" in unknown[0].reason


def test_a_name_sent_as_a_status_code_is_not_repeated_in_the_reason(record: Any) -> None:
    """The bureau's fields slipped (the applicant's name where its 办理状态码 belongs): the CaseStatus is set aside
    naming statuses.py, without the name (the reason is logged and raised to the task as it is)."""
    from types import SimpleNamespace

    from lianban.wire.contract import UnreadableStatus, read_polled

    wire = SimpleNamespace(idempotencyKey="K1", code=record.name, reason=None, material=[],
                           changedAt="2025-03-01T10:00:00+08:00")
    aside = read_polled(update_from, wire)
    assert isinstance(aside, UnreadableStatus) and aside.unknown_code
    assert "connectors/medical/statuses.py" in aside.reason and record.name not in aside.reason


def test_an_accepted_receipt_with_an_unknown_code_is_taken_without_a_status() -> None:
    from types import SimpleNamespace

    wire = SimpleNamespace(idempotencyKey="K1", accepted=True, duplicate=False, ref="YB-1", code="99", reason=None)
    taken = receipt_from(wire)
    assert (taken.accepted, taken.department_ref, taken.status, taken.department_code) == (True, "YB-1", None, "99")
    assert receipt_from(SimpleNamespace(**{**vars(wire), "code": "03"})).status is Status.UNDER_REVIEW


def test_an_accepted_supplement_receipt_with_an_unknown_code_is_taken_without_a_status() -> None:
    from types import SimpleNamespace

    wire = SimpleNamespace(supplementId="S1", accepted=True, duplicate=False, code="99", reason=None)
    taken = supplement_receipt_from(wire)
    assert (taken.idempotency_key, taken.accepted, taken.status, taken.department_code) == ("S1", True, None, "99")


@pytest.mark.parametrize("value", ["²", "3²"])
def test_a_retry_after_of_digits_python_cannot_read_as_a_number_is_ignored(value: str) -> None:
    """"²" is a digit to str.isdigit but no number to float: the response hook raised a ValueError."""
    connector = MedicalConnector(lambda: None)  # type: ignore[arg-type,return-value]  # never called here
    answer = requests.Response()
    answer.status_code, answer.headers["Retry-After"] = 503, value
    connector._note_retry_after(answer)
    assert connector._retry_after is None



@pytest.mark.parametrize(("code", "unopened"), [("E_SEAL", True), ("E_DATA", False), ("E_ITEM", False)])
def test_a_record_the_bureau_could_not_open_is_told_apart_from_one_it_refused(code: str, unopened: bool) -> None:
    """E_SEAL (decryption or integrity) is never the applicant's fault: the hub sends it again sealed anew."""
    from types import SimpleNamespace

    wire = SimpleNamespace(idempotencyKey="K1", accepted=False, duplicate=False, ref=None, code=code, reason=None)
    assert receipt_from(wire).unopened is unopened


@pytest.mark.parametrize("operation", ["submit", "supplement"])
def test_an_answer_naming_another_batch_than_the_one_sent_is_not_taken(monkeypatch: pytest.MonkeyPatch,
                                                                       operation: str) -> None:
    """The bureau's signed answer names the batch it answers (batchId): one naming another (an earlier sending's
    answer replayed, its receipts for the same keys) is refused, retried later; the right one is read."""
    from types import SimpleNamespace

    from lianban.wire.contract import SealedItem, SupplementItem

    seal = {"batch_id": "B-sent"}
    batch = [SealedItem("K1", "C1", "11", {}) if operation == "submit" else SupplementItem("K1", "S1", "C1", "11", {})]
    receipt = SimpleNamespace(idempotencyKey="K1", supplementId="S1", accepted=True, duplicate=False, ref="R1",
                              code="01", reason=None)
    connector = MedicalConnector(lambda: None)  # type: ignore[arg-type,return-value]
    replies = {"B-earlier": SimpleNamespace(batchId="B-earlier", receipt=[receipt]),
               "B-sent": SimpleNamespace(batchId="B-sent", receipt=[receipt])}
    for named in ("B-earlier", "B-sent"):
        monkeypatch.setattr(connector, "_call", lambda op, named=named, **kw: replies[named])
        if named != "B-sent":
            with pytest.raises(RetriableError, match="所发批次 B-sent"):
                getattr(connector, operation)(batch, seal)
        else:
            assert [r.idempotency_key for r in getattr(connector, operation)(batch, seal)] == \
                ["K1" if operation == "submit" else "S1"]
