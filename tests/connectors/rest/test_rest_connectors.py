"""The suite every REST department connector (health, housing_fund) passes against its real simulator."""

from __future__ import annotations

import base64
import socket
import time
from dataclasses import replace
from typing import Any

import pytest
import yaml

from lianban.app.config import connection_json
from lianban.domain.catalog import load_catalog
from lianban.domain.schemas import schema_path
from lianban.domain.statuses import Status
from lianban.errors import ConfigError, RejectedError, RetriableError
from lianban.wire.contract import MAX_CODE_LENGTH, MAX_REF_LENGTH, DepartmentConnector
from lianban.wire.settings import parse_connection
from simulators.kit import supply_asked

# fixtures (live, spec, credentials, person) come from conftest.py beside this file


def test_connector_satisfies_the_contract(live: Any) -> None:
    connector = live.connector()
    assert isinstance(connector, DepartmentConnector)
    assert connector.department == live.spec.key


def test_every_status_code_maps_to_a_distinct_unified_status(spec: Any) -> None:
    table = spec.statuses.STATUSES
    assert sorted(table.values()) == sorted(Status)
    assert all(code in spec.statuses.CODES.values() for code in table)


def test_every_refusal_code_the_department_sends_is_explained(spec: Any) -> None:
    # a sealed batch refused whole: simulators.engine.BatchRefused codes, answered as BATCH_<code>
    batch_refusals = [f"BATCH_{code}" for code in ("SIG", "DEPT", "KEY", "STALE", "REPLAY", "ROOT", "FORMAT",
                                                              "SUITE")]
    for code in [*spec.engine_errors.values(), "AUTH", "BAD_JSON", "INVALID_REQUEST", "TOO_LARGE",
                 *batch_refusals]:
        assert spec.statuses.ERRORS.get(code), code


def test_no_submit_endpoint_documents_an_answer_the_connector_retries_or_takes_for_a_wrong_address(
        spec: Any) -> None:
    """408/425 are retried and 404/405 are a wrong address (connectors._rest.HTTP_ACTIONS): the department's own
    document must not use any of them to refuse what was sent."""
    paths = yaml.safe_load(schema_path(spec.key, "openapi.yaml").read_text(encoding="utf-8"))["paths"]
    for endpoint in ("/api/v1/cases:batch", "/api/v1/cases:supplement"):
        assert not {"404", "405", "408", "425"} & set(paths[endpoint]["post"]["responses"]), endpoint


def test_the_receipt_schema_bounds_ref_and_code_as_the_ledger_keeps_them(spec: Any) -> None:
    """What the hub would read as malformed (connectors._rest.bounded) is out of the department's contract."""
    schemas = yaml.safe_load(schema_path(spec.key, "openapi.yaml").read_text(encoding="utf-8"))["components"]["schemas"]
    assert schemas["ReceiptOut"]["properties"]["ref"]["maxLength"] == MAX_REF_LENGTH
    for receipt in ("ReceiptOut", "SupplementReceiptOut"):
        assert schemas[receipt]["properties"]["code"]["maxLength"] == MAX_CODE_LENGTH
    assert schemas["ApiError"]["properties"]["code"]["maxLength"] == MAX_CODE_LENGTH
    codes = [*schemas["StatusCode"]["enum"], *schemas["ErrorCode"]["enum"]]
    assert max(map(len, codes)) <= MAX_CODE_LENGTH


def test_submitting_twice_is_safe(live: Any) -> None:
    connector, items = live.connector(), live.items(25)
    seal, batch = live.seal(items)
    first = connector.submit(batch, seal)
    resent_seal, resent = live.seal(items)  # a resend is sealed afresh (new batch nonce and time)
    second = connector.submit(resent, resent_seal)
    assert [r.idempotency_key for r in first] == [d.idempotency_key for d in batch]
    assert all(r.accepted and not r.duplicate and r.department_ref for r in first)
    assert all(r.accepted and r.duplicate for r in second)
    assert [r.department_ref for r in second] == [r.department_ref for r in first]
    assert live.stats() == {"unique": 25, "duplicates": 25, "rejected": 0, "refused_batches": 0}


def test_the_same_sealed_batch_twice_is_refused_as_a_replay(live: Any) -> None:
    connector, (seal, batch) = live.connector(), live.batch(3)
    connector.submit(batch, seal)
    with pytest.raises(RejectedError) as refused:
        connector.submit(batch, seal)
    assert refused.value.code == "BATCH_REPLAY" and "重放" in (refused.value.reason or "")
    assert live.stats() == {"unique": 3, "duplicates": 0, "rejected": 0, "refused_batches": 1}


def test_a_tampered_item_makes_the_department_refuse_the_whole_batch(live: Any) -> None:
    seal, batch = live.batch(3)
    envelope = dict(batch[1].envelope)
    ct = bytearray(base64.b64decode(envelope["ct"]))
    ct[0] ^= 1
    envelope["ct"] = base64.b64encode(bytes(ct)).decode()
    tampered = [batch[0], replace(batch[1], envelope=envelope), batch[2]]
    with pytest.raises(RejectedError) as refused:
        live.connector().submit(tampered, seal)
    assert refused.value.code == "BATCH_ROOT" and "篡改" in (refused.value.reason or "")
    seal, batch = live.batch(3)  # an item left out is refused the same way
    with pytest.raises(RejectedError, match="BATCH_ROOT"):
        live.connector().submit(batch[:2], seal)
    assert live.stats() == {"unique": 0, "duplicates": 0, "rejected": 0, "refused_batches": 2}


def test_a_forged_seal_is_refused(live: Any) -> None:
    seal, batch = live.batch(2)
    with pytest.raises(RejectedError) as refused:
        live.connector().submit(batch, {**seal, "count": 3})  # any edit breaks the hub's signature
    assert refused.value.code == "BATCH_SIG" and refused.value.reason
    assert live.stats()["unique"] == 0


def test_receipt_reports_the_status_in_both_vocabularies(live: Any) -> None:
    seal, batch = live.batch(5)
    receipts = live.connector().submit(batch, seal)
    for r in receipts:
        assert r.status in Status
        assert live.spec.statuses.STATUSES[r.department_code] is r.status


def test_refusals_carry_the_department_code_and_a_chinese_reason(live: Any, person: Any) -> None:
    # a medical item sent to the wrong department, and an item whose envelope is bound to another case
    seal, (wrong_item, sealed) = live.seal([person(1, "11"), person(2, live.spec.item_code)])
    moved = replace(sealed, case_no="BZ-OTHER")  # the envelope (and so the signed tree) is unchanged
    refused = live.connector().submit([wrong_item, moved], seal)
    assert [r.accepted for r in refused] == [False, False]
    errors = live.spec.engine_errors
    assert [r.department_code for r in refused] == [errors["ITEM"], errors["SEAL"]]
    assert "不属于本部门" in (refused[0].reason or "")
    assert "解密" in (refused[1].reason or "")


@pytest.mark.parametrize("step_seconds", [0.0])
def test_poll_follows_every_page(live: Any) -> None:
    connector = live.connector()
    seal, batch = live.batch(23)
    connector.submit(batch, seal)
    connector.page_size = 5  # 5 pages
    updates = connector.poll([d.idempotency_key for d in batch] + ["never-sent"])
    assert sorted(u.idempotency_key for u in updates) == sorted(d.idempotency_key for d in batch)
    item = load_catalog().items[live.spec.item_code]  # health's item 13 ends at 审核通过: HRSS completes it
    assert all(item.settled(connector.department, u.status) or (u.status is Status.SUPPLEMENT and u.materials)
               for u in updates)


@pytest.mark.parametrize("step_seconds", [0.3])
def test_statuses_progress_to_a_terminal_status(live: Any) -> None:
    """Each item moves forward along its path (never back), and every item ends final."""
    from simulators.engine import choose_path

    connector = live.connector()
    seal, batch = live.batch(30)
    connector.submit(batch, seal)
    keys = [d.idempotency_key for d in batch]
    first = {u.idempotency_key: u.status for u in connector.poll(keys)}
    time.sleep(2 * 0.3 + 0.1)  # every 补正 item waits at 补正资料: the applicant brings what it asks for
    supply_asked(connector, live.keys_dir, batch, connector.poll(keys))
    time.sleep(5 * 0.3 + 0.2)
    connector.poll(keys)  # a few items misbehave once (an old or an illegal status): the next poll is true
    final = {u.idempotency_key: u.status for u in connector.poll(keys)}
    item = load_catalog().items[live.spec.item_code]
    assert set(final) == set(first) == set(keys)
    assert all(item.settled(connector.department, s) for s in final.values())
    for key in keys:
        path = choose_path(key, completes=item.completer == connector.department)[0]
        if first[key] not in path:  # health's once-only 已办结 for item 13 (refused by the hub), on a slow first poll
            assert first[key] is Status.COMPLETED and path[-1] is Status.APPROVED
            continue
        assert path.index(first[key]) <= path.index(final[key]) == len(path) - 1
    last_word = Status.COMPLETED if item.completer == connector.department else Status.APPROVED
    assert last_word in set(final.values())


def test_wrong_secret_is_a_config_error_naming_the_connection(live: Any) -> None:
    connector, (seal, batch) = live.connector(secret="not-the-secret"), live.batch(1)
    with pytest.raises(ConfigError, match=f"dept_{live.spec.key}.*app id"):
        connector.submit(batch, seal)
    report = connector.health()
    assert not report.ok and "app id" in report.detail


def test_health_says_ok_when_reachable_and_signed(live: Any) -> None:
    report = live.connector().health()
    assert report.ok, report.detail


def test_from_settings_builds_a_signing_session(live: Any, credentials: tuple[str, str]) -> None:
    settings = parse_connection(live.spec.key, connection_json(live.url, *credentials, batch_size=7))
    connector = live.spec.connector.from_settings(settings)
    assert connector.batch_size == 7
    seal, batch = live.batch(3)
    assert all(r.accepted for r in connector.submit(batch, seal))


def test_from_settings_without_credentials_is_a_config_error(spec: Any) -> None:
    settings = parse_connection(spec.key, connection_json("http://127.0.0.1:1"))
    with pytest.raises(ConfigError, match=f"dept_{spec.key}"):
        spec.connector.from_settings(settings)


def test_server_down_is_retriable(spec: Any, credentials: tuple[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the connector calls it
    settings = parse_connection(spec.key, connection_json(f"http://127.0.0.1:{port}", *credentials))
    connector = spec.connector.from_settings(settings)
    with pytest.raises(RetriableError, match=f"dept_{spec.key}"):
        connector.poll(["k1"])
    assert not connector.health().ok


def test_the_document_says_a_batch_refused_for_its_envelope_is_answered_400(spec: Any) -> None:
    """The department answers 400 BATCH_<CODE> for a batch whose seal fails (simulators/rest_department.py); the
    document gave 400 as malformed JSON only."""
    document = yaml.safe_load(schema_path(spec.key, "openapi.yaml").read_text(encoding="utf-8"))
    for endpoint in ("/api/v1/cases:batch", "/api/v1/cases:supplement"):
        ref = document["paths"][endpoint]["post"]["responses"]["400"]["$ref"]
        said = document["components"]["responses"][ref.rpartition("/")[2]]["description"]
        for code in ("BAD_JSON", *(f"BATCH_{c}" for c in ("SIG", "KEY", "STALE", "REPLAY", "ROOT", "FORMAT", "SUITE"))):
            assert code in said, (endpoint, code)
