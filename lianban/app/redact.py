"""One redaction layer for every log line lianban and its Airflow tasks write.

ID numbers are shown as ``341622********0012`` and mobile numbers as ``138****5678`` whatever logger,
handler or format produced them: :func:`install` wraps Python's log-record factory, so a record is
redacted the moment it is created. Names cannot be recognised by shape; the code never logs them, and
the end-to-end scan test proves it.
"""

from __future__ import annotations

import logging
from typing import Any

from lianban.domain.identity import redact_text as redact

__all__ = ["install", "redact"]

_installed = False


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
