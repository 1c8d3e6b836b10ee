"""The applicant's progress query against the live hub (``POST /api/v1/progress``), as an applicant, a guesser
and an auditor would notice it."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import select

from lianban.app.api import create_app
from lianban.app.api.running import start
from lianban.crypto.passwords import LEGACY_COST
from lianban.domain.statuses import Status
from lianban.ledger import progress_query
from lianban.ledger.db import engine_for, session_factory
from lianban.ledger.evidence import verify_ledger
from lianban.ledger.models import Case, CaseItem, Evidence
from lianban.ledger.progress_query import ProgressDesk
from lianban.ledger.store import record_status
from tests.app.api.conftest import REASON, Hub

TIMEOUT = 30


def ask(hub: Hub, case_no: str, password: str, client: str = "10.1.1.1") -> requests.Response:
    """One query, from `client` (the hub trusts X-Forwarded-For from its local reverse proxy)."""
    return requests.post(f"{hub.url}/api/v1/progress", json={"case_no": case_no, "password": password},
                         headers={"X-Forwarded-For": client}, timeout=TIMEOUT)


def test_the_right_password_shows_every_chosen_item_in_chinese(hub: Hub) -> None:
    app = hub.app(0)
    answer = ask(hub, app["case_no"].lower(), app["password"])
    assert answer.status_code == 200
    case = answer.json()
    assert case["case_no"] == app["case_no"] and set(case) == {"case_no", "status", "items"}
    items = {i["item_code"]: i for i in case["items"]}
    assert list(items) == ["01", "11", "14"]
    assert items["01"]["item_name"] == "职工养老保险待遇申领" and items["01"]["department"] == "人力资源和社会保障局"
    assert items["01"]["status"] == "补正资料" and items["01"]["materials"] and items["01"]["supplement_due"]
    assert "13912345678" not in items["01"]["reason"] and "请补交退休申请表" in items["01"]["reason"]
    assert items["01"]["due_date"]  # HRSS's own item: its clock started at the window
    assert items["11"]["department"] == "医疗保障局" and items["11"]["status"] is None
    assert items["14"]["status"] == "已办结" and "23456.78" in items["14"]["result"]
    assert items["14"]["changed_at"] == "2026-11-28T15:00:00+08:00"


@pytest.mark.parametrize("reported", ["2026-11-21T01:00:00Z", "2026-11-21T09:00:00"])
def test_a_change_reported_in_utc_is_answered_in_beijing_time_as_the_page_shows_it(hub: Hub, reported: str) -> None:
    """A time in UTC was answered as reported, so a client showing the bare "2026-11-21T01:00:00" put the change
    8 hours early; the page said 09:00 already. A time without an offset is HRSS's own Beijing time."""
    app = hub.app(1)
    with session_factory(hub.ledger_url).begin() as session:
        item = session.scalars(select(CaseItem).join(Case).where(Case.case_no == app["case_no"],
                                                                 CaseItem.item_code == "01")).one()
        record_status(session, item, Status.ACCEPTED, "hrss", code="1", reason=None, changed_at=reported)
    items = {i["item_code"]: i for i in ask(hub, app["case_no"], app["password"]).json()["items"]}
    assert items["01"]["changed_at"] == "2026-11-21T09:00:00+08:00"


def test_another_case_shows_only_its_own_items(hub: Hub) -> None:
    app = hub.app(1)
    case = ask(hub, app["case_no"], app["password"]).json()
    assert [i["item_code"] for i in case["items"]] == ["01", "12"]
    assert ask(hub, app["case_no"], hub.app(0)["password"]).status_code == 404  # another case's password


def test_a_wrong_password_and_an_unknown_case_answer_the_same(hub: Hub) -> None:
    wrong = ask(hub, hub.app(0)["case_no"], "000000", client="10.2.0.1")
    unknown = ask(hub, "BZTX209912999999", "000000", client="10.2.0.2")
    malformed = ask(hub, "not a case number!", "000000", client="10.2.0.3")
    assert wrong.status_code == unknown.status_code == malformed.status_code == 404
    assert wrong.content == unknown.content == malformed.content
    assert "办件编号或查询密码不正确" in wrong.json()["detail"]
    assert dict(wrong.headers).keys() == dict(unknown.headers).keys()


def test_a_wrong_password_takes_as_long_as_an_unknown_case(hub: Hub) -> None:
    def took(case_no: str, client: str) -> float:
        started = time.perf_counter()
        assert ask(hub, case_no, "000000", client=client).status_code == 404
        return time.perf_counter() - started

    known: list[float] = []
    unknown: list[float] = []
    for n in range(5):  # interleaved (a busy machine slows both alike), within the case's 5 allowed failures
        known.append(took(hub.app(0)["case_no"], f"10.3.0.{n}"))
        unknown.append(took(f"BZTX2099129{n:05d}", f"10.3.1.{n}"))
    # without the dummy hash an unknown case would answer some ten times faster; noise stays well within 3x
    assert 1 / 3 < min(unknown) / min(known) < 3, (known, unknown)


def test_the_sixth_wrong_try_on_a_case_is_refused_even_with_the_right_password(hub: Hub) -> None:
    app = hub.app(0)
    for n in range(5):
        assert ask(hub, app["case_no"], f"99999{n}", client=f"10.4.0.{n}").status_code == 404
    sixth = ask(hub, app["case_no"], app["password"], client="10.4.0.9")
    assert sixth.status_code == 429 and "请15分钟后再试" in sixth.json()["detail"]
    assert ask(hub, hub.app(1)["case_no"], hub.app(1)["password"], client="10.4.0.9").status_code == 200


def test_the_sixth_wrong_try_from_one_address_is_refused_whatever_the_case(hub: Hub) -> None:
    for n in range(5):
        assert ask(hub, f"BZTX2099120{n:05d}", "123456", client="10.5.0.1").status_code == 404
    assert ask(hub, hub.app(2)["case_no"], hub.app(2)["password"], client="10.5.0.1").status_code == 429
    assert ask(hub, hub.app(2)["case_no"], hub.app(2)["password"], client="10.5.0.2").status_code == 200


def test_addresses_of_one_ipv6_slash_64_share_one_budget_and_ipv4_neighbours_do_not(hub: Hub) -> None:
    for n in range(5):  # unknown cases, so that only the address is counted
        assert ask(hub, f"BZTX2099121{n:05d}", "123456", client=f"2001:db8:7:1::{n + 1:x}").status_code == 404
        assert ask(hub, f"BZTX2099122{n:05d}", "123456", client=f"192.0.2.{n + 1}").status_code == 404
    app = hub.app(2)
    assert ask(hub, app["case_no"], app["password"], client="2001:db8:7:1:ffff::9").status_code == 429
    assert ask(hub, app["case_no"], app["password"], client="2001:db8:7:2::1").status_code == 200  # next /64
    assert ask(hub, app["case_no"], app["password"], client="192.0.2.6").status_code == 200


def test_wrong_guesses_sent_all_at_once_get_at_most_five_passwords_checked(hub_on_either: Hub) -> None:
    hub, app = hub_on_either, hub_on_either.app(1)
    guesses = [f"{n:06d}" for n in range(31) if f"{n:06d}" != app["password"]][:30]
    with ThreadPoolExecutor(len(guesses)) as pool:  # one address, one case, all in flight together
        codes = list(pool.map(lambda guess: ask(hub, app["case_no"], guess, "10.7.0.1").status_code, guesses))
    checked = codes.count(404)
    assert checked <= 5 and codes.count(429) == len(guesses) - checked, codes
    # the refused ones were not failures: the case has 5 - checked tries left, as if they had come one by one
    right = ask(hub, app["case_no"], app["password"], client="10.7.0.2")
    assert right.status_code == (429 if checked == 5 else 200)


def test_every_query_is_in_the_evidence_log_without_the_password(hub: Hub) -> None:
    app = hub.app(0)
    ask(hub, app["case_no"], app["password"])
    ask(hub, app["case_no"], "Zz99Wrong")
    with session_factory(hub.paths.ledger_url)() as session:
        logged = session.scalars(select(Evidence).where(Evidence.department == "applicant")).all()
        assert [(e.direction, e.kind) for e in logged] == [("in", "query"), ("out", "progress")] * 2
        assert all(json.loads(e.case_nos) == [app["case_no"]] for e in logged)
        assert verify_ledger(session, hub.paths.keys_dir).ok
    engine_for(hub.paths.ledger_url).dispose()
    raw = b"".join(p.read_bytes() for p in hub.paths.home.glob("ledger.db*"))
    assert b"Zz99Wrong" not in raw


def test_no_personal_data_in_any_answer_or_log_line(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [ask(hub, a["case_no"], p, client=f"10.6.0.{n}") for n, a in enumerate(hub.apps)
               for p in (a["password"], "000000")]
    answers.append(requests.post(f"{hub.url}/query", data={"case_no": hub.app(0)["case_no"],
                                                           "password": hub.app(0)["password"]}, timeout=TIMEOUT))
    said = " ".join(r.text for r in answers) + " ".join(r.getMessage() for r in caplog.records)
    for app in hub.apps:
        for field in ("name", "id_number", "phone", "password"):
            assert str(app[field]) not in said, f"{field} of {app['case_no']} shown"
    assert "13912345678" not in said and REASON not in said


@pytest.mark.parametrize("body", [b"{", b"[]", b"\xff\xfe\x00", b'{"case_no": "A"}', b'{"case_no": 1, "password": "x"}',
                                  b'{"case_no": "A", "password": "Secret123", "extra": 1}',
                                  json.dumps({"case_no": "A", "password": "Secret123" * 8}).encode()])
def test_a_malformed_query_is_refused_in_chinese_without_echoing_it(hub: Hub, body: bytes) -> None:
    answer = requests.post(f"{hub.url}/api/v1/progress", data=body, headers={"Content-Type": "application/json"},
                           timeout=TIMEOUT)
    assert answer.status_code == 422 and "请求格式不正确" in answer.json()["detail"]
    assert "Secret123" not in answer.text


def test_a_body_over_the_limit_is_refused(hub: Hub) -> None:
    big = json.dumps({"case_no": "A" * 20_000, "password": "1"})
    answer = requests.post(f"{hub.url}/api/v1/progress", data=big, headers={"Content-Type": "application/json"},
                           timeout=TIMEOUT)
    assert answer.status_code == 413 and "请求内容过大" in answer.json()["detail"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_every_answer_carries_the_security_headers_and_no_cors(hub: Hub) -> None:
    answers: list[Any] = [requests.get(f"{hub.url}{path}", headers={"Origin": "https://evil.example"},
                                       timeout=TIMEOUT) for path in ("/query", "/query.css", "/api/v1/openapi.json")]
    answers.append(ask(hub, "X", "1"))
    for answer in answers:
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert not any(h.lower().startswith("access-control-") for h in answer.headers)


def test_two_servers_on_one_ledger_share_the_rate_limit(hub: Hub) -> None:
    other = start(create_app(ProgressDesk(hub.paths.ledger_url, hub.paths.keys_dir)))
    try:
        app, servers = hub.app(1), [hub.url, other.url]
        for n in range(5):
            wrong = requests.post(f"{servers[n % 2]}/api/v1/progress", timeout=TIMEOUT,
                                  json={"case_no": app["case_no"], "password": f"55555{n}"})
            assert wrong.status_code == 404
        right = requests.post(f"{other.url}/api/v1/progress", json={"case_no": app["case_no"],
                                                                    "password": app["password"]}, timeout=TIMEOUT)
        assert right.status_code == 429
    finally:
        other.stop()


def _legacy_hash(password: str, log_n: int) -> str:
    """A hash of the earlier scheme (lianban.crypto.passwords: scrypt, at LEGACY_COST when log_n is 14)."""
    salt = b"s" * 16
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2 ** log_n, r=8, p=1, maxmem=128 << 20, dklen=32)
    return f"scrypt${log_n}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _store(hub: Hub, case_no: str, password_hash: str) -> None:
    with session_factory(hub.ledger_url).begin() as session:
        session.scalars(select(Case).where(Case.case_no == case_no)).one().password_hash = password_hash


def test_a_case_hashed_the_earlier_slow_way_still_opens_and_is_stored_again_keyed(hub: Hub) -> None:
    app = hub.app(2)
    _store(hub, app["case_no"], _legacy_hash(app["password"], 10))
    assert ask(hub, app["case_no"], app["password"]).status_code == 200
    with session_factory(hub.paths.ledger_url)() as session:
        stored = session.scalar(select(Case.password_hash).where(Case.case_no == app["case_no"]))
    assert stored is not None and stored.startswith("sm3hmac$") and app["password"] not in stored
    assert ask(hub, app["case_no"], app["password"]).status_code == 200


def _stored(hub: Hub, case_no: str) -> str | None:
    with session_factory(hub.ledger_url)() as session:
        return session.scalar(select(Case.password_hash).where(Case.case_no == case_no))


def test_a_right_password_is_stored_again_under_the_active_query_key_so_the_old_one_can_retire(hub: Hub) -> None:
    """A 查询密码 was hashed only at staging or a reset: after `keys rotate query` the old key could not be retired
    until every case's password was reset at the window. A query with the right password now stores it again under
    the active key; a wrong one changes nothing."""
    from typer.testing import CliRunner

    from lianban.app.cli import app as cli
    from lianban.keys.rings import load_ring

    old = load_ring(hub.paths.keys_dir, "query").active
    assert CliRunner().invoke(cli, ["keys", "rotate", "query"]).exit_code == 0
    active = load_ring(hub.paths.keys_dir, "query").active
    running = start(create_app(ProgressDesk(hub.ledger_url, hub.paths.keys_dir)))  # restarted, as docs/deploy.md says
    served = Hub(running.url, hub.paths, hub.apps, hub.ledger_url)
    try:
        first = hub.app(0)["case_no"]
        before = _stored(hub, first)
        assert ask(served, first, "000000").status_code == 404
        assert _stored(hub, first) == before and before is not None and f"${old}$" in before
        for n, app in enumerate(hub.apps):
            assert ask(served, app["case_no"], app["password"], client=f"10.7.0.{n}").status_code == 200
            stored = _stored(hub, app["case_no"])
            assert stored is not None and stored.startswith(f"sm3hmac${active}$") and app["password"] not in stored
        assert CliRunner().invoke(cli, ["keys", "retire", "query", old]).exit_code == 0
        for n, app in enumerate(hub.apps):
            assert ask(served, app["case_no"], app["password"], client=f"10.7.1.{n}").status_code == 200
    finally:
        running.stop()


def test_a_running_api_takes_a_rotated_query_key_without_a_restart(hub: Hub) -> None:
    """The API read its keys once, at start: after `keys rotate query` a password hashed under the new key (a
    reset at the window, every case staged since) was "not found" until someone restarted it; the applicant's
    right password counted as a wrong try. The running API now reads a key file that changed at the next query."""
    from typer.testing import CliRunner

    from lianban.app.cli import app as cli

    case_no = hub.app(1)["case_no"]
    assert ask(hub, case_no, hub.app(1)["password"]).status_code == 200  # the running API, with its first keys
    assert CliRunner().invoke(cli, ["keys", "rotate", "query"]).exit_code == 0
    reset = CliRunner().invoke(cli, ["case", "reset-password", case_no, "--json"])
    assert reset.exit_code == 0, reset.output
    assert ask(hub, case_no, json.loads(reset.output)["password"], client="10.7.2.1").status_code == 200


def test_while_a_case_holds_an_earlier_slow_hash_every_wrong_try_costs_as_much_as_one_there(
        hub: Hub, scrypts: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    app = hub.app(2)
    _store(hub, app["case_no"], _legacy_hash(app["password"], 14))
    running = start(create_app(ProgressDesk(hub.ledger_url, hub.paths.keys_dir)))  # started with it in the ledger
    served = Hub(running.url, hub.paths, hub.apps, hub.ledger_url)
    try:
        tries = [app["case_no"], "BZTX209912999999", "not a case number!", hub.app(1)["case_no"]]
        for n, case_no in enumerate(tries):  # the slow case itself, unknown, malformed, a case hashed keyed
            scrypts.clear()
            assert ask(served, case_no, "000000", client=f"10.8.0.{n}").status_code == 404
            assert scrypts == [LEGACY_COST], case_no  # one scrypt at the earlier cost each: none answers faster
        assert ask(served, app["case_no"], app["password"], client="10.8.1.1").status_code == 200  # stored keyed
        monkeypatch.setattr(progress_query, "LEGACY_RECHECK", 0.0)  # the hub looks again: none is left
        scrypts.clear()
        assert ask(served, "BZTX209912999999", "000000", client="10.8.1.2").status_code == 404
        assert scrypts == []
    finally:
        running.stop()


def test_without_earlier_slow_hashes_no_query_pays_for_one(hub: Hub, scrypts: list[tuple[int, int, int]]) -> None:
    for n, case_no in enumerate([hub.app(0)["case_no"], "BZTX209912999999", "not a case number!"]):
        assert ask(hub, case_no, "000000", client=f"10.9.0.{n}").status_code == 404
    assert scrypts == []


class _NoQueries:
    def query(self, case_no: str, password: str, client: str) -> progress_query.Answer:
        raise AssertionError("no query is asked")


@pytest.mark.parametrize(("method", "path", "status", "said"), [
    ("GET", "/api/v1/progress", 405, "请求方法"), ("GET", "/api/v1/departments/housing_fund/status", 405, "请求方法"),
    ("GET", "/api/v1/no-such-route", 404, "地址")])
def test_a_wrong_address_or_method_is_told_in_chinese(method: str, path: str, status: int, said: str) -> None:
    answer = TestClient(create_app(_NoQueries())).request(method, path)
    assert answer.status_code == status and said in answer.json()["detail"]
