"""The API fuzzer (schemathesis) reads the published OpenAPI document and throws generated and malformed
queries at the live hub: no answer may be a server error, and every answer must match the document
(status code, content type, body schema). Bounded, so it runs in seconds."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from tests.app.api.conftest import Hub

PUBLISHED = Path(__file__).resolve().parents[3] / "schemas" / "hub" / "openapi.json"
schema = schemathesis.openapi.from_dict(json.loads(PUBLISHED.read_text()))
#: a different client address per call (the hub trusts its local proxy's X-Forwarded-For), so the rate limit
#: does not turn the whole run into 429s
_clients = itertools.count()


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_fuzzer_finds_nothing(case: schemathesis.Case, hub: Hub) -> None:
    n = next(_clients)
    case.call_and_validate(base_url=hub.url, headers={"X-Forwarded-For": f"10.9.{n // 250}.{n % 250 + 1}"})
