"""The simulated 皖事通办 亳州分平台 receiver, over real HTTP: it enforces the published interface document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from lianban.domain.schemas import schema_path
from lianban.wire.gateway import sign_headers
from simulators.rest_department import serve_in_background
from simulators.wanshi_tong import create_app
from simulators.wanshi_tong_interface import load_interface

APP_ID, SECRET = "lianban-hub", "wst-secret"
PROGRESS = "/api/v1/banjian/progress"


def event(event_id: int, projid: str = "BZ00000001", item: str = "341600-WJ-GF-0013",
          status: tuple[str, str] = ("1", "受理"), reason: str | None = None, dataver: int | None = None,
          **extra: Any) -> dict[str, Any]:
    return {"EVENT_ID": event_id, "PROJID": projid, "SERVICECODE": item, "REGION_ID": "341602000000",
            "INFOTYPE": "3", "DEPTNAME": "亳州市卫生健康委员会", "STATUS_CODE": status[0], "STATUS_NAME": status[1],
            "NODENAME": "受理", "NODERESULT": "4", "NODETIME": f"2025-03-01T08:00:{event_id % 60:02d}+08:00",
            "NODEREASON": reason, "BZCLQD": [], "PROMISE_DATE": "2025-03-17", "RESULT": None,
            "DATAVER": event_id if dataver is None else dataver, **extra}


def case(projid: str = "BZ00000001", dataver: int = 1, **extra: Any) -> dict[str, Any]:
    return {"PROJID": projid, "REGION_ID": "341602000000", "INFOTYPE": "3", "STATUS_CODE": "1",
            "STATUS_NAME": "受理", "RECEIVETIME": "2025-03-01T09:00:00+08:00", "PROMISEVALUE": 15,
            "PROMISETYPE": "1", "TRANSACT_TIME": None, "DONERESULT": None, "DONEREASON": None, "DATAVER": dataver,
            **extra}


class Platform:
    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, body: dict[str, Any]) -> requests.Response:
        data = json.dumps(body, ensure_ascii=False).encode()
        return requests.post(self.url + PROGRESS, data=data, timeout=5,
                             headers={**sign_headers(APP_ID, SECRET, "POST", PROGRESS, data),
                                      "Content-Type": "application/json"})

    def push(self, *events: dict[str, Any], cases: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
        resp = self.post({"events": list(events), "cases": list(cases)})
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result

    def view(self, projid: str) -> requests.Response:
        path = f"/api/v1/banjian/{projid}"
        return requests.get(self.url + path, headers=sign_headers(APP_ID, SECRET, "GET", path, b""), timeout=5)

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = requests.get(f"{self.url}/_sim/stats", timeout=5).json()
        return result


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    with serve_in_background(create_app(tmp_path / "wst.db", APP_ID, SECRET)) as url:
        yield Platform(url)


def test_the_helpers_build_conforming_bodies() -> None:
    assert load_interface().problems({"events": [event(1)], "cases": [case()]}) == []


def test_events_are_deduplicated_by_event_id(platform: Platform) -> None:
    assert platform.push(event(1), event(2, status=("3", "审核中"))) == {"accepted": 2, "duplicates": 0}
    assert platform.push(event(2, status=("3", "审核中")), event(3, status=("7", "已办结"))) == {
        "accepted": 1, "duplicates": 1}
    stats = platform.stats()
    assert (stats["events"], stats["duplicates"], stats["cases"], stats["items"]) == (3, 1, 1, 1)
    assert stats["items_by_status"] == {"已办结": 1}
    assert (stats["refused"], stats["out_of_order"]) == (0, 0)


def test_an_older_version_never_overwrites_a_newer_item_or_case(platform: Platform) -> None:
    platform.push(event(10, status=("7", "已办结")), cases=(case(dataver=10, STATUS_NAME="已办结", STATUS_CODE="7"),))
    platform.push(event(9, status=("3", "审核中")), cases=(case(dataver=9, STATUS_NAME="审核中", STATUS_CODE="3"),))
    view = platform.view("BZ00000001").json()
    assert [(i["STATUS_NAME"], i["DATAVER"]) for i in view["ITEMS"]] == [("已办结", 10)]
    assert (view["CASE"]["STATUS_NAME"], view["CASE"]["DATAVER"]) == ("已办结", 10)
    stats = platform.stats()
    assert (stats["events"], stats["out_of_order"]) == (2, 1)  # kept, counted late, never shown


def test_within_one_push_a_late_version_and_a_repeat_are_told_apart(platform: Platform) -> None:
    """The platform reads a push in order: an event older than one before it in the same push is late, the
    same EVENT_ID twice is one event."""
    assert platform.push(event(10, status=("7", "已办结")), event(9, status=("3", "审核中")), event(9)) == {
        "accepted": 2, "duplicates": 1}
    stats = platform.stats()
    assert (stats["events"], stats["out_of_order"], stats["items_by_status"]) == (2, 1, {"已办结": 1})


def test_an_item_shows_the_newest_of_its_versions_in_one_push_whatever_their_order(platform: Platform) -> None:
    platform.push(event(5, status=("3", "审核中")))
    assert platform.push(event(3), event(7, status=("7", "已办结")), event(6, status=("3", "审核中")),
                         event(8, item="341600-RS-QT-0001")) == {"accepted": 4, "duplicates": 0}
    view = platform.view("BZ00000001").json()
    assert [(i["SERVICECODE"], i["STATUS_NAME"], i["DATAVER"]) for i in view["ITEMS"]] == [
        ("341600-RS-QT-0001", "受理", 8), ("341600-WJ-GF-0013", "已办结", 7)]
    stats = platform.stats()
    assert (stats["events"], stats["items"], stats["out_of_order"]) == (5, 2, 2)  # 3 after 5, 6 after 7


def test_the_applicant_sees_every_item_and_the_case(platform: Platform) -> None:
    done = case(dataver=2, STATUS_CODE="7", STATUS_NAME="已办结", TRANSACT_TIME="2025-03-05T10:00:00+08:00",
                DONERESULT="6", DONEREASON="部分事项未办成（审核不通过或不予受理），原因见各事项")
    platform.push(event(1, item="341600-RS-QT-0001", status=("4", "补正资料"), reason="请补充材料",
                        BZCLQD=[{"CLMC": "独生子女父母光荣证"}], NODENAME="补正告知", NODERESULT="5"),
                  event(2, item="341600-GJJ-GF-0014", status=("7", "已办结"), RESULT="公积金提取 12345.67 元，已转账"),
                  event(3, projid="BZ00000002"), cases=(done,))
    view = platform.view("BZ00000001").json()
    assert view["PROJID"] == "BZ00000001" and view["CASE"] == done
    assert [(i["SERVICECODE"], i["STATUS_NAME"], i["NODEREASON"], i["BZCLQD"], i["RESULT"], i["PROMISE_DATE"])
            for i in view["ITEMS"]] == [
        ("341600-GJJ-GF-0014", "已办结", None, [], "公积金提取 12345.67 元，已转账", "2025-03-17"),
        ("341600-RS-QT-0001", "补正资料", "请补充材料", [{"CLMC": "独生子女父母光荣证"}], None, "2025-03-17")]
    assert load_interface().problems(view, "BanjianView") == []
    assert platform.view("BZ00000002").json()["CASE"] is None  # no case record pushed for it yet


def test_unknown_case_is_404_in_chinese(platform: Platform) -> None:
    resp = platform.view("BZ-NOPE")
    assert resp.status_code == 404 and "办件编号" in resp.json()["message"]


def test_signature_is_required(platform: Platform) -> None:
    resp = requests.post(platform.url + PROGRESS, json={"events": [event(1)], "cases": []}, timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "AUTH"
    assert platform.stats()["events"] == 0


@pytest.mark.parametrize(("tamper", "field", "words"), [
    (lambda e: e.pop("REGION_ID"), "events[1].REGION_ID", "缺失"),
    (lambda e: e.update(INFOTYPE="9"), "events[1].INFOTYPE", "取值不在允许范围内"),
    (lambda e: e.update(INFOTYPE=3), "events[1].INFOTYPE", "类型不符"),
    (lambda e: e.update(EVENT_ID="one"), "events[1].EVENT_ID", "类型不符"),
    (lambda e: e.update(NODEREASON="原因" * 300), "events[1].NODEREASON", "过长"),
    (lambda e: e.update(BZCLQD=["光荣证"]), "events[1].BZCLQD[0]", "类型不符"),
    (lambda e: e.update(extra="x"), "events[1]", "含接口未定义的字段 extra"),
])
def test_a_body_that_breaks_the_published_document_is_refused_in_chinese(
        platform: Platform, tamper: Any, field: str, words: str) -> None:
    bad = event(2)
    tamper(bad)
    resp = platform.post({"events": [event(1), bad], "cases": []})
    assert resp.status_code == 400 and resp.json()["code"] == "SCHEMA"
    message = resp.json()["message"]
    assert message.startswith("请求体不符合接口规范（schemas/wanshi_tong/openapi.yaml")
    assert f"{field} {words}" in message
    stats = platform.stats()
    assert (stats["refused"], stats["events"]) == (1, 0)  # refused whole: the good event was not kept either


def test_a_case_record_that_breaks_the_document_is_refused(platform: Platform) -> None:
    resp = platform.post({"events": [event(1)], "cases": [case(DONERESULT="9")]})
    assert resp.status_code == 400 and "cases[0].DONERESULT 取值不在允许范围内" in resp.json()["message"]
    assert platform.post({"events": [event(1)]}).json()["message"].endswith("cases 缺失（必填字段）")


def test_malformed_json_is_refused(platform: Platform) -> None:
    data = b"{not json"
    resp = requests.post(platform.url + PROGRESS, data=data, timeout=5,
                         headers={**sign_headers(APP_ID, SECRET, "POST", PROGRESS, data),
                                  "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["code"] == "BAD_JSON"


def test_it_serves_the_published_document(platform: Platform) -> None:
    published = yaml.safe_load(schema_path("wanshi_tong", "openapi.yaml").read_text(encoding="utf-8"))
    served = requests.get(f"{platform.url}/openapi.json", timeout=5).json()
    assert served == published
    assert set(served["paths"]) == {"/api/v1/banjian/progress", "/api/v1/banjian/{projid}", "/health"}


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "wst.db"
    with serve_in_background(create_app(db, APP_ID, SECRET)) as url:
        Platform(url).push(event(1), cases=(case(),))
    with serve_in_background(create_app(db, APP_ID, SECRET)) as url:
        assert Platform(url).push(event(1)) == {"accepted": 0, "duplicates": 1}
        assert Platform(url).view("BZ00000001").json()["CASE"]["DATAVER"] == 1


def test_a_store_kept_before_items_pointed_at_events_is_upgraded_and_keeps_its_state(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "wst.db"
    with serve_in_background(create_app(db, APP_ID, SECRET)) as url:
        Platform(url).push(event(1), cases=(case(),))
    with sqlite3.connect(db) as old:  # as an earlier simulator kept it: each item with its own copy of the body
        old.execute("ALTER TABLE items ADD COLUMN body TEXT NOT NULL DEFAULT ''")
    with serve_in_background(create_app(db, APP_ID, SECRET)) as url:
        platform = Platform(url)
        assert platform.push(event(2, status=("3", "审核中"))) == {"accepted": 1, "duplicates": 0}
        items = platform.view("BZ00000001").json()["ITEMS"]
    assert [(i["STATUS_NAME"], i["DATAVER"]) for i in items] == [("审核中", 2)]
