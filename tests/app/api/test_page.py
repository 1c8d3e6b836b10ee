"""The applicant's page ``/query`` against the live hub: a Chinese form, a readable table, nothing external."""

from __future__ import annotations

import re

import requests

from tests.app.api.conftest import Hub

TIMEOUT = 30


def post(hub: Hub, case_no: str, password: str) -> requests.Response:
    return requests.post(f"{hub.url}/query", data={"case_no": case_no, "password": password}, timeout=TIMEOUT)


def test_the_form_is_chinese_works_on_a_phone_and_loads_nothing_from_elsewhere(hub: Hub) -> None:
    page = requests.get(f"{hub.url}/query", timeout=TIMEOUT)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "办件编号" in html and "查询密码" in html and 'name="viewport"' in html
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert re.findall(r'(?:href|src)="([^"]+)"', html) == ["/query.css"]
    css = requests.get(f"{hub.url}/query.css", timeout=TIMEOUT)
    assert css.headers["Content-Type"].startswith("text/css") and "@media" in css.text and "url(" not in css.text


def test_the_right_password_shows_a_table_row_per_item_with_status_colours_and_dates(hub: Hub) -> None:
    app = hub.app(0)
    page = post(hub, app["case_no"], app["password"])
    assert page.status_code == 200
    html = page.text
    assert html.count("<tr>") == 1 + 3  # the header and one row per chosen item
    assert '<span class="status attention">补正资料</span>' in html
    assert '<span class="status done">已办结</span>' in html and "等待部门反馈" in html
    assert "职工养老保险待遇申领" in html and "住房公积金管理中心" in html and "2026-11-28 15:00" in html
    assert "需补正材料" in html and "23456.78" in html
    assert app["password"] not in html and f'value="{app["case_no"]}"' in html


def test_a_wrong_password_shows_the_same_sentence_as_an_unknown_case(hub: Hub) -> None:
    wrong, unknown = post(hub, hub.app(0)["case_no"], "000000"), post(hub, "BZTX209912999999", "000000")
    assert wrong.status_code == unknown.status_code == 404
    assert "办件编号或查询密码不正确" in wrong.text and "<table" not in wrong.text
    assert wrong.text.replace(hub.app(0)["case_no"], "") == unknown.text.replace("BZTX209912999999", "")


def test_a_form_with_more_fields_than_asked_is_refused_in_chinese(hub: Hub) -> None:
    page = requests.post(f"{hub.url}/query", data={f"f{n}": "1" for n in range(10)}, timeout=TIMEOUT)
    assert page.status_code == 422 and "请填写办件编号和查询密码" in page.text


def test_markup_typed_into_the_form_is_shown_as_text(hub: Hub) -> None:
    page = post(hub, '"><script>alert(1)</script>', "000000")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_a_reported_time_past_what_a_date_holds_in_beijing_is_shown_as_given() -> None:
    from lianban.app.api.page import beijing_time

    assert beijing_time("9999-12-31T23:59:00+00:00") == "9999-12-31T23:59:00+00:00"
    assert beijing_time("2026-11-28T07:00:00+00:00") == "2026-11-28 15:00"
    assert beijing_time("2026-11-28T15:00:00") == "2026-11-28 15:00"  # without an offset: Beijing time


def test_a_due_date_in_a_year_without_a_published_holiday_schedule_is_marked_as_an_estimate() -> None:
    from lianban.app.api.page import shown_day
    from lianban.domain.working_days import official_years

    last = official_years()[-1]
    assert shown_day(f"{last}-12-24") == f"{last}-12-24"
    assert shown_day(f"{last + 1}-01-07") == f"{last + 1}-01-07（估算）"
