"""Each fault a department can show lands in the right branch of lianban.errors, with secrets redacted.

    timeout, HTTP 500, outage (503), malformed answer, text/html answer   → RetriableError
        (a malformed or text/html answer no longer carries the department's valid response signature, so
        it is refused first as lianban.wire.signatures.SignatureAlert, itself a RetriableError)
    HTTP 429                                                              → RetriableError with retry_after
    SOAP Fault (faultcode Server)                                         → RetriableError
    wrong credentials                                                     → ConfigError (do not retry)

Faults are switched on the running simulator through ``POST /_sim/faults`` (:mod:`simulators.faults`).
"""

from __future__ import annotations

import time

import pytest
import requests
from contract_kit import LATENCY, READ_TIMEOUT, LiveDepartment, assert_redacted
from lxml import etree

from lianban.errors import ConfigError, RetriableError

WRONG_PASSWORD = "Wrong-Pa55word-for-contract-tests"


def test_a_timeout_is_retriable(live: LiveDepartment) -> None:
    connector = live.connector(read_timeout=READ_TIMEOUT)
    live.set_faults(latency=LATENCY)

    with pytest.raises(RetriableError) as caught:
        live.probe(connector)

    assert_redacted(caught.value, live.password)
    time.sleep(LATENCY)  # let the late request land before the next test counts anything


def test_a_server_error_is_retriable(live: LiveDepartment) -> None:
    connector = live.connector()
    live.set_faults(error_rate=1.0)

    with pytest.raises(RetriableError) as caught:
        live.probe(connector)

    assert_redacted(caught.value, live.password)


def test_an_outage_is_retriable_and_health_says_so(live: LiveDepartment) -> None:
    connector = live.connector()
    live.set_faults(outage=[0, 30])

    with pytest.raises(RetriableError) as caught:
        live.probe(connector)
    report = connector.health()

    assert_redacted(caught.value, live.password)
    assert not report.ok and report.detail.strip()
    assert live.password not in report.detail


def test_throttling_is_retriable_after_the_time_the_department_names(live: LiveDepartment) -> None:
    connector = live.connector()
    live.set_faults(rate_limit=1)

    with pytest.raises(RetriableError) as caught:
        for _ in range(3):
            live.probe(connector)

    assert caught.value.retry_after is not None and caught.value.retry_after > 0
    assert_redacted(caught.value, live.password)


def test_a_malformed_answer_is_retriable(live: LiveDepartment) -> None:
    connector = live.connector()
    live.set_faults(malformed=1.0)

    with pytest.raises(RetriableError) as caught:
        live.probe(connector)

    assert_redacted(caught.value, live.password)


def test_an_html_page_instead_of_the_answer_is_retriable(live: LiveDepartment) -> None:
    connector = live.connector()
    live.set_faults(wrong_content_type=1.0)

    with pytest.raises(RetriableError) as caught:
        live.probe(connector)

    assert_redacted(caught.value, live.password)


def test_wrong_credentials_are_a_config_error(live: LiveDepartment) -> None:
    connector = live.connector(password=WRONG_PASSWORD)

    with pytest.raises(ConfigError) as caught:
        live.probe(connector)
    report = connector.health()

    assert_redacted(caught.value, WRONG_PASSWORD, live.password)
    assert not report.ok
    assert WRONG_PASSWORD not in report.detail and live.password not in report.detail


def test_a_soap_server_fault_is_retriable(live_soap: LiveDepartment) -> None:
    connector = live_soap.connector()
    live_soap.set_faults(error_rate=1.0)
    wire = requests.post(f"{live_soap.url}/soap/{live_soap.name}", data=b"<x/>", timeout=5)
    assert wire.status_code == 500
    assert etree.fromstring(wire.content).findtext(".//faultcode") == "soap:Server"

    with pytest.raises(RetriableError) as caught:
        live_soap.probe(connector)

    assert_redacted(caught.value, live_soap.password)
