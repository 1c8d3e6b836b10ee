"""The simulated REST department, spoken to over real HTTP as a department's gateway would be."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from connectors.health import statuses as health_statuses
from connectors.housing_fund import statuses as housing_statuses
from lianban.crypto.batch import seal_batch
from lianban.domain.catalog import load_catalog
from lianban.domain.schemas import schema_path
from lianban.domain.statuses import Status
from lianban.keys import keysets
from lianban.keys.names import hub_signing_name, names_for, suite_of
from lianban.wire.contract import SealedItem
from lianban.wire.gateway import sign_headers
from lianban.wire.ids import aad
from simulators.engine import BATCH_ID_MISMATCH, choose_path
from simulators.kit import Item, Supplied, engine_for, seal_items, seal_supplements, supplement_wire, wire
from simulators.people import make_id_number
from simulators.rest_department import create_app, serve_in_background

APP_ID, SECRET = "lianban-hub", "sim-secret"
BATCH, STATUS = "/api/v1/cases:batch", "/api/v1/cases:status"


class Gateway:
    """A raw client: signs like a real caller, and can misbehave on purpose."""

    def __init__(self, url: str, secret: str = SECRET) -> None:
        self.url, self.secret = url, secret

    def post(self, path: str, payload: Any = None, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> requests.Response:
        data = raw if raw is not None else json.dumps(payload).encode()
        signed = headers or sign_headers(APP_ID, self.secret, "POST", path, data)
        return requests.post(self.url + path, data=data, timeout=10,
                             headers={**signed, "Content-Type": "application/json"})


def item(seq: int, item_code: str = "13", **fields: Any) -> Item:
    """One synthetic person's case item (its fields overridden by `fields`)."""
    key, case_no = f"K{seq:05d}", f"BZ{seq:08d}"
    payload = {"name": f"测试{seq}", "id_number": make_id_number("341623", date(1964, 7, 9), seq, male=False),
               "employer_name": "亳州市测试商贸有限公司", "pension_start": "2024-08", "phone": "13900000000"}
    return Item(key, case_no, item_code, {**payload, **fields})


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def url(tmp_path: Path, keys_dir: Path) -> Iterator[str]:
    engine = engine_for(keys_dir, "health", tmp_path / "health.db", step_seconds=0)
    app = create_app(engine, APP_ID, SECRET, health_statuses.CODES)
    with serve_in_background(app) as base:
        yield base


def batch(keys_dir: Path, items: list[Item]) -> dict[str, Any]:
    """The request body of POST /api/v1/cases:batch: `items` sealed as one batch for health (named by its seal's
    batch id, as the hub names it)."""
    seal, deliveries = seal_items(keys_dir, "health", items)
    return {"batch_id": seal["batch_id"], "seal": seal, "items": wire(deliveries)}


def stats(url: str) -> dict[str, int]:
    result: dict[str, int] = requests.get(f"{url}/_sim/stats", timeout=5).json()
    return result


def test_batch_answers_one_receipt_per_item_and_dedupes(url: str, keys_dir: Path) -> None:
    gw = Gateway(url)
    items = [item(n) for n in range(3)]
    first = gw.post(BATCH, batch(keys_dir, items)).json()["receipts"]
    again = gw.post(BATCH, batch(keys_dir, items)).json()["receipts"]  # a resend is sealed afresh
    assert [r["duplicate"] for r in first + again] == [False] * 3 + [True] * 3
    assert all(r["code"] in health_statuses.STATUSES for r in first)
    assert stats(url) == {"unique": 3, "duplicates": 3, "rejected": 0, "refused_batches": 0}


def test_refusal_codes_are_the_departments_own(url: str, keys_dir: Path) -> None:
    bad_id = item(1, id_number="341623196407090000")
    receipts = Gateway(url).post(BATCH, batch(keys_dir, [bad_id, item(2, "14")])).json()
    assert [(r["accepted"], r["code"]) for r in receipts["receipts"]] == [(False, "ZDJYSB"), (False, "SXBSY")]
    assert "身份证" in receipts["receipts"][0]["reason"]


def test_an_item_bound_to_another_case_is_refused_as_undecryptable(url: str, keys_dir: Path) -> None:
    body = batch(keys_dir, [item(1), item(2)])
    body["items"][1]["case_no"] = "BZ-OTHER"  # its envelope (and the signed tree) unchanged
    receipts = Gateway(url).post(BATCH, body).json()["receipts"]
    assert receipts[0]["accepted"] and receipts[0]["code"] in health_statuses.STATUSES
    assert (receipts[1]["accepted"], receipts[1]["code"]) == (False, "JMSB")
    assert "解密" in receipts[1]["reason"]


def test_the_same_sealed_batch_twice_is_refused_as_a_replay(url: str, keys_dir: Path) -> None:
    gw, body = Gateway(url), batch(keys_dir, [item(1)])
    assert gw.post(BATCH, body).status_code == 200
    replay = gw.post(BATCH, body)
    assert (replay.status_code, replay.json()["code"]) == (400, "BATCH_REPLAY")
    assert "重放" in replay.json()["message"]
    assert stats(url) == {"unique": 1, "duplicates": 0, "rejected": 0, "refused_batches": 1}


@pytest.mark.parametrize(("change", "code"), [
    (lambda b: b["items"][0]["envelope"].update(ct=b["items"][1]["envelope"]["ct"]), "BATCH_ROOT"),
    (lambda b: b["items"].reverse(), "BATCH_ROOT"),
    (lambda b: b["items"].pop(), "BATCH_ROOT"),
    (lambda b: b["seal"].update(count=1), "BATCH_SIG"),
    (lambda b: b["seal"].update(signer_kid="hub-unknown"), "BATCH_SIG"),
    (lambda b: b["seal"].pop("root"), "BATCH_FORMAT"),
    (lambda b: b["seal"].update(suite="NIST"), "BATCH_SUITE"),
])
def test_a_tampered_or_forged_batch_is_refused_whole_in_chinese(url: str, keys_dir: Path, change: Any,
                                                                 code: str) -> None:
    body = batch(keys_dir, [item(1), item(2)])
    change(body)
    refused = Gateway(url).post(BATCH, body)
    assert (refused.status_code, refused.json()["code"]) == (400, code)
    assert not refused.json()["message"].isascii()  # a Chinese reason
    assert stats(url) == {"unique": 0, "duplicates": 0, "rejected": 0, "refused_batches": 1}


def test_a_batch_addressed_to_another_department_is_refused_as_such(url: str, keys_dir: Path) -> None:
    """Sealed for health's key but naming housing_fund in its signed header (a hub connection pointed at the
    wrong department's address): refused whole with its own code, not taken, and not refused as a KEY error."""
    items = [item(1)]
    seal_items(keys_dir, "health", items)  # the keys
    recipient = keysets.load(keys_dir, names_for("health")[0], public_only=True)
    signer_kid, signer_key = keysets.load(keys_dir, hub_signing_name(suite_of("health"))).active_private()
    sealed = seal_batch(suite_of("health"), recipient.active, recipient.public[recipient.active], signer_kid,
                        signer_key, "housing_fund", [(aad(i.idempotency_key, i.case_no, i.item_code), i.payload)
                                                     for i in items])
    deliveries = [SealedItem(i.idempotency_key, i.case_no, i.item_code, e)
                  for i, e in zip(items, sealed.envelopes, strict=True)]
    refused = Gateway(url).post(BATCH, {"batch_id": sealed.header["batch_id"], "seal": sealed.header,
                                        "items": wire(deliveries)})
    assert (refused.status_code, refused.json()["code"]) == (400, "BATCH_DEPT")
    assert refused.json()["message"] == health_statuses.ERRORS["BATCH_DEPT"]
    assert stats(url) == {"unique": 0, "duplicates": 0, "rejected": 0, "refused_batches": 1}


def test_a_request_naming_another_batch_than_its_seal_is_refused_whole(url: str, keys_dir: Path) -> None:
    """Two batch ids in one request, the body's and the signed seal's: when they differ the batch is refused
    whole, said as such, and nothing in it is taken (they were never compared)."""
    body = batch(keys_dir, [item(1)])
    refused = Gateway(url).post(BATCH, {**body, "batch_id": "B-another"})
    assert (refused.status_code, refused.json()["code"]) == (400, "BATCH_FORMAT")
    assert refused.json()["message"] == BATCH_ID_MISMATCH
    assert stats(url) == {"unique": 0, "duplicates": 0, "rejected": 0, "refused_batches": 1}
    assert Gateway(url).post(BATCH, body).status_code == 200  # the same batch, named right, is taken


def test_a_batch_without_its_seal_does_not_fit_the_schema(url: str, keys_dir: Path) -> None:
    body = batch(keys_dir, [item(1)])
    del body["seal"]
    resp = Gateway(url).post(BATCH, body)
    assert resp.status_code == 422 and "seal（字段缺失）" in resp.json()["message"]
    assert stats(url)["unique"] == 0


def test_status_pages_cover_every_known_key(url: str, keys_dir: Path) -> None:
    gw = Gateway(url)
    items = [item(n) for n in range(7)]
    gw.post(BATCH, batch(keys_dir, items))
    keys = [i.idempotency_key for i in items] + ["unknown"]
    pages = [gw.post(STATUS, {"keys": keys, "page": p, "page_size": 3}).json() for p in (1, 2, 3)]
    assert [len(p["statuses"]) for p in pages] == [3, 3, 1]
    assert {p["total"] for p in pages} == {7}
    assert {s["code"] for p in pages for s in p["statuses"]} <= set(health_statuses.STATUSES)


def test_unsigned_request_is_refused_in_chinese(url: str) -> None:
    resp = requests.post(url + STATUS, json={"keys": []}, timeout=5)
    assert resp.status_code == 401
    assert resp.json()["code"] == "AUTH" and "缺少" in resp.json()["message"]


def test_wrong_secret_is_refused(url: str) -> None:
    resp = Gateway(url, secret="guess").post(STATUS, {"keys": []})
    assert resp.status_code == 401 and "签名" in resp.json()["message"]


def test_replayed_request_is_refused(url: str) -> None:
    data = json.dumps({"keys": []}).encode()
    headers = sign_headers(APP_ID, SECRET, "POST", STATUS, data)
    gw = Gateway(url)
    assert gw.post(STATUS, raw=data, headers=headers).status_code == 200
    replay = gw.post(STATUS, raw=data, headers=headers)
    assert replay.status_code == 401 and "重放" in replay.json()["message"]


def test_a_request_replayed_to_another_worker_on_the_same_database_is_refused(tmp_path: Path, keys_dir: Path) -> None:
    """Each worker kept its own nonces in memory: a signed request replayed to a second worker serving the same
    department database passed. The nonces are kept in that database now."""
    workers = [create_app(engine_for(keys_dir, "health", tmp_path / "health.db", step_seconds=0), APP_ID, SECRET,
                          health_statuses.CODES) for _ in range(2)]
    data = json.dumps({"keys": []}).encode()
    headers = sign_headers(APP_ID, SECRET, "POST", STATUS, data)
    with serve_in_background(workers[0]) as first, serve_in_background(workers[1]) as second:
        assert Gateway(first).post(STATUS, raw=data, headers=headers).status_code == 200
        replay = Gateway(second).post(STATUS, raw=data, headers=headers)
    assert replay.status_code == 401 and "重放" in replay.json()["message"]


def test_stale_timestamp_is_refused(url: str) -> None:
    data = b'{"keys": []}'
    headers = sign_headers(APP_ID, SECRET, "POST", STATUS, data, timestamp=1_600_000_000)
    resp = Gateway(url).post(STATUS, raw=data, headers=headers)
    assert resp.status_code == 401 and "时间戳" in resp.json()["message"]


def test_body_over_five_megabytes_is_refused(url: str) -> None:
    data = b'{"keys": ["' + b"x" * (5 * 1024 * 1024) + b'"]}'
    resp = Gateway(url).post(STATUS, raw=data)
    assert resp.status_code == 413 and resp.json()["code"] == "TOO_LARGE"


def test_malformed_json_is_400_and_wrong_shape_is_422(url: str) -> None:
    gw = Gateway(url)
    broken = gw.post(BATCH, raw=b'{"batch_id": ')
    assert (broken.status_code, broken.json()["code"]) == (400, "BAD_JSON")
    shapeless = gw.post(BATCH, {"batch_id": "b", "items": [{"case_no": "x"}]})
    assert shapeless.status_code == 422
    assert "idempotency_key（字段缺失）" in shapeless.json()["message"]


def test_health_and_stats_need_no_signature(url: str) -> None:
    assert requests.get(f"{url}/health", timeout=5).json()["status"] == "ok"
    assert requests.get(f"{url}/_sim/stats", timeout=5).status_code == 200


def test_codes_must_cover_every_status(tmp_path: Path, keys_dir: Path) -> None:
    engine = engine_for(keys_dir, "health", tmp_path / "h.db")
    with pytest.raises(ValueError, match="审核中"):
        create_app(engine, APP_ID, SECRET, {s: c for s, c in health_statuses.CODES.items() if c != "SHZ"})


@pytest.mark.parametrize("department", ["health", "housing_fund"])
def test_static_openapi_matches_the_served_api_and_the_status_table(department: str, url: str) -> None:
    static = yaml.safe_load(schema_path(department, "openapi.yaml").read_text(encoding="utf-8"))
    served = requests.get(f"{url}/openapi.json", timeout=5).json()
    assert set(static["paths"]) == {p for p in served["paths"] if not p.startswith("/_sim")}
    for path, ops in static["paths"].items():
        assert set(ops) == set(served["paths"][path])
    table = {"health": health_statuses, "housing_fund": housing_statuses}[department].STATUSES
    code_schema = static["components"]["schemas"]["StatusCode"]
    assert code_schema["enum"] == list(table)
    assert code_schema["x-unified-status"] == {c: s.value for c, s in table.items()}


# -- 补正资料 -----------------------------------------------------------------------------------------
SUPPLEMENT = "/api/v1/cases:supplement"


def supplement_body(keys_dir: Path, supplied: list[Supplied]) -> dict[str, Any]:
    seal, items = seal_supplements(keys_dir, "health", supplied)
    return {"batch_id": seal["batch_id"], "seal": seal, "items": supplement_wire(items)}


def test_a_supplement_row_names_materials_and_a_supplement_is_taken_once(url: str, keys_dir: Path) -> None:
    gw = Gateway(url)
    waiting = next(i for i in map(item, range(1000)) if Status.SUPPLEMENT in choose_path(i.idempotency_key)[0])
    gw.post(BATCH, batch(keys_dir, [waiting]))
    row = gw.post(STATUS, {"keys": [waiting.idempotency_key]}).json()["statuses"][0]
    assert health_statuses.STATUSES[row["code"]] is Status.SUPPLEMENT and row["materials"]
    supplied = Supplied(waiting.idempotency_key, "S-1", waiting.case_no, waiting.item_code, tuple(row["materials"]))
    stranger = Supplied("K-never", "S-2", "BZ-NONE", "13", ("M01",))

    first = gw.post(SUPPLEMENT, supplement_body(keys_dir, [supplied, stranger])).json()["receipts"]
    again = gw.post(SUPPLEMENT, supplement_body(keys_dir, [supplied])).json()["receipts"]

    assert [(r["supplement_id"], r["accepted"], r["duplicate"]) for r in first + again] == [
        ("S-1", True, False), ("S-2", False, False), ("S-1", True, True)]
    assert first[1]["code"] == "WSJ" and first[1]["code"] in health_statuses.ERRORS  # the department's own code
    after = gw.post(STATUS, {"keys": [waiting.idempotency_key]}).json()["statuses"][0]
    item13 = load_catalog().items["13"]  # health's last word on item 13 is 审核通过: HRSS pays and completes it
    assert item13.settled("health", health_statuses.STATUSES[after["code"]]) and after["materials"] == []


def test_the_served_document_says_a_batch_refused_for_its_envelope_is_answered_400(url: str) -> None:
    """The simulator answers 400 BATCH_<CODE> for a batch whose seal fails; its /openapi.json said 400 was
    malformed JSON only (as schemas/<department>/openapi.yaml did)."""
    served = requests.get(f"{url}/openapi.json", timeout=5).json()
    for path in ("/api/v1/cases:batch", SUPPLEMENT):
        said = served["paths"][path]["post"]["responses"]["400"]["description"]
        assert "BAD_JSON" in said and "BATCH_SIG" in said and "BATCH_SUITE" in said, path
