"""Validation rules over a chunk of records (a pandas DataFrame), each with a stable code and a Chinese
message: the domain half of issue 11. Pure and vectorised (pandas/numpy string and array operations, no
Python loop per row); Great Expectations runs them as custom expectations in
:mod:`lianban.pipeline.validate`, and :func:`evaluate` runs them without it (tests, reference).

    base      Reason, Rule, the rules' data (schemas/validation/rules.yaml)
    frame     the chunk's columns and what the rules derive from them once
    identity  身份证号码, 统一社会信用代码, mobile number
    fields    required, too long, formats
    reform    the 2025 retirement-age reform (schemas/validation/reform.yaml)
    items     chosen items, and the same person's open case

Codes, in the order reasons are listed for a row: see :func:`all_rules`. Several rules may share a code
(one ``ITEMS_CONFLICT`` per forbidden pair); a row lists a code once per rule it fails.
"""

from __future__ import annotations

import pandas as pd

from lianban.domain.catalog import Catalog
from lianban.domain.rules.base import Reason, Rule, load_rule_data
from lianban.domain.rules.fields import field_rules
from lianban.domain.rules.frame import derive
from lianban.domain.rules.identity import id_rules, other_identifier_rules
from lianban.domain.rules.items import item_rules
from lianban.domain.rules.reform import reform_rules

__all__ = ["Reason", "Rule", "all_rules", "evaluate", "reasons_by_row", "suite_version"]


def all_rules(catalog: Catalog) -> tuple[Rule, ...]:
    """Every rule, in the order a row's reasons are listed."""
    data = load_rule_data()
    return (*field_rules(data, catalog), *id_rules(data), *other_identifier_rules(), *reform_rules(),
            *item_rules(data, catalog))


def suite_version() -> int:
    """The rules' version (``schemas/validation/rules.yaml``), part of the suite's name."""
    return load_rule_data().version


def reasons_by_row(frame: pd.DataFrame, rules: tuple[Rule, ...], failing: dict[int, list[int]]) -> list[list[Reason]]:
    """Each row's reasons (rule order) from the failing row positions of each rule (by its index in `rules`)."""
    reasons: list[list[Reason]] = [[] for _ in range(len(frame))]
    for number, rule in enumerate(rules):
        rows = failing.get(number) or []
        if rows:
            for row, reason in zip(rows, rule.reasons(frame.iloc[rows]), strict=True):
                reasons[row].append(reason)
    return reasons


def evaluate(frame: pd.DataFrame, catalog: Catalog) -> list[list[Reason]]:
    """Every row's reasons, without Great Expectations (`frame` from :mod:`.frame`, derived here)."""
    derive(frame)
    rules = all_rules(catalog)
    failing = {n: list(map(int, (~rule.passes(frame[list(rule.columns)]).to_numpy()).nonzero()[0]))
               for n, rule in enumerate(rules)}
    return reasons_by_row(frame, rules, failing)
