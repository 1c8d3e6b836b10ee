"""The 皖事通办 connector: every body it builds conforms to the published document, and against the real platform
simulator, what the applicant ends up seeing."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.wanshi_tong.codes import code
from connectors.wanshi_tong.connector import CODES_FILE, MAX_PUSH_BYTES, WanshiTongConnector, load_codes
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.errors import ConfigError, RejectedError, RetriableError
from lianban.wire.contract import CaseRecord, ProgressEvent, StatusSink
from lianban.wire.gateway import sign_headers
from lianban.wire.signatures import SignatureAlert
from simulators.rest_department import serve_in_background
from simulators.wanshi_tong import create_app
from simulators.wanshi_tong_interface import load_interface

# fixtures (platform_url, connect, keys_dir) come from conftest.py beside this file


def ev(event_id: int, item: str, status: Status, case_no: str = "BZ2025000001",
       department: str = "health", reason: str | None = None, **extra: Any) -> ProgressEvent:
    return ProgressEvent(event_id, case_no, item, department, status, f"2025-03-0{event_id % 9 + 1}T09:00:00+08:00",
                         reason, **{"dataver": event_id, **extra})


def record(status: Status, dataver: int, region: str = "341602", done_at: str | None = None,
           refused: int = 0, case_no: str = "BZ2025000001") -> CaseRecord:
    return CaseRecord(case_no, region, "2025-03-01T09:00:00+08:00", 15, status, dataver, done_at, refused)


def applicant_view(url: str, case_no: str) -> dict[str, Any]:
    path = f"/api/v1/banjian/{case_no}"
    resp = requests.get(url + path, headers=sign_headers("lianban-hub", "wst-secret", "GET", path, b""), timeout=5)
    view: dict[str, Any] = resp.json()
    return view


def offline() -> WanshiTongConnector:
    return WanshiTongConnector("http://127.0.0.1:9", requests.Session())


def test_codes_cover_every_item_and_status() -> None:
    codes = load_codes()
    assert set(codes.items) == set(load_catalog().items)
    assert set(codes.statuses) == set(Status) == set(codes.nodes)
    assert len(set(codes.statuses.values())) == len(Status)
    assert {i.department for i in load_catalog().items.values()} <= set(codes.departments)
    assert {s for s in Status if s.is_terminal()} <= set(codes.done_results)


def test_every_code_in_codes_yaml_is_one_the_published_document_allows() -> None:
    codes, schemas = load_codes(), load_interface().document["components"]["schemas"]
    event, case = schemas["BanjianEvent"]["properties"], schemas["BanjianCase"]["properties"]
    assert {n.result for n in codes.nodes.values()} <= set(event["NODERESULT"]["enum"])
    assert {d.code for d in codes.done_results.values()} <= set(case["DONERESULT"]["enum"])
    assert codes.infotype in schemas["InfoType"]["enum"] and codes.infotype == "3"  # 联办件
    assert codes.promise_unit in case["PROMISETYPE"]["enum"]
    assert all(re.match(schemas["StatusCode"]["pattern"], c) for c in codes.statuses.values())
    assert all(re.match(event["SERVICECODE"]["pattern"], c) for c in codes.items.values())


def test_a_gap_in_codes_yaml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "codes.yaml"
    broken.write_text('version: 1\nitems: {"01": X}\nstatuses: {受理: "1"}\ndepartments: {}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"codes\.yaml.*14.*已办结.*nodes\.受理.*done_results\.不予受理.*region"):
        load_codes(broken)


def test_a_department_without_its_name_for_the_platform_is_a_gap_found_at_load(tmp_path: Path) -> None:
    """A department of the catalog missing from ``departments`` loaded, and stopped the report only when its first
    event was pushed (every department's reporting with it), where codes.yaml promises gaps found before any."""
    good = CODES_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "codes.yaml"
    broken.write_text(good.replace("  health: 亳州市卫生健康委员会\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"codes\.yaml.*departments\.health"):
        load_codes(broken)

def test_a_region_that_is_not_a_12_digit_code_is_a_config_error(tmp_path: Path) -> None:
    good = CODES_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "codes.yaml"
    broken.write_text(good.replace('default: "341600000000"', 'default: "3416"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"codes\.yaml.*region\.default"):
        load_codes(broken)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("extras", [
    {},
    {"materials": ("独生子女父母光荣证", "联办申请表"), "due_date": "2025-03-17"},
    {"result": "公积金提取 12345.67 元，2026-12-01 已转账", "due_date": "2025-03-17",
     "case": record(Status.UNDER_REVIEW, 2)},
    {"case": record(Status.COMPLETED, 3, done_at="2025-03-09T09:00:00+08:00", refused=1)},
    {"case": record(Status.REJECTED, 3, region="340104", done_at="2025-03-09T09:00:00+08:00", refused=2)},
    {"case": record(Status.NOT_ACCEPTED, 1, done_at="2025-03-09T09:00:00+08:00", refused=1)},
], ids=["bare", "materials", "result", "done-partly", "all-rejected", "not-accepted"])
def test_every_body_the_connector_builds_conforms_to_the_published_document(status: Status,
                                                                            extras: dict[str, Any]) -> None:
    events = [ev(1, "13", status, reason="原因", **extras), ev(2, "14", status, department="housing_fund")]
    body = offline().body(events)
    assert load_interface().problems(body) == []


def test_the_case_record_says_how_the_case_ended() -> None:
    codes, connector = load_codes(), offline()
    pending, done, rejected, outsider = (
        record(Status.UNDER_REVIEW, 1), record(Status.COMPLETED, 2, done_at="2025-03-09T09:00:00+08:00", refused=1),
        record(Status.REJECTED, 3, done_at="2025-03-09T09:00:00+08:00", refused=2),
        record(Status.COMPLETED, 1, region="340104", done_at="2025-03-09T09:00:00+08:00", case_no="BZ2"))
    body = connector.body([ev(1, "13", Status.UNDER_REVIEW, case=pending), ev(2, "14", Status.COMPLETED, case=done),
                           ev(3, "13", Status.REJECTED, case=rejected),
                           ev(4, "14", Status.COMPLETED, case_no="BZ2", case=outsider)])
    shown = [(c["PROJID"], c["DATAVER"], c["REGION_ID"], c["DONERESULT"], c["TRANSACT_TIME"], c["DONEREASON"])
             for c in body["cases"]]
    assert shown == [  # one record per case, the newest the push carries
        ("BZ2025000001", 3, "341602000000", codes.done_results[Status.REJECTED].code, "2025-03-09T09:00:00+08:00",
         codes.done_results[Status.REJECTED].reason),
        ("BZ2", 1, "341600000000", "6", "2025-03-09T09:00:00+08:00", None)]  # born outside Bozhou: the city
    assert connector.body([ev(1, "13", Status.UNDER_REVIEW, case=pending)])["cases"][0]["DONERESULT"] is None
    assert connector.body([ev(2, "14", Status.COMPLETED, case=done)])["cases"][0]["DONEREASON"] == \
        codes.partly_done_reason
    assert body["cases"][0]["PROMISEVALUE"] == 15 and body["cases"][0]["PROMISETYPE"] == "1"


def test_each_event_of_a_mixed_push_carries_its_own_codes() -> None:
    """A push looks each status, item, department and region up once: every event still gets its own."""
    codes = load_codes()
    events = [ev(1, "13", Status.ACCEPTED, case=record(Status.ACCEPTED, 1)),
              ev(2, "14", Status.SUPPLEMENT, department="housing_fund", materials=("身份证",),
                 case=record(Status.SUPPLEMENT, 2, region="340104", case_no="BZ2"), case_no="BZ2"),
              ev(3, "13", Status.COMPLETED, case=None), ev(4, "01", Status.SUPPLEMENT, department="medical")]
    got = [(b["STATUS_CODE"], b["NODENAME"], b["SERVICECODE"], b["DEPTNAME"], b["REGION_ID"], b["BZCLQD"])
           for b in offline().body(events)["events"]]
    assert got == [(codes.statuses[e.status], codes.nodes[e.status].name, codes.items[e.item_code],
                    codes.departments[e.department], codes.region(e.case.region_code if e.case else ""),
                    [{"CLMC": m} for m in e.materials]) for e in events]
    assert len({g[0] for g in got}) == 3 and len({g[4] for g in got}) == 2  # a county, and the city


def test_the_bytes_pushed_are_the_conforming_body_in_json() -> None:
    """The wire is written from msgspec structs (twice as fast as dicts): what goes out reads back as the very
    body the published document was checked against, key for key and in the same order."""
    events = [ev(1, "13", Status.ACCEPTED, case=record(Status.ACCEPTED, 1)),
              ev(2, "14", Status.SUPPLEMENT, department="housing_fund", materials=("身份证", "联办申请表"),
                 reason="材料不全", due_date="2025-03-17", case=record(Status.SUPPLEMENT, 2, case_no="BZ2"),
                 case_no="BZ2"),
              ev(3, "13", Status.COMPLETED, result="已转账", case=record(Status.COMPLETED, 3,
                                                                      done_at="2025-03-09T09:00:00+08:00"))]
    connector = offline()
    [pushed] = connector.encoder()(events)
    read_back = json.loads(pushed)
    assert read_back == connector.body(events) and load_interface().problems(read_back) == []
    assert [list(e) for e in read_back["events"]] == [list(e) for e in connector.body(events)["events"]]
    assert read_back["events"][1]["BZCLQD"] == [{"CLMC": "身份证"}, {"CLMC": "联办申请表"}]


def test_every_time_goes_out_in_beijing_time_to_the_second() -> None:
    ledger_times = ProgressEvent(1, "BZ2025000001", "13", "health", Status.COMPLETED,
                                 "2025-03-03T01:30:00.123456+00:00",
                                 case=CaseRecord("BZ2025000001", "341602", "2025-03-02T17:00:00+00:00", 15,
                                                 Status.COMPLETED, 1, "2025-03-03T01:30:00.123456+00:00"))
    body = offline().body([ledger_times])
    assert body["events"][0]["NODETIME"] == "2025-03-03T09:30:00+08:00"
    assert (body["cases"][0]["RECEIVETIME"], body["cases"][0]["TRANSACT_TIME"]) == (
        "2025-03-03T01:00:00+08:00", "2025-03-03T09:30:00+08:00")


def test_push_is_idempotent_and_translated(platform_url: str, connect: Any) -> None:
    connector = connect(platform_url, batch_size=2)
    assert isinstance(connector, StatusSink)
    events = [ev(1, "13", Status.ACCEPTED, case=record(Status.ACCEPTED, 1)),
              ev(2, "14", Status.SUPPLEMENT, department="housing_fund", reason="请补充材料",
                 materials=("独生子女父母光荣证",), due_date="2025-03-17", case=record(Status.SUPPLEMENT, 2)),
              ev(3, "13", Status.NOT_ACCEPTED, reason="申请人不符合受理条件", case=record(Status.SUPPLEMENT, 3))]
    assert (connector.push(events).accepted, connector.push(events).duplicates) == (3, 3)
    view = applicant_view(platform_url, "BZ2025000001")
    codes = load_codes()
    shown = {i["SERVICECODE"]: (i["DEPTNAME"], i["STATUS_CODE"], i["STATUS_NAME"], i["NODERESULT"], i["NODEREASON"],
                                [m["CLMC"] for m in i["BZCLQD"]], i["PROMISE_DATE"], i["DATAVER"])
             for i in view["ITEMS"]}
    assert shown == {
        codes.items["13"]: ("亳州市卫生健康委员会", codes.statuses[Status.NOT_ACCEPTED], "不予受理", "3",
                            "申请人不符合受理条件", [], None, 3),
        codes.items["14"]: ("亳州市住房公积金管理中心", codes.statuses[Status.SUPPLEMENT], "补正资料", "5",
                            "请补充材料", ["独生子女父母光荣证"], "2025-03-17", 2)}
    assert (view["CASE"]["STATUS_NAME"], view["CASE"]["DATAVER"], view["CASE"]["INFOTYPE"]) == ("补正资料", 3, "3")


def test_a_late_older_event_does_not_undo_completion(platform_url: str, connect: Any) -> None:
    connector = connect(platform_url)
    connector.push([ev(5, "14", Status.COMPLETED, department="housing_fund")])
    connector.push([ev(4, "14", Status.UNDER_REVIEW, department="housing_fund")])
    assert [i["STATUS_NAME"] for i in applicant_view(platform_url, "BZ2025000001")["ITEMS"]] == ["已办结"]


def test_a_refused_body_is_a_rejected_error_with_the_platforms_reason(platform_url: str, connect: Any) -> None:
    with pytest.raises(RejectedError, match="SCHEMA") as refused:
        connect(platform_url).push([ev(1, "13", Status.REJECTED, reason="原因" * 300)])
    assert "events[0].NODEREASON 过长" in refused.value.reason


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


def long_events(n: int) -> list[ProgressEvent]:
    """`n` events as long as the published document allows (a 500-character reason, 50 material names of 100
    characters): about 17 KB each on the wire."""
    materials = tuple(f"{k:02d}" + "补充材料" * 24 + "证明" for k in range(50))
    return [ev(k, "14", Status.SUPPLEMENT, case_no=f"BZ2025{k:06d}", department="housing_fund",
               reason="请补充" * 166 + "材料", materials=materials, case=record(Status.SUPPLEMENT, k,
                                                                        case_no=f"BZ2025{k:06d}"))
            for k in range(1, n + 1)]


def sizes_sent(connector: WanshiTongConnector, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each body the connector sends from now on (the requests still go out)."""
    sent: list[int] = []
    send = connector.client.send

    def measured(method: str, path: str, body: bytes | None) -> dict[str, Any]:
        sent.append(len(body or b""))
        return send(method, path, body)

    monkeypatch.setattr(connector.client, "send", measured)
    return sent


def test_a_batch_of_long_events_is_halved_until_each_body_is_within_the_platforms_5_mb(
        platform_url: str, connect: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    events = long_events(400)
    connector = connect(platform_url, batch_size=2500)
    sizes = sizes_sent(connector, monkeypatch)
    assert connector.push(events).accepted == 400
    assert sum(sizes) > MAX_PUSH_BYTES and len(sizes) == 2 and max(sizes) <= MAX_PUSH_BYTES
    assert applicant_view(platform_url, "BZ2025000400")["ITEMS"][0]["BZCLQD"][49]["CLMC"].startswith("49补充材料")
    uncapped = connect(platform_url, batch_size=2500)
    uncapped.max_bytes = 10 * MAX_PUSH_BYTES
    with pytest.raises(RejectedError, match="TOO_LARGE"):  # what the cap spares the report: a refused push
        uncapped.push(events)


def test_an_event_over_the_cap_on_its_own_still_goes_alone(platform_url: str, connect: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    connector = connect(platform_url)
    connector.max_bytes = 1
    sizes = sizes_sent(connector, monkeypatch)
    assert connector.push([ev(k, "13", Status.ACCEPTED) for k in (1, 2, 3)]).accepted == 3
    assert len(sizes) == 3


def test_a_time_past_what_a_date_holds_in_beijing_is_sent_as_given_for_the_platform_to_refuse() -> None:
    from connectors.wanshi_tong.mapping import beijing_time

    assert beijing_time("9999-12-31T23:59:00Z") == "9999-12-31T23:59:00Z"  # 9999-12-31T23:59Z is 10000 in Beijing
    assert beijing_time("2026/11/20 09:00") == "2026/11/20 09:00"


def test_the_code_tables_errors_tell_the_operator_in_chinese(tmp_path: Path) -> None:
    """What an operator reads when codes.yaml lacks a code or cannot be read: a Chinese sentence naming the file
    and the codes, and what to do."""
    broken = tmp_path / "codes.yaml"
    broken.write_text('version: 1\nitems: {"01": X}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"codes\.yaml：缺少皖事通办编码.*14.*请补充后再推送"):
        load_codes(broken)
    unreadable = tmp_path / "unreadable.yaml"
    unreadable.write_text("items: [", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unreadable\.yaml：无法读取皖事通办编码表"):
        load_codes(unreadable)
    with pytest.raises(ConfigError, match=r"codes\.yaml：缺少皖事通办编码 '99'.*请补充后再推送"):
        code(load_codes().items, "99")
