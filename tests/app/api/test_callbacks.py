"""Department callbacks against the live hub: a REST department in callback mode pushes its status changes, the
hub records each change once however it arrives, and refuses what is unsigned, stale, replayed or signed by
another department."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from connectors.housing_fund.statuses import CODES
from lianban.app.api import create_app
from lianban.app.api.callbacks import load_gate
from lianban.app.api.running import Running, start
from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department, load_sink
from lianban.crypto.hashing import sm3_hex
from lianban.domain.statuses import Status
from lianban.keys import keysets
from lianban.keys.names import EVIDENCE, VAULT, hub_signing_name, suite_of
from lianban.keys.rings import load_ring, rotate_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import CaseItem, Delivery, Evidence, StatusEvent
from lianban.ledger.progress_query import ProgressDesk
from lianban.pipeline.feedback import poll_department
from lianban.pipeline.report import report
from lianban.wire.gateway import sign_headers
from lianban.wire.signatures import HEADER, parse_header
from simulators.callbacks import CallbackPusher, hub_answers
from simulators.runner import load_credentials
from tests.delivery_kit import deliver_items

DEPT = "housing_fund"
PATH = f"/api/v1/departments/{DEPT}/status"
TIMEOUT = 30


@dataclass
class Pushing:
    hub: Running
    paths: Paths
    pusher: CallbackPusher
    creds: dict[str, dict[str, str]]
    sim: Any

    def post(self, body: bytes, headers: dict[str, str], path: str = PATH) -> requests.Response:
        return requests.post(self.hub.url + path, data=body, timeout=TIMEOUT,
                             headers={"Content-Type": "application/json", **headers})

    def signed(self, body: bytes, department: str = DEPT, path: str = PATH, **kw: Any) -> dict[str, str]:
        creds = self.creds[department]
        return sign_headers(creds["login"], creds["password"], "POST", path, body, **kw)


def _events(ledger_url: str) -> list[tuple[int, str, str]]:
    with session_factory(ledger_url)() as session:
        rows = session.execute(select(StatusEvent.case_item_id, StatusEvent.status, StatusEvent.changed_at)
                               .join(CaseItem).join(Delivery, Delivery.case_item_id == CaseItem.id)
                               .where(Delivery.department == DEPT))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _event_count(ledger_url: str) -> int:
    with session_factory(ledger_url)() as session:
        return int(session.scalar(select(func.count()).select_from(StatusEvent)) or 0)


@pytest.fixture
def pushing(paths: Paths, simulation: Any) -> Iterator[Pushing]:
    """Housing-fund items delivered; the hub serving callbacks; housing fund's simulator able to push them."""
    deliver_items(paths, DEPT, 40, 23, "01,14")
    hub = start(create_app(ProgressDesk(paths.ledger_url, paths.keys_dir),
                           load_gate(paths.ledger_url, paths.keys_dir)))
    creds = load_credentials(paths.home)
    pusher = CallbackPusher(simulation.engines[DEPT], CODES, hub.url, creds[DEPT]["login"], creds[DEPT]["password"],
                            hub_answers(paths.keys_dir, DEPT))
    yield Pushing(hub, paths, pusher, creds, simulation)
    hub.stop()


def test_pushed_changes_move_items_and_reach_wanshi_tong_once_even_when_also_polled(pushing: Pushing) -> None:
    url, keys_dir = pushing.paths.ledger_url, pushing.paths.keys_dir
    delivered = pushing.pusher.push_once()
    assert delivered > 0, pushing.pusher.stats  # items accepted by the department: 受理 pushed and recorded
    polled = poll_department(load_department(DEPT, department_settings(DEPT), keys_dir), url, keys_dir)
    for _ in range(20):  # departments step every 0.2 s: push and poll race each other to the end
        time.sleep(0.3)
        pushing.pusher.push_once()
        poll_department(load_department(DEPT, department_settings(DEPT), keys_dir), url, keys_dir)
    events = _events(url)
    assert events and polled.read > 0
    doubled = [e for e, n in Counter(events).items() if n > 1]
    assert not doubled, f"a change recorded twice: {doubled[:3]}"
    assert not [k for k, n in Counter((i, s) for i, s, _ in events).items() if n > 1]
    report(load_sink(department_settings("wanshi_tong"), keys_dir), url, keys_dir)
    report(load_sink(department_settings("wanshi_tong"), keys_dir), url, keys_dir)  # a rerun sends nothing again
    sink = requests.get(f"{pushing.sim.urls['wanshi_tong']}/_sim/stats", timeout=TIMEOUT).json()
    assert sink["duplicates"] == 0 and sink["events"] == _event_count(url)


def test_the_hub_answers_signed_and_logs_the_push_and_its_answer(pushing: Pushing) -> None:
    pushing.pusher.push_once()
    assert pushing.pusher.stats.taken > 0 and pushing.pusher.stats.failed_pushes == 0  # answers verified
    with session_factory(pushing.paths.ledger_url)() as session:
        kinds = Counter((d, k, key) for d, k, key in session.execute(
            select(Evidence.direction, Evidence.kind, Evidence.key_id).where(Evidence.department == DEPT)))
    assert kinds[("in", "status", pushing.creds[DEPT]["login"])] == pushing.pusher.stats.pushes
    assert sum(n for (d, k, _), n in kinds.items() if (d, k) == ("out", "status-ack")) == pushing.pusher.stats.pushes


def _row(key: str, code: str = CODES[Status.UNDER_REVIEW]) -> dict[str, Any]:
    """审核中, now: after the 受理 the delivery receipt brought."""
    return {"idempotency_key": key, "code": code, "reason": None, "changed_at": datetime.now(UTC).isoformat(),
            "materials": [], "result": None}


def _a_key(pushing: Pushing) -> str:
    with session_factory(pushing.paths.ledger_url)() as session:
        return str(session.scalars(select(Delivery.idempotency_key).where(Delivery.department == DEPT)).first())


def test_unsigned_stale_replayed_and_cross_department_pushes_are_refused_and_change_nothing(pushing: Pushing) -> None:
    body = json.dumps({"statuses": [_row(_a_key(pushing))]}).encode()
    before = _event_count(pushing.paths.ledger_url)
    unsigned = pushing.post(body, {})
    stale = pushing.post(body, pushing.signed(body, timestamp=int(time.time()) - 600))
    other = pushing.post(body, pushing.signed(body, department="health"))
    unknown = pushing.post(body, pushing.signed(body, path="/api/v1/departments/civil_affairs/status"),
                           path="/api/v1/departments/civil_affairs/status")
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "AUTH") and "缺少" in unsigned.json()["message"]
    assert stale.status_code == 401 and "时间戳" in stale.json()["message"]
    assert (other.status_code, other.json()["code"]) == (403, "FORBIDDEN")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "UNKNOWN_DEPARTMENT")
    assert _event_count(pushing.paths.ledger_url) == before
    headers = pushing.signed(body)
    first, replayed = pushing.post(body, headers), pushing.post(body, headers)
    assert first.status_code == 200 and first.json()["recorded"] == 1
    assert replayed.status_code == 401 and "重放" in replayed.json()["message"]
    assert _event_count(pushing.paths.ledger_url) == before + 1


def test_a_replay_sent_to_another_worker_is_refused(pushing: Pushing) -> None:
    other = start(create_app(ProgressDesk(pushing.paths.ledger_url, pushing.paths.keys_dir),
                             load_gate(pushing.paths.ledger_url, pushing.paths.keys_dir)))
    try:
        body = json.dumps({"statuses": [_row(_a_key(pushing))]}).encode()
        headers = pushing.signed(body)
        assert pushing.post(body, headers).status_code == 200
        replayed = requests.post(other.url + PATH, data=body, headers=headers, timeout=TIMEOUT)
        assert replayed.status_code == 401 and "重放" in replayed.json()["message"]
    finally:
        other.stop()


def test_a_running_api_takes_rotated_callback_keys_without_a_restart(pushing: Pushing) -> None:
    """The callbacks' keys were read once, at start: after `keys rotate hub-signing-sm` (or `activate`) the API kept
    signing its answers with the old key, and after `keys rotate evidence` or `vault` kept chaining and sealing
    with the old ones, until someone restarted it. Now the next push uses the new keys; the old signing key still
    verifies what it signed before (it is only refused once retired)."""
    keys_dir, key = pushing.paths.keys_dir, _a_key(pushing)
    signing = hub_signing_name(suite_of(DEPT))
    bodies = [json.dumps({"statuses": [_row(key)]}).encode()]
    before = pushing.post(bodies[0], pushing.signed(bodies[0]))
    for ring in (EVIDENCE, VAULT):
        rotate_ring(keys_dir, ring)  # lianban keys rotate
    keysets.rotate(keys_dir, signing)
    bodies.append(json.dumps({"statuses": [_row(key)]}).encode())
    after = pushing.post(bodies[1], pushing.signed(bodies[1]))
    assert before.status_code == after.status_code == 200, after.text
    old_kid, new_kid = (parse_header(a.headers[HEADER])["kid"] for a in (before, after))
    assert new_kid == keysets.load(keys_dir, signing).active != old_kid
    department = hub_answers(keys_dir, DEPT)  # its copy of the hub's public file, as sent after the rotation
    for answer, body in zip((before, after), bodies, strict=True):
        department.verify(answer.headers[HEADER], 200, PATH, answer.content, sm3_hex(body))
    with session_factory(pushing.paths.ledger_url)() as session:
        chained = session.scalars(select(Evidence.chain_kid).where(Evidence.department == DEPT)
                                  .order_by(Evidence.id.desc()).limit(2)).all()
    assert set(chained) == {load_ring(keys_dir, EVIDENCE).active}  # the push and its answer


def test_every_row_is_answered_an_unreadable_one_with_its_reason(pushing: Pushing) -> None:
    key = _a_key(pushing)
    body = json.dumps({"statuses": [_row(key), _row(key), _row("not-delivered"), _row(key, code="ZZ")]}).encode()
    answer = pushing.post(body, pushing.signed(body))
    assert answer.status_code == 200 and answer.headers[HEADER]
    outcomes = [(r["outcome"], r["reason"]) for r in answer.json()["results"]]
    assert [o for o, _ in outcomes] == ["recorded", "unchanged", "unknown", "refused"]
    assert "statuses.py" in outcomes[3][1] and "ZZ" in outcomes[3][1]
    hub = hub_answers(pushing.paths.keys_dir, DEPT)
    hub.verify(answer.headers[HEADER], 200, PATH, answer.content, sm3_hex(body))  # the hub's own signature
    with pytest.raises(Exception, match="签名"):
        hub.verify(answer.headers[HEADER], 200, PATH, answer.content.replace(b"recorded", b"refused_"), sm3_hex(body))
    with pytest.raises(Exception, match="签名无效"):  # given as the answer to another push
        hub.verify(answer.headers[HEADER], 200, PATH, answer.content, sm3_hex(body + b" "))


def test_the_hubs_answer_to_a_push_with_a_query_is_signed_over_its_path_as_every_answer_is(pushing: Pushing) -> None:
    """An answer's signature covers the path without its query (lianban.wire.signatures: how the hub checks the
    departments' answers, and a department the hub's): the request's gateway signature covers the query, the
    answer's did too, and the department could never verify it, and pushed the same changes again for ever."""
    key, path = _a_key(pushing), f"{PATH}?via=gateway"
    body = json.dumps({"statuses": [_row(key)]}).encode()
    answer = pushing.post(body, pushing.signed(body, path=path), path=path)
    assert answer.status_code == 200, answer.text
    hub_answers(pushing.paths.keys_dir, DEPT).verify(answer.headers[HEADER], 200, PATH, answer.content,
                                                      sm3_hex(body))


def test_a_pushed_row_whose_changed_at_is_not_iso_8601_is_refused_and_the_row_beside_it_recorded(
        pushing: Pushing) -> None:
    key = _a_key(pushing)
    body = json.dumps({"statuses": [{**_row(key), "changed_at": "2026/12/01 10:00"}, _row(key)]}).encode()
    answer = pushing.post(body, pushing.signed(body))
    outcomes = [(r["outcome"], r["reason"]) for r in answer.json()["results"]]
    assert answer.status_code == 200 and [o for o, _ in outcomes] == ["refused", "recorded"]
    assert "状态记录不符合接口规范" in outcomes[0][1] and "changed_at" in outcomes[0][1]
    assert [s for _, s, _ in _events(pushing.paths.ledger_url)].count(Status.UNDER_REVIEW.value) == 1


def test_a_body_that_is_not_the_agreed_shape_is_refused_after_authentication(pushing: Pushing) -> None:
    for body, status in ((b"{not json", 400), (b'{"statuses": []}', 422), (b'{"statuses": [{"code": "01"}]}', 422)):
        answer = pushing.post(body, pushing.signed(body))
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["code"] in ("BAD_JSON", "INVALID_REQUEST")
    big = b'{"statuses": [' + b" " * (1024 * 1024) + b"]}"
    assert pushing.post(big, pushing.signed(big)).status_code == 413


def test_a_wrong_connection_is_told_at_start_and_a_missing_one_is_not(paths: Paths, monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_DEPT_")]:
        monkeypatch.delenv(name)
    secret = "Wrong-Conn-Pa55"
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_HOUSING_FUND", '{"conn_type": "http", "password": "' + secret + '"')
    with caplog.at_level("WARNING", logger="lianban.api"):
        gate = load_gate(paths.ledger_url, paths.keys_dir)
    told = [r.getMessage() for r in caplog.records if r.name == "lianban.api"]
    assert len(told) == 1 and "housing_fund" in told[0] and "连接配置有误" in told[0]
    assert secret not in caplog.text
    assert DEPT not in gate.departments


def test_departments_sharing_one_app_id_take_no_pushes_since_neither_could_be_told_from_the_other(
        paths: Paths, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """One app id for two connections (a provincial gateway may issue the hub one): a push it signs could be
    either department's, and one could write the other's items; so neither may push, and the start says why."""
    import os

    from lianban.app.config import connection_json

    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_DEPT_")]:
        monkeypatch.delenv(name)
    secret = "Shared-Conn-Pa55"
    for department in ("health", DEPT):
        monkeypatch.setenv(f"AIRFLOW_CONN_DEPT_{department.upper()}",
                           connection_json("http://127.0.0.1:9", login="hub-app", password=secret))
    with caplog.at_level("WARNING", logger="lianban.api"):
        gate = load_gate(paths.ledger_url, paths.keys_dir)
    assert gate.departments == []
    told = [r.getMessage() for r in caplog.records if r.name == "lianban.api"]
    assert len(told) == 1 and "health" in told[0] and DEPT in told[0] and "同一应用标识" in told[0]
    assert secret not in caplog.text
