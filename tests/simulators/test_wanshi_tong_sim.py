"""The simulated 皖事通办 亳州分平台 receiver, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from lianban.wire.gateway import sign_headers
from simulators.rest_department import serve_in_background
from simulators.wanshi_tong import create_app

APP_ID, SECRET = "lianban-hub", "wst-secret"
PROGRESS = "/api/v1/banjian/progress"


def event(event_id: int, projid: str = "BZ00000001", item: str = "341600-WJ-GF-0013",
          status: tuple[str, str] = ("1", "受理"), reason: str | None = None) -> dict[str, Any]:
    return {"event_id": event_id, "projid": projid, "item_code": item, "dept": "亳州市卫生健康委员会",
            "status_code": status[0], "status_name": status[1], "reason": reason,
            "changed_at": f"2025-03-01T08:00:{event_id % 60:02d}+08:00"}


class Platform:
    def __init__(self, url: str) -> None:
        self.url = url

    def push(self, *events: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps({"events": list(events)}, ensure_ascii=False).encode()
        resp = requests.post(self.url + PROGRESS, data=data, timeout=5,
                             headers={**sign_headers(APP_ID, SECRET, "POST", PROGRESS, data),
                                      "Content-Type": "application/json"})
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


def test_events_are_deduplicated_by_event_id(platform: Platform) -> None:
    assert platform.push(event(1), event(2, status=("3", "审核中"))) == {"accepted": 2, "duplicates": 0}
    assert platform.push(event(2, status=("3", "审核中")), event(3, status=("7", "已办结"))) == {
        "accepted": 1, "duplicates": 1}
    stats = platform.stats()
    assert (stats["events"], stats["duplicates"], stats["cases"], stats["items"]) == (3, 1, 1, 1)
    assert stats["items_by_status"] == {"已办结": 1}


def test_an_older_event_never_overwrites_a_newer_status(platform: Platform) -> None:
    platform.push(event(10, status=("7", "已办结")))
    platform.push(event(9, status=("3", "审核中")))  # arrives late
    items = platform.view("BZ00000001").json()["items"]
    assert [(i["status_name"], i["changed_at"]) for i in items] == [("已办结", event(10)["changed_at"])]
    assert platform.stats()["events"] == 2


def test_the_applicant_sees_every_item_with_status_reason_and_time(platform: Platform) -> None:
    platform.push(event(1, item="341600-RS-QT-0001", status=("5", "审核通过")),
                  event(2, item="341600-GJJ-GF-0014", status=("6", "审核不通过"),
                        reason="经审核，申请人不符合办理条件"),
                  event(3, projid="BZ00000002"))
    view = platform.view("BZ00000001").json()
    assert view["projid"] == "BZ00000001"
    assert [(i["item_code"], i["status_name"], i["reason"]) for i in view["items"]] == [
        ("341600-GJJ-GF-0014", "审核不通过", "经审核，申请人不符合办理条件"),
        ("341600-RS-QT-0001", "审核通过", None)]
    assert all(i["changed_at"] for i in view["items"])


def test_unknown_case_is_404_in_chinese(platform: Platform) -> None:
    resp = platform.view("BZ-NOPE")
    assert resp.status_code == 404 and "办件编号" in resp.json()["message"]


def test_signature_is_required(platform: Platform) -> None:
    resp = requests.post(platform.url + PROGRESS, json={"events": [event(1)]}, timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "AUTH"
    assert platform.stats()["events"] == 0


def test_malformed_events_are_refused(platform: Platform) -> None:
    data = json.dumps({"events": [{**event(1), "event_id": "one"}]}).encode()
    resp = requests.post(platform.url + PROGRESS, data=data, timeout=5,
                         headers={**sign_headers(APP_ID, SECRET, "POST", PROGRESS, data),
                                  "Content-Type": "application/json"})
    assert resp.status_code == 422 and "event_id" in resp.json()["message"]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "wst.db"
    with serve_in_background(create_app(db, APP_ID, SECRET)) as url:
        Platform(url).push(event(1))
    with serve_in_background(create_app(db, APP_ID, SECRET)) as url:
        assert Platform(url).push(event(1)) == {"accepted": 0, "duplicates": 1}
