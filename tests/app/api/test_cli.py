"""`lianban serve` and `lianban case reset-password` as an operator runs them, and the published OpenAPI document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests
from sqlalchemy import select

from lianban.app.api import openapi_document
from lianban.ledger.db import session_factory
from lianban.ledger.models import Evidence
from tests.app.api.conftest import Hub

ROOT = Path(__file__).resolve().parents[3]
PUBLISHED = ROOT / "schemas" / "hub" / "openapi.json"
TIMEOUT = 30


def lianban(hub: Hub, *args: str) -> subprocess.Popen[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LIANBAN_")}, "LIANBAN_HOME": str(hub.paths.home)}
    return subprocess.Popen([sys.executable, "-m", "lianban.app.cli", *args], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_serve_prints_its_url_first_and_answers_there(hub: Hub) -> None:
    server = lianban(hub, "serve", "--port", "0")
    try:
        assert server.stdout is not None
        first = json.loads(server.stdout.readline())
        assert set(first) == {"url"} and first["url"].startswith("http://127.0.0.1:")
        app = hub.app(1)
        answer = requests.post(f"{first['url']}/api/v1/progress", json={"case_no": app["case_no"],
                                                                         "password": app["password"]}, timeout=TIMEOUT)
        assert answer.status_code == 200 and answer.json()["case_no"] == app["case_no"]
    finally:
        server.terminate()
        server.wait(timeout=TIMEOUT)


def test_reset_password_issues_a_new_one_and_the_old_one_stops_working(hub: Hub) -> None:
    app = hub.app(2)
    done = lianban(hub, "case", "reset-password", app["case_no"].lower(), "--json")
    out, _ = done.communicate(timeout=TIMEOUT)
    assert done.returncode == 0
    printed = json.loads(out)
    assert printed["case_no"] == app["case_no"] and len(printed["password"]) == 6 and printed["password"].isdigit()

    def status(password: str) -> int:
        return requests.post(f"{hub.url}/api/v1/progress", json={"case_no": app["case_no"], "password": password},
                             timeout=TIMEOUT).status_code

    assert status(printed["password"]) == 200
    assert status(app["password"]) == 404 or app["password"] == printed["password"]
    with session_factory(hub.paths.ledger_url)() as session:
        resets = session.scalars(select(Evidence).where(Evidence.kind == "password-reset")).all()
        logged = [str(v) for e in session.scalars(select(Evidence)) for v in vars(e).values()]
    assert [(e.direction, e.department, json.loads(e.case_nos)) for e in resets] == [
        ("out", "applicant", [app["case_no"]])]
    assert not [v for v in logged if printed["password"] in v]  # the password itself is nowhere in the log


def test_reset_password_of_an_unknown_case_says_so_in_one_sentence(hub: Hub) -> None:
    done = lianban(hub, "case", "reset-password", "BZTX209912999999", "--json")
    out, err = done.communicate(timeout=TIMEOUT)
    assert done.returncode == 2 and "台账中没有办件 'BZTX209912999999'" in (out + err).replace("\n", "")


def test_the_served_openapi_document_is_the_published_one(hub: Hub) -> None:
    served = requests.get(f"{hub.url}/api/v1/openapi.json", timeout=TIMEOUT).json()
    published = json.loads(PUBLISHED.read_text())
    assert served == published == openapi_document(), (
        "the API changed: review it, then `lianban serve --openapi > schemas/hub/openapi.json`")


def test_the_published_callback_names_the_signature_a_push_needs_and_its_answer_carries() -> None:
    """A department building its client from the document alone must learn that a push is gateway-signed (an
    unsigned one is refused 401) and where the hub's signature on the answer is."""
    push = json.loads(PUBLISHED.read_text())["paths"]["/api/v1/departments/{department}/status"]["post"]
    headers = {p["name"] for p in push["parameters"] if p["in"] == "header" and p["required"]}
    assert headers == {"X-App-Id", "X-Timestamp", "X-Nonce", "X-Signature"}
    assert "X-Lianban-Signature" in push["responses"]["200"]["headers"]
