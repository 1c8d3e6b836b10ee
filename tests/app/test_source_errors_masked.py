"""`lianban run collect` and `lianban run supplements` run every source in one process and print each one's
failure as ``{"error": why}``: a department's refusal (HTTP 4xx) may quote the applicant's ID or mobile number, and
it is printed masked there, as the DAG tasks' ``stopped_by`` and ``lianban notices run``'s errors already are."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from connectors.housing_fund.connector import HousingFundConnector
from lianban.app import jobs
from lianban.app.cli import app
from lianban.app.config import Paths
from simulators.people import make_id_number

ID_NUMBER, MOBILE = make_id_number("341622", date(1965, 3, 14), 7, True), "13812345678"


class _Refusing(requests.adapters.BaseAdapter):
    """A gateway refusing every request (HTTP 400) with a message that quotes the applicant."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        resp = requests.Response()
        resp.status_code, resp.url, resp.request = 400, request.url or "", request
        resp._content = json.dumps({"code": "E102", "message": f"身份证号码 {ID_NUMBER}、联系电话 {MOBILE} 校验未通过"},
                                   ensure_ascii=False).encode()
        return resp

    def close(self) -> None:
        pass


def _refused(*_: Any) -> dict[str, Any]:
    session = requests.Session()
    session.mount("http://stub.invalid", _Refusing())
    HousingFundConnector("http://stub.invalid", session).poll(["k1"])
    return {}


def _printed(result: Any) -> str:
    assert "E102" in result.output and "Traceback" not in result.output, result.output
    return str(result.output)


def test_run_collect_prints_a_departments_refusal_masked(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "poll", _refused)
    printed = _printed(CliRunner().invoke(app, ["run", "collect", "--json"]))
    assert ID_NUMBER not in printed and MOBILE not in printed and "138****5678" in printed


def test_run_supplements_prints_a_departments_refusal_masked(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "_forward_supplements", _refused)
    printed = _printed(CliRunner().invoke(app, ["run", "supplements", "--json"]))
    assert ID_NUMBER not in printed and MOBILE not in printed and "138****5678" in printed


@pytest.mark.parametrize("command, job", [("collect", "poll"), ("supplements", "_forward_supplements")])
def test_a_department_whose_connector_fails_unexpectedly_fails_alone(paths: Paths, monkeypatch: pytest.MonkeyPatch,
                                                                     command: str, job: str) -> None:
    """A connector's own bug (not one of lianban's errors) for the first department stopped the whole command with
    a traceback: the other departments were not polled (or sent their 补正), HRSS not asked to pay. It is now that
    department's failure, by its kind only, the others run."""
    first, *others = jobs.pushed_departments()

    def one_broken(department: str, *_: Any) -> dict[str, Any]:
        if department == first:
            raise KeyError(f"{ID_NUMBER}")
        return {"done": department}

    monkeypatch.setattr(jobs, job, one_broken)
    result = CliRunner().invoke(app, ["run", command, "--json"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    printed = json.loads(result.output)
    assert "KeyError" in printed[first]["error"] and ID_NUMBER not in result.output
    assert all(printed[d] == {"done": d} for d in others)
