"""The redaction layer masks ID and mobile numbers in every log record, whatever the logger."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from lianban.app.redact import install, redact
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
