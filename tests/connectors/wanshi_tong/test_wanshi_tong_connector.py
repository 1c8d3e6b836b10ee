"""The 皖事通办 connector against the real platform simulator: what the applicant ends up seeing."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.wanshi_tong.connector import load_codes
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.errors import ConfigError, RetriableError
from lianban.wire.contract import ProgressEvent, StatusSink
from lianban.wire.gateway import sign_headers
from lianban.wire.signatures import SignatureAlert
from simulators.rest_department import serve_in_background
from simulators.wanshi_tong import create_app

# fixtures (platform_url, connect, keys_dir) come from conftest.py beside this file


def ev(event_id: int, item: str, status: Status, case_no: str = "BZ2025000001",
       department: str = "health", reason: str | None = None) -> ProgressEvent:
    return ProgressEvent(event_id, case_no, item, department, status, f"2025-03-0{event_id % 9 + 1}T09:00:00+08:00",
                         reason)


def applicant_view(url: str, case_no: str) -> list[dict[str, Any]]:
    path = f"/api/v1/banjian/{case_no}"
    resp = requests.get(url + path, headers=sign_headers("lianban-hub", "wst-secret", "GET", path, b""), timeout=5)
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def test_codes_cover_every_item_and_status() -> None:
    codes = load_codes()
    assert set(codes.items) == set(load_catalog().items)
    assert set(codes.statuses) == set(Status)
    assert len(set(codes.statuses.values())) == len(Status)
    assert {i.department for i in load_catalog().items.values()} <= set(codes.departments)


def test_a_gap_in_codes_yaml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "codes.yaml"
    broken.write_text('version: 1\nitems: {"01": X}\nstatuses: {受理: "1"}\ndepartments: {}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"codes\.yaml.*14.*已办结"):
        load_codes(broken)


def test_push_is_idempotent_and_translated(platform_url: str, connect: Any) -> None:
    connector = connect(platform_url, batch_size=2)
    assert isinstance(connector, StatusSink)
    events = [ev(1, "13", Status.ACCEPTED), ev(2, "14", Status.ACCEPTED, department="housing_fund"),
              ev(3, "13", Status.NOT_ACCEPTED, reason="申请人不符合受理条件")]
    assert (connector.push(events).accepted, connector.push(events).duplicates) == (3, 3)
    view = applicant_view(platform_url, "BZ2025000001")
    codes = load_codes()
    shown = {i["item_code"]: (i["dept"], i["status_code"], i["status_name"], i["reason"]) for i in view}
    assert shown == {
        codes.items["13"]: ("亳州市卫生健康委员会", codes.statuses[Status.NOT_ACCEPTED], "不予受理",
                            "申请人不符合受理条件"),
        codes.items["14"]: ("亳州市住房公积金管理中心", codes.statuses[Status.ACCEPTED], "受理", None)}


def test_a_late_older_event_does_not_undo_completion(platform_url: str, connect: Any) -> None:
    connector = connect(platform_url)
    connector.push([ev(5, "14", Status.COMPLETED, department="housing_fund")])
    connector.push([ev(4, "14", Status.UNDER_REVIEW, department="housing_fund")])
    assert [i["status_name"] for i in applicant_view(platform_url, "BZ2025000001")] == ["已办结"]


def test_unknown_item_code_is_a_config_error(platform_url: str, connect: Any) -> None:
    with pytest.raises(ConfigError, match=r"codes\.yaml.*'99'"):
        connect(platform_url).push([ev(1, "99", Status.ACCEPTED)])


def test_wrong_secret_is_a_config_error(platform_url: str, connect: Any) -> None:
    connector = connect(platform_url, secret="wrong")
    with pytest.raises(ConfigError, match=r"dept_wanshi_tong.*app id"):
        connector.push([ev(1, "13", Status.ACCEPTED)])
    assert not connector.health().ok


def test_health_is_ok_when_reachable_and_signed(platform_url: str, connect: Any) -> None:
    report = connect(platform_url).health()
    assert report.ok, report.detail


def test_platform_down_is_retriable(connect: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    connector = connect(f"http://127.0.0.1:{port}")
    with pytest.raises(RetriableError, match="dept_wanshi_tong"):
        connector.push([ev(1, "13", Status.ACCEPTED)])
    report = connector.health()
    assert not report.ok and "无法连接" in report.detail


def test_an_answer_without_the_platforms_signature_is_not_trusted(tmp_path: Path, connect: Any) -> None:
    unsigned = create_app(tmp_path / "impostor.db", "lianban-hub", "wst-secret")  # answers, but signs nothing
    with serve_in_background(unsigned) as url:
        connector = connect(url)
        with pytest.raises(SignatureAlert, match="wanshi_tong") as alert:
            connector.push([ev(1, "13", Status.ACCEPTED)])
        assert isinstance(alert.value, RetriableError)  # an alert, retried later: never taken as delivered
