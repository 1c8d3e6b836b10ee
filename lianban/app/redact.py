"""One redaction layer for every log line lianban and its Airflow tasks write.

ID numbers are shown as ``341622********0012`` and mobile numbers as ``138****5678`` whatever logger,
handler or format produced them: :func:`install` wraps Python's log-record factory, so a record is
redacted the moment it is created. Names cannot be recognised by shape; the code never logs them, and
the end-to-end scan test proves it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_installed = False


def redact(text: str) -> str:
    """Mask every ID-number-shaped and mobile-number-shaped run in `text`."""
    return _PHONE.sub(r"\1****\2", _ID.sub(r"\1********\2", text))


def install() -> None:
    """Redact every LogRecord created in this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
