"""Airflow's REST API client: a trigger answered 500 (Airflow on SQLite while its scheduler writes) is tried
again without starting a second run."""

from __future__ import annotations

from json import dumps
from typing import Any

import pytest
import requests

from lianban.app.airflow_api import AirflowApi


class _Answers:
    """Hands out the given status codes in turn, as Airflow's answers to each POST, keeping what was asked."""

    def __init__(self, *codes: int) -> None:
        self.codes, self.bodies = list(codes), list[dict[str, Any]]()

    def post(self, url: str, json: dict[str, Any], timeout: float) -> requests.Response:
        self.bodies.append(json)
        answer = requests.Response()
        answer.status_code, answer.url = self.codes.pop(0), url
        answer._content = dumps({"dag_run_id": json["dag_run_id"]}).encode()
        return answer


def _api(session: _Answers, monkeypatch: pytest.MonkeyPatch) -> AirflowApi:
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    api = AirflowApi.__new__(AirflowApi)
    api.url, api.timeout, api.session = "http://127.0.0.1:1", 5.0, session  # type: ignore[assignment]
    return api


def test_a_trigger_answered_500_is_tried_again_with_the_same_run_id(monkeypatch: pytest.MonkeyPatch) -> None:
    session = _Answers(500, 200)
    assert _api(session, monkeypatch).trigger("lianban_exchange") == session.bodies[0]["dag_run_id"]
    assert [b["dag_run_id"] for b in session.bodies] == [session.bodies[0]["dag_run_id"]] * 2


def test_a_run_the_lost_answer_had_started_is_the_one(monkeypatch: pytest.MonkeyPatch) -> None:
    session = _Answers(500, 409)
    assert _api(session, monkeypatch).trigger("lianban_exchange") == session.bodies[0]["dag_run_id"]


def test_a_conflict_at_once_and_a_lasting_500_are_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(requests.HTTPError, match="409"):
        _api(_Answers(409), monkeypatch).trigger("lianban_exchange")
    lasting = _Answers(500, 500, 500)
    with pytest.raises(requests.HTTPError, match="500"):
        _api(lasting, monkeypatch).trigger("lianban_exchange")
    assert len(lasting.bodies) == 3 and lasting.bodies[0]["logical_date"] is None


def test_a_refused_login_is_one_sentence_naming_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong password (or Airflow's auth manager answering 401/403) was a bare HTTPError traceback."""
    from lianban.errors import ConfigError

    def refused(self: requests.Session, url: str, **kwargs: Any) -> requests.Response:
        answer = requests.Response()
        answer.status_code, answer.url = 401, url
        return answer

    monkeypatch.setattr(requests.Session, "post", refused)
    with pytest.raises(ConfigError, match=r"无法登录 Airflow API .*HTTP 401.*simple_auth_manager_passwords"):
        AirflowApi("http://127.0.0.1:1", "admin", "wrong")
