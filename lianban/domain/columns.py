"""A chunk of records as plain columns: what the validation rules' frame (:mod:`lianban.domain.rules.frame`) is
made of, kept apart from the rules so that staging's own process does not import pandas (a third of a second):
it hands these columns to the suite's worker, which makes the frame (making it here and pickling it cost
staging's process 125 ms per 10,000 rows, against 52 ms for the columns).

Columns by domain key (the 前置库's names are in ``connectors/hrss/mapping.py``), every one text exactly as read
(never silently fixed), plus ``person_open``: True when the person (blind index) already has an open case in
the ledger, which the caller computes (:mod:`lianban.pipeline.validate.chunk`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lianban.domain.record import RetirementRecord

__all__ = ["TEXT_COLUMNS", "Columns", "columns", "record_columns"]

TEXT_COLUMNS = ("case_no", "name", "id_number", "employer_name", "employer_uscc", "contribution_months",
                "pension_start", "phone", "items", "approved_at", "original_age", "retirement_type")
#: the text columns, then ``person_open``, each a list with one value per row in order
Columns = dict[str, list[Any]]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return ",".join(map(str, value))
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def columns(rows: Iterable[Mapping[str, Any]], open_persons: Iterable[bool] | None = None) -> Columns:
    """The columns of `rows` (values by domain key; a missing key reads as empty), in order."""
    listed = list(rows)
    data: Columns = {c: [_text(row.get(c)) for row in listed] for c in TEXT_COLUMNS}
    data["person_open"] = [bool(o) for o in open_persons] if open_persons is not None else [False] * len(listed)
    return data


def record_columns(records: Iterable[RetirementRecord], open_persons: Iterable[bool] | None = None) -> Columns:
    """The columns of records as intake read them."""
    return columns((r.as_values() for r in records), open_persons)
