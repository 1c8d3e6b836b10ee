"""A chunk of records as one pandas DataFrame, and what the rules derive from it once per chunk.

The frame holds the chunk's columns (:mod:`lianban.domain.columns`: text exactly as read, and
``person_open``), each text column Arrow-backed. :func:`derive` adds the values several rules share, in columns
starting with ``_`` (birth date and month from the ID number, the pension start month, the reform category,
statutory month and flexible window, …), so each rule is a few vectorised comparisons.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from lianban.domain.columns import TEXT_COLUMNS, Columns, columns, record_columns
from lianban.domain.record import RetirementRecord
from lianban.domain.retirement import RULES, Category, Reform, load_reform

#: Arrow-backed text: the rules' string operations run in C over the whole column
TEXT = pd.StringDtype(storage="pyarrow", na_value=np.nan)
CATEGORIES = tuple(Category)  # _category is the index in this tuple, -1 when unknown
_ID_SHAPE = r"[0-9]{17}[0-9Xx]"
_MONTH = r"[0-9]{4}-(0[1-9]|1[0-2])"
#: what datetime.fromisoformat reads (intake's test), strictly: date, optional time, optional offset
_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?"


def frame_of(data: Columns) -> pd.DataFrame:
    """The frame of a chunk's columns (:mod:`lianban.domain.columns`)."""
    frame = pd.DataFrame({c: pd.Series(data[c], dtype=TEXT) for c in TEXT_COLUMNS})
    frame["person_open"] = pd.Series(data["person_open"], dtype=bool)
    return frame


def from_rows(rows: Iterable[Mapping[str, Any]], open_persons: Iterable[bool] | None = None) -> pd.DataFrame:
    """A frame of `rows` (values by domain key; a missing key reads as empty), in order."""
    return frame_of(columns(rows, open_persons))


def from_records(records: Iterable[RetirementRecord], open_persons: Iterable[bool] | None = None) -> pd.DataFrame:
    """A frame of records as intake read them."""
    return frame_of(record_columns(records, open_persons))


def _month_index(text: pd.Series) -> pd.Series:
    ok = text.str.fullmatch(_MONTH).fillna(False).astype(bool)
    year = pd.to_numeric(text.str.slice(0, 4).where(ok), errors="coerce")
    month = pd.to_numeric(text.str.slice(5, 7).where(ok), errors="coerce")
    return (year * 12 + month - 1).fillna(-1).astype(np.int64)


def _birth(ids: pd.Series, shaped: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Birth date (NaT when not shaped or not a calendar date) and its month index (-1)."""
    day = pd.to_datetime(ids.str.slice(6, 14).where(shaped, ""), format="%Y%m%d", errors="coerce")
    month = (day.dt.year * 12 + day.dt.month - 1).fillna(-1).astype(np.int64)
    return day, month


def _category(frame: pd.DataFrame, reform: Reform) -> pd.Series:
    codes = {age: CATEGORIES.index(category) for age, (category, _) in reform.categories.items()}
    return frame["original_age"].str.strip().map(codes).fillna(-1).astype(np.int64)


def _statutory_age(category: np.ndarray, birth_month: np.ndarray) -> np.ndarray:
    """Statutory age in months (the formula of lianban.domain.retirement, over arrays); -1 when unknown."""
    table = np.array([(RULES[c].base_years, RULES[c].step_months, RULES[c].cap_months) for c in CATEGORIES])
    base, step, cap = table[np.clip(category, 0, None)].T
    n = (birth_month // 12 + base - 2025) * 12 + birth_month % 12 + 1
    delay = np.where(n <= 0, 0, np.minimum((n + step - 1) // step, cap))
    return np.where((category >= 0) & (birth_month >= 0), base * 12 + delay, -1)


def _window(frame: pd.DataFrame, reform: Reform) -> None:
    category, birth = frame["_category"].to_numpy(), frame["_birth_month"].to_numpy()
    age = _statutory_age(category, birth)
    known = age >= 0
    base = np.array([RULES[c].base_years * 12 for c in CATEGORIES])[np.clip(category, 0, None)]
    frame["_statutory"] = np.where(known, birth + age, -1)
    frame["_earliest"] = np.where(known, birth + np.maximum(age - reform.early_max, base), -1)
    frame["_latest"] = np.where(known, birth + age + reform.late_max, -1)


def canonical_items(items: pd.Series) -> pd.Series:
    """Chosen items as ``,01,11,12,`` (NFKC, separators ``,`` ``，`` ``、`` unified, blanks dropped, order
    kept), so the item rules are substring and regex tests."""
    wide = ~items.str.isascii()
    text = items.where(~wide, items[wide].map(lambda v: unicodedata.normalize("NFKC", v)))
    joined = text.str.replace(r"\s*[,，、]\s*", ",", regex=True).str.strip().str.replace(",,+", ",", regex=True)
    return ("," + joined.str.strip(",") + ",").str.replace("^,,$", ",", regex=True)


def derive(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the shared derived columns added (in place, and returned)."""
    reform = load_reform()
    frame["_row"] = np.arange(len(frame))
    frame["_id_shaped"] = frame["id_number"].str.fullmatch(_ID_SHAPE).fillna(False).astype(bool)
    frame["_items"] = canonical_items(frame["items"])
    frame["_birth"], frame["_birth_month"] = _birth(frame["id_number"], frame["_id_shaped"])
    frame["_male"] = pd.to_numeric(frame["id_number"].str.slice(16, 17), errors="coerce").fillna(0) % 2 == 1
    text = frame["approved_at"].str.strip()
    iso = text.str.fullmatch(_ISO).fillna(False).astype(bool)
    approved = pd.to_datetime(text.where(iso), format="ISO8601", errors="coerce", utc=True)
    frame["_approved"] = approved.dt.tz_localize(None)
    start = _month_index(frame["pension_start"])
    frame["_start"] = start.where(start < 0, start - reform.start_offset)
    months = frame["contribution_months"].str.strip()
    frame["_months"] = pd.to_numeric(months.where(months.str.fullmatch("[0-9]{1,6}").fillna(False).astype(bool)),
                                     errors="coerce")
    frame["_category"] = _category(frame, reform)
    frame["_type"] = frame["retirement_type"].str.strip()
    _window(frame, reform)
    return frame
