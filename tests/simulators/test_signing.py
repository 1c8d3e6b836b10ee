"""A simulated department signs each answer over the request it answers: a genuine answer given for another
request (two status pages swapped between polls) fails the hub's check, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lianban.crypto.hashing import sm3_hex
from lianban.crypto.suites import get_suite
from lianban.keys import keysets
from lianban.wire.signatures import HEADER, ResponseVerifier, SignatureAlert
from simulators.rest_department import serve_in_background
from simulators.signing import SigningMiddleware

POLL, QUICK = "/api/v1/cases:status", "/api/v1/quick"


async def _poll(request: Request) -> Response:
    keys = json.loads(await request.body())["idempotency_keys"]
    return JSONResponse({"statuses": [{"idempotency_key": k, "code": "SHZ"} for k in keys]})


async def _quick(request: Request) -> Response:
    return JSONResponse({"code": "BUSY"}, status_code=503)  # answered before the body is read


@pytest.fixture
def keys(tmp_path: Path) -> keysets.KeySet:
    return keysets.ensure(tmp_path, "health-signing")


@pytest.fixture
def url(keys: keysets.KeySet) -> Iterator[str]:
    kid, private = keys.active_private()
    app = Starlette(routes=[Route(POLL, _poll, methods=["POST"]), Route(QUICK, _quick, methods=["POST"])])
    with serve_in_background(SigningMiddleware(app, get_suite(keys.suite), kid, private)) as base:
        yield base


def _verifier(keys: keysets.KeySet) -> ResponseVerifier:
    return ResponseVerifier("health", get_suite(keys.suite), keys.public)


def test_an_answer_checks_against_its_own_request_and_not_against_another(url: str, keys: keysets.KeySet) -> None:
    asked = [json.dumps({"idempotency_keys": keys_}).encode() for keys_ in (["K1"], ["K2"])]
    answers = [requests.post(url + POLL, data=body, timeout=10) for body in asked]
    assert all(a.status_code == 200 and a.headers[HEADER].startswith("v=2;") for a in answers)
    _verifier(keys).verify(answers[0].headers[HEADER], 200, POLL, answers[0].content, sm3_hex(asked[0]))
    with pytest.raises(SignatureAlert, match="签名无效"):  # the second poll's genuine page, given for the first
        _verifier(keys).verify(answers[1].headers[HEADER], 200, POLL, answers[1].content, sm3_hex(asked[0]))


def test_an_answer_given_before_the_app_read_the_body_still_covers_the_whole_body(
        url: str, keys: keysets.KeySet) -> None:
    body = b"x" * 300_000  # several chunks on the wire
    answer = requests.post(url + QUICK, data=body, timeout=10)
    assert answer.status_code == 503
    _verifier(keys).verify(answer.headers[HEADER], 503, QUICK, answer.content, sm3_hex(body))
