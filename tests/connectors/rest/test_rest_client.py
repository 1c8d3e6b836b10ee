"""The failure → action table of connectors._rest, driven through a stub transport adapter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from connectors._rest import retry_after_seconds
from connectors.health.connector import HealthConnector
from connectors.housing_fund.connector import HousingFundConnector
from lianban.domain.statuses import Status
from lianban.errors import ConfigError, RejectedError, RetriableError
from lianban.wire.contract import StatusUpdate, SupplementItem, UnreadableStatus
from lianban.wire.settings import TransportSettings
from lianban.wire.transport import make_session

JSON = {"Content-Type": "application/json"}


def body(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def test_429_is_retriable_and_honours_retry_after(stubbed: Any) -> None:
    connector, _ = stubbed(HealthConnector, [(429, {"Retry-After": "7"}, b"")])
    with pytest.raises(RetriableError, match="限流") as caught:
        connector.poll(["k"])
    assert caught.value.retry_after == 7.0


def test_retry_after_may_be_an_http_date() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < (retry_after_seconds(later) or 0) <= 120
    assert retry_after_seconds("soon") is None


@pytest.mark.parametrize("value", ["²", "3²", "¹⁰"])
def test_a_retry_after_of_digits_python_cannot_read_as_a_number_is_none(value: str) -> None:
    """"²" is a digit to str.isdigit but no number to float: it was a ValueError out of the connector."""
    assert retry_after_seconds(value) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retriable(stubbed: Any, status: int) -> None:
    connector, _ = stubbed(HousingFundConnector, [(status, {}, b"<html>busy</html>")])
    with pytest.raises(RetriableError, match=f"dept_housing_fund.*HTTP {status}"):
        connector.poll(["k"])


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_config_errors_naming_the_connection(stubbed: Any, status: int) -> None:
    answer = body({"code": "AUTH", "message": "签名校验失败，请核对应用密钥与签名算法"})
    connector, _ = stubbed(HealthConnector, [(status, JSON, answer)])
    with pytest.raises(ConfigError, match=r"dept_health.*app id.*secret"):
        connector.poll(["k"])


@pytest.mark.parametrize("status", [408, 425])
def test_408_and_425_are_retriable_the_department_never_looked_at_it(stubbed: Any, person: Any, seal_for: Any,
                                                                    status: int) -> None:
    seal, batch = seal_for("health", [person(1, "13")])
    connector, _ = stubbed(HealthConnector, [(status, {"Retry-After": "5"}, body({"message": "Request Timeout"}))])
    with pytest.raises(RetriableError, match=f"dept_health.*HTTP {status}.*重试") as caught:
        connector.submit(batch, seal)
    assert caught.value.retry_after == 5.0


@pytest.mark.parametrize("status", [404, 405])
def test_404_and_405_are_config_errors_naming_the_address_to_check(stubbed: Any, person: Any, seal_for: Any,
                                                                  status: int) -> None:
    """No submit endpoint in schemas/health or schemas/housing_fund answers 404/405 about an item: it is the
    wrong address, as medical's connector treats it."""
    seal, batch = seal_for("housing_fund", [person(1, "14")])
    connector, _ = stubbed(HousingFundConnector, [(status, JSON, body({"message": "Not Found"}))])
    with pytest.raises(ConfigError, match=r"dept_housing_fund.*host、port"):
        connector.submit(batch, seal)


def test_other_4xx_is_rejected_with_the_department_code_and_chinese_reason(stubbed: Any) -> None:
    answer = body({"code": "ZDJYSB", "message": "退休待遇审核信息字段校验未通过"})
    connector, _ = stubbed(HealthConnector, [(400, JSON, answer)])
    with pytest.raises(RejectedError) as caught:
        connector.poll(["k"])
    assert (caught.value.code, caught.value.reason) == ("ZDJYSB", "退休待遇审核信息字段校验未通过")


@pytest.mark.parametrize(("status", "error"), [(400, RejectedError), (401, ConfigError)])
def test_a_refusal_quoting_the_applicant_is_said_masked(stubbed: Any, status: int, error: type[Exception]) -> None:
    """The department's message quoting an ID and a mobile number: the error the task fails with says it masked
    (Airflow writes a failed task's exception to its log as it is, past the log records' redaction), while the
    code and the rest of its words are kept."""
    words = "身份证号码 34162219650314015X、联系电话 13812345678 与登记信息不符"
    connector, _ = stubbed(HealthConnector, [(status, JSON, body({"code": "ZDJYSB", "message": words}))])
    with pytest.raises(error) as caught:
        connector.poll(["k"])
    said = str(caught.value)
    assert "34162219650314015X" not in said and "13812345678" not in said
    assert "341622********015X" in said and "138****5678" in said and "与登记信息不符" in said


def test_rejection_without_message_uses_the_error_table(stubbed: Any) -> None:
    connector, _ = stubbed(HousingFundConnector, [(413, JSON, body({"code": "TOO_LARGE"}))])
    with pytest.raises(RejectedError) as caught:
        connector.poll(["k"])
    assert caught.value.reason == "请求体超过大小限制"


@pytest.mark.parametrize("payload", [b"<html>gateway</html>", b"[1, 2]", body({"statuses": "x"})])
def test_malformed_answers_are_retriable(stubbed: Any, payload: bytes) -> None:
    connector, _ = stubbed(HealthConnector, [(200, JSON, payload)])
    with pytest.raises(RetriableError, match="dept_health"):
        connector.poll(["k"])


@pytest.mark.parametrize(("exc", "error"), [
    (requests.ConnectTimeout("t"), RetriableError),
    (requests.ReadTimeout("t"), RetriableError),
    (requests.ConnectionError("reset"), RetriableError),
    (requests.exceptions.SSLError("cert"), ConfigError),
])
def test_transport_failures_follow_the_table(stubbed: Any, exc: Exception, error: type[Exception]) -> None:
    connector, _ = stubbed(HealthConnector, [exc])
    with pytest.raises(error, match="dept_health"):
        connector.poll(["k"])


def test_an_answer_over_the_size_limit_says_so_not_that_the_network_failed(stubbed: Any) -> None:
    """A department answering more than the transport reads was told 网络请求失败 (a network failure): its IT
    staff would look at firewalls and lines, where the answer itself is what to look at."""
    page = body({"statuses": [_row("K1")], "page": 1, "page_size": 100, "total": 1})
    connector, adapter = stubbed(HealthConnector, [(200, JSON, page)])
    connector.client.session = make_session(TransportSettings(max_response_bytes=len(page) - 1))
    connector.client.session.mount("http://stub.invalid", adapter)
    with pytest.raises(RetriableError, match="dept_health") as caught:
        connector.poll(["K1"])
    assert "应答超过大小上限" in str(caught.value) and "网络请求失败" not in str(caught.value)


@pytest.mark.parametrize("alive", [b"OK", b"", b"<html>ok</html>"])
def test_health_takes_any_2xx_liveness_answer_as_the_document_publishes_it(stubbed: Any, alive: bytes) -> None:
    """schemas/<department>/openapi.yaml's GET /health answers 200 with no body agreed; a department answering
    plain text or nothing was reported unhealthy (应答不是约定的 JSON 对象), its signed status query never tried."""
    page = body({"statuses": [], "page": 1, "page_size": 1, "total": 0})
    connector, adapter = stubbed(HealthConnector, [(200, {"Content-Type": "text/plain"}, alive), (200, JSON, page)])
    report = connector.health()
    assert report.ok, report.detail
    assert [r.path_url for r in adapter.sent] == ["/health", "/api/v1/cases:status"]


@pytest.mark.parametrize("oversized", [{"ref": "R" * 65}, {"accepted": False, "code": "E" * 17}])
def test_a_receipt_with_a_ref_or_code_longer_than_the_ledger_keeps_is_a_malformed_answer(
        stubbed: Any, person: Any, seal_for: Any, oversized: dict[str, Any]) -> None:
    seal, batch = seal_for("health", [person(1, "13")])
    receipt = {"idempotency_key": batch[0].idempotency_key, "accepted": True, "duplicate": False, "ref": "R" * 64,
               "code": "SL", "reason": None}
    connector, _ = stubbed(HealthConnector, [(200, JSON, body({"batch_id": seal["batch_id"], "receipts": [receipt]}))])
    assert connector.submit(batch, seal)[0].department_ref == "R" * 64  # the longest the ledger keeps
    answer = {"batch_id": seal["batch_id"], "receipts": [{**receipt, **oversized}]}
    connector, _ = stubbed(HealthConnector, [(200, JSON, body(answer))])
    with pytest.raises(RetriableError, match=r"dept_health: 应答格式不符合接口规范.*longer than"):
        connector.submit(batch, seal)


def test_a_refusal_with_a_code_longer_than_the_ledger_keeps_is_a_malformed_answer(stubbed: Any) -> None:
    connector, _ = stubbed(HealthConnector, [(422, JSON, body({"code": "E" * 17, "message": "字段校验未通过"}))])
    with pytest.raises(RetriableError, match="dept_health: 应答格式不符合接口规范"):
        connector.poll(["k"])


def test_a_status_row_with_an_unknown_code_is_set_aside_naming_the_table_and_the_rest_are_read(stubbed: Any) -> None:
    rows = [{"idempotency_key": k, "code": code, "reason": None, "changed_at": "2026-03-02T09:00:00+08:00"}
            for k, code in (("k1", "SHZ"), ("k2", "XYZ"), ("k3", "BJ"))]
    connector, _ = stubbed(HealthConnector, [(200, JSON, body({"statuses": rows, "page": 1, "page_size": 100,
                                                                 "total": 3}))])
    polled = connector.poll(["k1", "k2", "k3"])
    assert [(u.idempotency_key, u.status) for u in polled if isinstance(u, StatusUpdate)] == [
        ("k1", Status.UNDER_REVIEW), ("k3", Status.COMPLETED)]
    aside = [u for u in polled if isinstance(u, UnreadableStatus)]
    assert [u.idempotency_key for u in aside] == ["k2"]
    assert "'XYZ'" in aside[0].reason and "connectors/health/statuses.py" in aside[0].reason


@pytest.mark.parametrize("reason", [12, {"text": "材料不全"}, ["材料不全"]])
def test_a_status_row_whose_reason_is_not_text_is_set_aside_and_the_rest_are_read(stubbed: Any,
                                                                                   reason: Any) -> None:
    """A reason that is no text was read as it came, and recording it (masking it) then failed the poll's page with
    a TypeError, every run, so that none of the department's later statuses was ever recorded."""
    rows = [_row("k1", reason=reason), _row("k2", reason="材料不全")]
    connector, _ = stubbed(HealthConnector, [(200, JSON, body({"statuses": rows, "page": 1, "page_size": 100,
                                                                 "total": 2}))])
    polled = connector.poll(["k1", "k2"])
    assert [(u.idempotency_key, u.reason) for u in polled if isinstance(u, StatusUpdate)] == [("k2", "材料不全")]
    aside = [u for u in polled if isinstance(u, UnreadableStatus)]
    assert [u.idempotency_key for u in aside] == ["k1"] and "reason" in aside[0].reason


def test_an_accepted_receipt_with_an_unknown_code_is_taken_without_a_status(stubbed: Any, person: Any,
                                                                            seal_for: Any) -> None:
    seal, batch = seal_for("health", [person(1, "13")])
    receipt = {"idempotency_key": batch[0].idempotency_key, "accepted": True, "duplicate": False, "ref": "R1",
               "code": "XYZ", "reason": None}
    connector, _ = stubbed(HealthConnector, [(200, JSON, body({"batch_id": seal["batch_id"], "receipts": [receipt]}))])
    taken = connector.submit(batch, seal)[0]
    assert (taken.accepted, taken.department_ref, taken.status, taken.department_code) == (True, "R1", None, "XYZ")


def test_an_accepted_supplement_receipt_with_an_unknown_code_is_taken_without_a_status(
        stubbed: Any, person: Any, seal_for: Any) -> None:
    """As for a delivery's receipt: the department took the supplement, which is what the receipt settles; an
    unknown code there must not stop the forwarding run (and have the taken supplement sent again, for ever)."""
    seal, batch = seal_for("health", [person(1, "13")])
    item = SupplementItem(batch[0].idempotency_key, "S1", batch[0].case_no, batch[0].item_code, batch[0].envelope)
    receipt = {"supplement_id": "S1", "idempotency_key": item.idempotency_key, "accepted": True,
               "duplicate": False, "code": "XYZ", "reason": None}
    connector, _ = stubbed(HealthConnector, [(200, JSON, body({"batch_id": seal["batch_id"], "receipts": [receipt]}))])
    taken = connector.supplement([item], seal)[0]
    assert (taken.idempotency_key, taken.accepted, taken.status, taken.department_code) == ("S1", True, None, "XYZ")


@pytest.mark.parametrize("operation", ["submit", "supplement"])
def test_an_answer_naming_another_batch_than_the_one_sent_is_not_taken(stubbed: Any, person: Any, seal_for: Any,
                                                                       operation: str) -> None:
    """The department's signed answer names the batch it answers: one naming an earlier sending (its answer replayed,
    with receipts for the very same keys) or none is refused, retried later; the one naming this batch is read."""
    seal, batch = seal_for("health", [person(1, "13")])
    item = SupplementItem(batch[0].idempotency_key, "S1", batch[0].case_no, batch[0].item_code, batch[0].envelope)
    receipt = {"idempotency_key": batch[0].idempotency_key, "supplement_id": "S1", "accepted": True,
               "duplicate": False, "ref": "R1", "code": "SL", "reason": None}
    sent = [batch if operation == "submit" else [item], seal]
    for named, said in (({"batch_id": "B-earlier"}, f"所答批次不是所发批次 {seal['batch_id']}"),
                        ({}, "应答未写明所答批次号 batch_id.*请部门按接口文档升级")):  # a department not upgraded yet
        connector, _ = stubbed(HealthConnector, [(200, JSON, body({**named, "receipts": [receipt]}))])
        with pytest.raises(RetriableError, match=said):
            getattr(connector, operation)(*sent)
    connector, _ = stubbed(HealthConnector, [(200, JSON, body({"batch_id": seal["batch_id"], "receipts": [receipt]}))])
    assert getattr(connector, operation)(*sent)[0].accepted


def test_missing_receipts_are_retriable(stubbed: Any, person: Any, seal_for: Any) -> None:
    seal, batch = seal_for("health", [person(1, "13")])
    connector, _ = stubbed(HealthConnector, [(200, JSON, body({"batch_id": seal["batch_id"], "receipts": []}))])
    with pytest.raises(RetriableError, match="回执"):
        connector.submit(batch, seal)


def test_every_request_is_signed_and_batches_have_stable_ids(stubbed: Any, person: Any, seal_for: Any) -> None:
    seal, batch = seal_for("health", [person(1, "13")])
    receipts = {"batch_id": seal["batch_id"], "receipts": [{"idempotency_key": batch[0].idempotency_key,
                "accepted": True, "duplicate": False, "ref": "R1", "code": "SL", "reason": None}]}
    connector, adapter = stubbed(HealthConnector, [(200, JSON, body(receipts))])
    connector.submit(batch, seal)
    connector.submit(batch, seal)
    first, second = (json.loads(r.body) for r in adapter.sent)
    assert first["batch_id"] == second["batch_id"] == seal["batch_id"]  # one batch id in the request: its seal's
    assert first["seal"] == second["seal"] == seal  # the batch travels with its seal, whole
    assert [i["envelope"] for i in first["items"]] == [d.envelope for d in batch]
    assert {"X-App-Id", "X-Timestamp", "X-Nonce", "X-Signature"} <= set(adapter.sent[0].headers)
    assert adapter.sent[0].headers["X-Nonce"] != adapter.sent[1].headers["X-Nonce"]


def test_answers_are_trusted_only_with_the_departments_signature(stubbed: Any, keys_dir: Any) -> None:
    from lianban.keys.provision import ensure_keys
    from lianban.wire.signatures import AnswerCheck, SignatureAlert

    ensure_keys(keys_dir)
    check = AnswerCheck.load(keys_dir, "health")
    page = body({"statuses": [], "page": 1, "page_size": 100, "total": 0})
    connector, _ = stubbed(HealthConnector, [(200, JSON, page)], check)
    with pytest.raises(SignatureAlert, match="health") as caught:
        connector.poll(["k"])  # a well-formed answer without a signature is not trusted: alert, retry
    assert isinstance(caught.value, RetriableError)
    # gateway-level refusals and failures carry no department signature and keep their own branch
    for answer, error in [((429, {"Retry-After": "3"}, b""), RetriableError),
                          ((401, JSON, body({"code": "AUTH", "message": "签名校验失败"})), ConfigError),
                          ((503, {}, b"<html>busy</html>"), RetriableError)]:
        connector, _ = stubbed(HealthConnector, [answer], check)
        with pytest.raises(error) as refused:
            connector.poll(["k"])
        assert not isinstance(refused.value, SignatureAlert)


def _row(key: str, **also: Any) -> dict[str, Any]:
    return {"idempotency_key": key, "code": "SHZ", "reason": None, "changed_at": "2025-03-01T10:00:00+08:00",
            **also}


def test_a_poll_sets_each_unreadable_row_aside_and_reads_the_rest_of_its_page_and_the_next(stubbed: Any) -> None:
    """An unknown material code, a result that is no object, a changed_at not ISO 8601: only that row is set
    aside, with why; the rows beside it and the following page are read."""
    bad = [_row("K2", code="BZZL", materials=["M01", "M42"]), _row("K3", result="3000"),
           _row("K4", changed_at="2025/03/01 10:00")]
    pages = [[_row("K1"), *bad], [_row("K5")]]
    answers = [(200, JSON, body({"statuses": rows, "page": n, "page_size": 4, "total": 5}))
               for n, rows in enumerate(pages, 1)]
    connector, adapter = stubbed(HealthConnector, answers)
    polled = connector.poll(["K1", "K2", "K3", "K4", "K5"])
    read = {u.idempotency_key: u.status for u in polled if isinstance(u, StatusUpdate)}
    aside = {u.idempotency_key: u.reason for u in polled if isinstance(u, UnreadableStatus)}
    assert read == {"K1": Status.UNDER_REVIEW, "K5": Status.UNDER_REVIEW} and len(adapter.sent) == 2
    assert "M42" in aside["K2"] and "材料目录" in aside["K2"] and "dept_health" in aside["K2"]
    assert "result" in aside["K3"] and "changed_at" in aside["K4"] and "2025/03/01" not in aside["K4"]


@pytest.mark.parametrize("envelope", [{"statuses": {"K1": _row("K1")}, "page": 1, "page_size": 100, "total": 1},
                                      {"statuses": [_row("K1")], "page": 1, "page_size": 100},
                                      {"statuses": [_row("K1")], "page": 1, "page_size": None, "total": 1},
                                      # a page size of none or fewer rows would never reach the total: asked for ever
                                      {"statuses": [_row("K1")], "page": 1, "page_size": 0, "total": 2},
                                      {"statuses": [_row("K1")], "page": 1, "page_size": -1, "total": 2}])
def test_an_answer_whose_envelope_is_broken_is_still_malformed_as_a_whole(stubbed: Any,
                                                                          envelope: dict[str, Any]) -> None:
    connector, _ = stubbed(HealthConnector, [(200, JSON, body(envelope))])
    with pytest.raises(RetriableError, match="dept_health: 应答格式不符合接口规范"):
        connector.poll(["K1"])


@pytest.mark.parametrize("changed_at", ["2025/03/01 10:00", "", "t", "1999-12-31T23:59:59+08:00",
                                        "9999-12-31T23:59:59+08:00", 20250301, None])
def test_a_status_row_whose_changed_at_is_not_plausible_iso_8601_is_not_read(stubbed: Any, changed_at: Any) -> None:
    connector, _ = stubbed(HealthConnector, [(200, JSON, b"{}")])
    with pytest.raises(ValueError, match="changed_at") as refused:
        connector.read_status(_row("K1", changed_at=changed_at))
    assert len(str(changed_at)) < 5 or str(changed_at) not in str(refused.value)  # the value is not quoted
    assert connector.read_status(_row("K1")).changed_at == "2025-03-01T10:00:00+08:00"


def test_a_set_aside_rows_reason_quotes_no_personal_data_and_is_bounded(stubbed: Any) -> None:
    """What the department sent is quoted in the reason logged and raised: an ID or mobile number in it is masked,
    and a code of any length is cut."""
    rows = [{"idempotency_key": "k1", "code": "13812345678", "reason": None, "changed_at": "2026-03-02T09:00:00"},
            {"idempotency_key": "k2", "code": "Z" * 5000, "reason": None, "changed_at": "2026-03-02T09:00:00"}]
    connector, _ = stubbed(HealthConnector, [(200, JSON, body({"statuses": rows, "page": 1, "page_size": 100,
                                                                 "total": 2}))])
    first, second = (u for u in connector.poll(["k1", "k2"]) if isinstance(u, UnreadableStatus))
    assert "13812345678" not in first.reason and "138****5678" in first.reason
    assert len(second.reason) == 300 and second.unknown_code


@pytest.mark.parametrize("broken", [{"accepted": "false"}, {"accepted": False, "reason": {"text": "证件号码有误"}},
                                    {"accepted": True, "code": "SL", "reason": 12}, {"duplicate": "no"}])
def test_a_receipt_whose_flags_or_reason_are_not_of_the_agreed_type_is_a_malformed_answer(
        stubbed: Any, person: Any, seal_for: Any, broken: dict[str, Any]) -> None:
    """``"accepted": "false"`` was read as accepted (bool of a non-empty string); a reason that is no text was
    taken, and settling the receipt then failed (TypeError masking it) after the department had the batch."""
    seal, batch = seal_for("health", [person(1, "13")])
    receipt = {"idempotency_key": batch[0].idempotency_key, "accepted": False, "duplicate": False, "ref": None,
               "code": "ZDJYSB", "reason": "字段校验未通过", **broken}
    connector, _ = stubbed(HealthConnector, [(200, JSON, body({"batch_id": seal["batch_id"], "receipts": [receipt]}))])
    with pytest.raises(RetriableError, match="dept_health: 应答格式不符合接口规范"):
        connector.submit(batch, seal)


@pytest.mark.parametrize(("status", "error", "says"), [
    (403, ConfigError, "app id"), (404, ConfigError, "host、port"), (405, ConfigError, "host、port"),
    (408, RetriableError, "网关超时或暂未就绪"), (425, RetriableError, "网关超时或暂未就绪"),
    (307, ConfigError, "重定向")])
def test_a_gateways_unsigned_answer_that_applies_nothing_keeps_its_own_branch(
        stubbed: Any, keys_dir: Any, person: Any, seal_for: Any, status: int, error: type[Exception],
        says: str) -> None:
    """A wrong address (a 404 page from whatever listens there), a refused app id or a gateway's timeout carries
    no department signature: it was reported as 应答签名校验失败 (tampering), retried until dead-lettered,
    instead of naming the setting to fix or retrying as what it is. Nothing of such an answer is applied."""
    from lianban.keys.provision import ensure_keys
    from lianban.wire.signatures import AnswerCheck, SignatureAlert

    ensure_keys(keys_dir)
    seal, batch = seal_for("health", [person(1, "13")])
    connector, _ = stubbed(HealthConnector, [(status, {"Content-Type": "text/html"}, b"<html>nginx</html>")],
                           AnswerCheck.load(keys_dir, "health"))
    with pytest.raises(error, match=says) as caught:
        connector.submit(batch, seal)
    assert not isinstance(caught.value, SignatureAlert)


def test_an_unsigned_refusal_carries_no_department_code(stubbed: Any, keys_dir: Any, person: Any,
                                                        seal_for: Any) -> None:
    """A 413 is let through unsigned (a gateway's size limit): its batch is still split, but a code in its body
    is not the department's word. It was taken, and a single item so refused was dead-lettered 不予受理 with
    the applicant told; without a code it backs off (lianban.pipeline.deliver.refused_for_good)."""
    from lianban.keys.provision import ensure_keys
    from lianban.wire.signatures import AnswerCheck

    ensure_keys(keys_dir)
    seal, batch = seal_for("health", [person(1, "13")])
    too_large = (413, JSON, body({"code": "TOO_LARGE", "message": "请求体超过大小限制"}))
    connector, _ = stubbed(HealthConnector, [too_large], AnswerCheck.load(keys_dir, "health"))
    with pytest.raises(RejectedError, match="HTTP 413") as caught:
        connector.submit(batch, seal)
    assert caught.value.code == ""
    connector, _ = stubbed(HealthConnector, [too_large])  # no answer check (tests, a party that signs nothing)
    with pytest.raises(RejectedError) as unchecked:
        connector.submit(batch, seal)
    assert unchecked.value.code == "TOO_LARGE"


def test_a_redirect_is_not_followed_and_says_to_check_the_address(stubbed: Any, seal_for: Any, person: Any) -> None:
    seal, batch = seal_for("health", [person(1, "13")])
    connector, _ = stubbed(HealthConnector, [(307, {"Location": "https://elsewhere.example/api"}, b"")])
    with pytest.raises(ConfigError, match="重定向") as caught:
        connector.submit(batch, seal)
    assert "elsewhere" not in str(caught.value)
