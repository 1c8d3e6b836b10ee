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
        _mask(record, redact(message))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _mask(record: logging.LogRecord, clean: str) -> None:
    """Mask `record` so that it reads `clean`, keeping its arguments where each masked alone gives it: some
    formatters read them (uvicorn's access log unpacks them); a number spread over several is flattened."""
    if isinstance(record.msg, str) and isinstance(record.args, tuple):
        args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        try:
            same = (redact(record.msg) % args if args else redact(record.msg)) == clean
        except (TypeError, ValueError):
            same = False
        if same:
            record.msg, record.args = redact(record.msg), args
            return
    record.msg, record.args = clean, ()
