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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
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


def build(rules: tuple[Rule, ...], version: int) -> list[Expectation]:
    """One expectation class per rule (and its metric), registered with GX."""
    made = []
    for number, rule in enumerate(rules):
        metric = f"lianban_v{version}.r{number:02d}_{rule.code.lower()}"
        _metric(metric, rule)
        cls = type(f"ExpectLianbanV{version}R{number:02d}{_camel(rule.code)}", (MulticolumnMapExpectation,),
                   {"__module__": __name__, "map_metric": metric, "__annotations__": {}})
        made.append(Expectation(number, rule, cls))
    return made
