"""Validation of retirement records without Great Expectations: the rules of :mod:`lianban.domain.rules`
applied directly (pure, vectorised over the records given). Staging runs the same rules as GX
expectations (:mod:`lianban.pipeline.validate`); this is the reference both must agree with, and what
tests and simulators call for one record.
"""

from __future__ import annotations

from collections.abc import Sequence

from lianban.domain.catalog import Catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.rules import Reason, evaluate
from lianban.domain.rules.frame import from_records

__all__ = ["Reason", "judge", "problems"]


def judge(records: Sequence[RetirementRecord], catalog: Catalog,
          open_persons: Sequence[bool] | None = None) -> list[list[Reason]]:
    """Every record's reasons (empty = valid), in order."""
    if not records:
        return []
    return evaluate(from_records(records, open_persons), catalog)


def problems(record: RetirementRecord, catalog: Catalog) -> list[Reason]:
    """Every reason `record` cannot be routed; empty when it is valid."""
    return judge([record], catalog)[0]
