"""One redaction layer for every log line lianban and its Airflow tasks write.

ID numbers are shown as ``341622********0012`` and mobile numbers as ``138****5678`` whatever logger,
handler or format produced them: :func:`install` wraps Python's log-record factory, so a record is
redacted the moment it is created; uvicorn's access lines (the hub API under the ``uvicorn`` command) show a
query string's keys, never its values. Names cannot be recognised by shape; the code never logs them, and
the end-to-end scan test proves it.

Airflow 3 writes the exception a task fails with to the task's log through structlog, past the log-record
factory: :func:`masked_errors` wraps each task's job so that what it fails with is a :class:`TaskFailed` whose
text (the original exception's type and message) is redacted the same way, its traceback kept.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from lianban.domain.identity import redact_text as redact
from lianban.errors import LianbanError

__all__ = ["TaskFailed", "install", "masked_errors", "redact"]

ACCESS_LOGGER = "uvicorn.access"  # its lines name the path requested, with the query string as sent
P = ParamSpec("P")
R = TypeVar("R")

_installed = False


def install() -> None:
    """Redact every LogRecord created in this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name == ACCESS_LOGGER:
            _hide_query_values(record)
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


def _hide_query_values(record: logging.LogRecord) -> None:
    """uvicorn's access line with its query's values hidden (``/query?case_no=*&password=*``): a query string is
    whatever a client sent, which may be a 办件编号, the query password or a name (not recognisable by shape)."""
    if isinstance(record.args, tuple) and len(record.args) > 2 and isinstance(record.args[2], str):
        path, mark, query = record.args[2].partition("?")
        if mark:
            hidden = "&".join(f"{part.partition('=')[0]}=*" if "=" in part else "*" for part in query.split("&"))
            record.args = (*record.args[:2], f"{path}?{hidden}", *record.args[3:])


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


class TaskFailed(LianbanError):
    """What an Airflow task fails with: its job's exception, type and message, ID and mobile numbers masked."""


def masked_errors(job: Callable[P, R]) -> Callable[P, R]:
    """`job` failing with a :class:`TaskFailed` of its exception's masked text (traceback kept, the unmasked
    exception not chained: a task log prints every exception of the chain). Airflow's own exceptions (a
    timeout, a skip) pass as they are: the task runner acts on their type."""

    @functools.wraps(job)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return job(*args, **kwargs)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] == "airflow":
                raise
            raise TaskFailed(redact(f"{type(exc).__name__}: {exc}")).with_traceback(exc.__traceback__) from None

    return run
