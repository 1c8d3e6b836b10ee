"""The dashboard's application: read-only routes, whoever mounts it decides who may look (a browser without a
session is sent to the login and back), strict headers, and a missing ledger said in one Chinese sentence."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException
from fastapi.testclient import TestClient

from lianban.app.dashboard import create_app
from tests.app.dashboard.conftest import Demo

HTML = {"accept": "text/html,application/xhtml+xml"}


def _signed_in() -> None:
    """Stands for Airflow's check: the caller has a session and may look."""


def _no_session() -> None:
    raise HTTPException(status_code=401, detail="Not authenticated")


def _login(next_url: str) -> str:
    return f"/auth/login?next={next_url}"


def test_the_page_the_json_and_the_stylesheet(demo: Demo) -> None:
    client = TestClient(create_app(demo.paths.ledger_url, dependencies=[_signed_in]))
    page, numbers, css = client.get("/", headers=HTML), client.get("/numbers.json"), client.get("/dashboard.css")
    assert page.status_code == numbers.status_code == css.status_code == 200
    assert "<title>联办运行看板</title>" in page.text and 'href="dashboard.css"' in page.text
    assert numbers.json()["status"]["cases"] > 0 and css.headers["content-type"].startswith("text/css")
    assert "<script" not in page.text


def test_every_answer_forbids_scripts_and_framing_by_other_sites(demo: Demo) -> None:
    answer = TestClient(create_app(demo.paths.ledger_url)).get("/")
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp and "script-src" not in csp
    assert answer.headers["x-frame-options"] == "SAMEORIGIN" and answer.headers["cache-control"] == "no-store"


def test_it_is_read_only(demo: Demo) -> None:
    client = TestClient(create_app(demo.paths.ledger_url))
    assert {client.post("/").status_code, client.put("/numbers.json").status_code,
            client.delete("/").status_code} == {405}


def test_a_browser_without_a_session_goes_to_the_login_and_comes_back(demo: Demo) -> None:
    client = TestClient(create_app(demo.paths.ledger_url, dependencies=[_no_session], login=_login))
    page = client.get("/", headers=HTML, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/auth/login?next=/"
    numbers = client.get("/numbers.json")
    assert numbers.status_code == 401 and "status" not in numbers.json()


def test_a_missing_ledger_is_one_sentence_saying_what_to_do(tmp_path: Path) -> None:
    client = TestClient(create_app(f"sqlite:///{tmp_path / 'nowhere' / 'ledger.db'}"))
    page = client.get("/")
    assert page.status_code == 503 and "看板暂不可用" in page.text
    assert client.get("/numbers.json").status_code == 503


def test_a_damaged_ledger_is_said_as_such_not_as_a_generic_database_error(tmp_path: Path) -> None:
    """The page said "不可用或结构不符" for every database error, where ``lianban status`` names a damaged file."""
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(b"not a database, " * 512)
    client = TestClient(create_app(f"sqlite:///{ledger}"))
    page = client.get("/")
    assert page.status_code == 503 and "数据库文件已损坏或不是数据库" in page.text
    assert "数据库文件已损坏或不是数据库" in client.get("/numbers.json").json()["error"]
