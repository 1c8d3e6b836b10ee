"""The suite's codes are a contract (schemas/validation/suite.yaml): every rule, in order, with a unique code
per rule except the one-per-pair ITEMS_CONFLICT, and a Chinese message that names no personal value."""

from __future__ import annotations

import re

import yaml

from lianban.domain.catalog import load_catalog
from lianban.domain.rules import all_rules, suite_version
from lianban.domain.schemas import schema_path

CONTRACT = yaml.safe_load(schema_path("validation", "suite.yaml").read_text(encoding="utf-8"))


def test_the_rules_are_the_versioned_suite_in_order() -> None:
    assert CONTRACT["version"] == suite_version()
    assert CONTRACT["name"] == f"lianban_retirement_v{suite_version()}"
    assert [r.code for r in all_rules(load_catalog())] == CONTRACT["expectations"]


def test_codes_are_stable_identifiers_and_messages_are_chinese() -> None:
    rules = all_rules(load_catalog())
    assert all(re.fullmatch("[A-Z][A-Z0-9_]+", r.code) for r in rules)
    assert all(re.search("[\u4e00-\u9fff]", r.message) and not re.search(r"\d{11}", r.message) for r in rules)
    repeated = {r.code for r in rules if [x.code for x in rules].count(r.code) > 1}
    assert repeated <= {"ITEMS_CONFLICT"}
