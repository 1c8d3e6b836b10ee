"""Each domain rule (:mod:`lianban.domain.rules`) as a custom Great Expectations expectation.

Every rule becomes a ``MulticolumnMapExpectation`` subclass whose metric (a ``MulticolumnMapMetricProvider``)
has the rule's vectorised ``passes`` as its pandas condition; GX then reports, per expectation, the index
of every unexpected row. The column list is the rule's columns plus the row number ``_row``
(:func:`lianban.domain.rules.frame.derive`), with ``ignore_row_if="never"``: a multicolumn domain for a
one-column rule too, so GX never scans the text columns for nulls (the frame holds none; measured: the
null scans of one ``ColumnMapExpectation`` per text rule cost more than the rules themselves at 100k rows).

Class names are derived from the suite version, the rule's position and its code
(``ExpectLianbanV1R25IdCheck``, metric ``lianban_v1.r25_id_check``), made once per process. Import this
module only where GX may be imported.

Each expectation keeps its ``configuration`` once made (:func:`_memoised_configuration`): GX makes it again at
every reading, from the model's ``dict()``, and reads it about 130 times per expectation and run of the suite
(once per keyword, in its domain, success and runtime keyword look-ups): 0.15 of a run's 0.8 s of CPU at
10,000 rows, and a run costs that again whatever its size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd
from great_expectations.compatibility.pydantic import PrivateAttr
from great_expectations.data_context.store.validation_results_store import ValidationResultsStore
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import MulticolumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import MulticolumnMapMetricProvider
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (
    multicolumn_condition_partial,
)

from lianban.domain.rules import Rule

ROW = "_row"
_DOMAIN_KEYS = ("batch_id", "table", "column_list", "row_condition", "condition_parser", "ignore_row_if")


@dataclass(frozen=True)
class Expectation:
    """One rule's expectation class, and how to configure an instance of it."""

    rule_number: int
    rule: Rule
    cls: type

    def instance(self) -> Any:
        """The configured expectation; its ``meta`` carries the rule's number, code and message."""
        meta = {"code": self.rule.code, "message": self.rule.message, "rule": self.rule_number}
        return self.cls(column_list=[*self.rule.columns, ROW], ignore_row_if="never", catch_exceptions=False,
                        meta=meta, description=f"{self.rule.code}：{self.rule.message}")


def _camel(code: str) -> str:
    return "".join(part.capitalize() for part in code.split("_"))


def _metric(name: str, rule: Rule) -> type:
    columns = list(rule.columns)

    def condition(cls: type, column_list: pd.DataFrame, **_: Any) -> pd.Series:
        return rule.passes(column_list[columns])

    partial = multicolumn_condition_partial(engine=PandasExecutionEngine)(condition)
    return type(f"{_camel(name.replace('.', '_'))}Metric", (MulticolumnMapMetricProvider,),
                {"condition_metric_name": name, "condition_domain_keys": _DOMAIN_KEYS, "_pandas": partial})


class UnkeptResults(ValidationResultsStore):
    """The suite's worker's results store: a validation definition's run hands it each run's result, which it
    does not keep (the worker returns the result itself; the Data Docs keep a masked copy of it apart,
    :mod:`lianban.pipeline.validate.docs`). GX's in-memory store serialised each result whole, unexpected values
    and all, until it was removed (0.06 s of CPU a run)."""

    def store_validation_results(self, *args: Any, **kwargs: Any) -> bool:
        return True


#: how GX makes an expectation's configuration (the property's getter, which reads the model's ``dict()``)
_GX_CONFIGURATION = cast(Callable[[Any], Any], cast(property, MulticolumnMapExpectation.configuration).fget)


def _memoised_configuration(self: Any) -> Any:
    """GX's ``configuration`` of the expectation, made again only when its fields changed since it was last
    made (set, or copied with an update): kept beside the state it was made from, in a private attribute (a
    slot, outside the model's fields and its ``dict()``)."""
    memo = self._configuration_memo
    if memo is None or memo[0] != self.__dict__:
        memo = self._configuration_memo = (dict(self.__dict__), _GX_CONFIGURATION(self))
    return memo[1]


def build(rules: tuple[Rule, ...], version: int) -> list[Expectation]:
    """One expectation class per rule (and its metric), registered with GX."""
    made = []
    for number, rule in enumerate(rules):
        metric = f"lianban_v{version}.r{number:02d}_{rule.code.lower()}"
        _metric(metric, rule)
        cls = type(f"ExpectLianbanV{version}R{number:02d}{_camel(rule.code)}", (MulticolumnMapExpectation,),
                   {"__module__": __name__, "map_metric": metric, "__annotations__": {},
                    "configuration": property(_memoised_configuration),
                    "_configuration_memo": PrivateAttr(default=None)})
        made.append(Expectation(number, rule, cls))
    return made
