"""The redaction layer masks ID and mobile numbers in every log record, whatever the logger."""

from __future__ import annotations

import inspect
import json
import logging
from datetime import date

import pytest
from structlog.tracebacks import ExceptionDictTransformer

from lianban.app.redact import TaskFailed, install, masked_errors, redact
from lianban.errors import RejectedError
from simulators.people import make_id_number

PERSON_ID = make_id_number("341622", date(1965, 3, 9), 6, True)
PHONE = "13912345678"


def test_ids_and_phones_are_masked_in_text() -> None:
    text = f"case BZ1 id={PERSON_ID} tel:{PHONE}; other 2026112700000001234 stays"
    masked = redact(text)
    assert PERSON_ID not in masked and PHONE not in masked
    assert f"{PERSON_ID[:6]}********{PERSON_ID[-4:]}" in masked and "139****5678" in masked
    assert "2026112700000001234" in masked  # 19 digits: not an ID number


def test_x_check_digit_is_masked() -> None:
    assert redact("34162219650115003X") == "341622********003X"


def test_every_log_record_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("sent %s to %s", PERSON_ID, PHONE)
        try:
            raise ValueError(f"bad id {PERSON_ID}")
        except ValueError:
            logging.getLogger("lianban").exception("failed")
    assert PERSON_ID not in caplog.text and PHONE not in caplog.text
    assert "341622********" in caplog.text


def test_a_record_keeps_its_arguments_for_a_formatter_that_reads_them() -> None:
    """Found in the first-hour review: under `uvicorn --factory lianban.app.api:app_from_env` (the README's
    production command) every request printed "--- Logging error --- … not enough values to unpack" instead of
    its access line, since uvicorn's AccessFormatter unpacks the record's arguments, which redaction had
    emptied. A record keeps them, each masked; only one whose number spans them is flattened."""
    from uvicorn.logging import AccessFormatter

    install()
    formatter = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    for path, shown in (("/query", "/query"), (f"/query?tel={PHONE}", "/query?tel=*")):
        record = logging.getLogger("uvicorn.access").makeRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:40000", "GET", path, "1.1", 200), None)
        assert formatter.format(record) == f'127.0.0.1:40000 - "GET {shown} HTTP/1.1" 200 OK'
    split = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "%s%s", (PHONE[:5], PHONE[5:]), None)
    assert split.getMessage() == "139****5678"


def test_an_access_line_shows_the_query_s_keys_not_its_values() -> None:
    """A query string is what a client sent: `GET /query?case_no=…&password=…&name=…` printed the query password
    and the name (neither recognisable by shape) in the hub API's access log; now only the keys show."""
    from uvicorn.logging import AccessFormatter

    install()
    formatter = AccessFormatter('"%(request_line)s" %(status_code)s', use_colors=False)
    sent = "/query?case_no=BZTX202603000001&password=s3cret-pw&name=%E5%BC%A0%E4%B8%89&flag"
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:40000", "GET", sent, "1.1", 200), None)
    assert formatter.format(record) == '"GET /query?case_no=*&password=*&name=*&* HTTP/1.1" 200 OK'


def _refuse(text: str) -> None:
    raise RejectedError(f"部门拒收：{text}", "ZDJYSB")


def test_a_task_fails_with_its_error_masked_as_airflow_renders_it() -> None:
    """Airflow 3 renders a failed task's exception with structlog (no locals), past the log-record factory: the
    job's exception, its message quoting an applicant, is raised again masked, its traceback kept and the
    unmasked one not chained (a chain is printed whole)."""
    job = masked_errors(_refuse)
    with pytest.raises(TaskFailed) as raised:
        job(f"身份证号 {PERSON_ID} 电话 {PHONE}")
    rendered = json.dumps(ExceptionDictTransformer(show_locals=False)(
        (raised.type, raised.value, raised.value.__traceback__)), ensure_ascii=False)
    assert PERSON_ID not in rendered and PHONE not in rendered
    assert "RejectedError: 部门拒收：身份证号 341622********" in rendered and "_refuse" in rendered
    assert job.__name__ == "_refuse" and inspect.signature(job) == inspect.signature(_refuse)


def test_airflows_own_exceptions_pass_as_they_are() -> None:
    """The task runner acts on their type (a timeout, a skip)."""
    from airflow.sdk.exceptions import AirflowTaskTimeout

    def slow() -> None:
        raise AirflowTaskTimeout(f"timed out {PERSON_ID}")

    with pytest.raises(AirflowTaskTimeout):
        masked_errors(slow)()
