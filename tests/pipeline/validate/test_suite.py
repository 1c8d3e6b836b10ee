"""The rules run by Great Expectations (lianban.pipeline.validate): one custom expectation per rule, the same
verdicts as the rules applied directly, built once per process (by whichever thread asks first),
a rule that cannot run stops the chunk."""

from __future__ import annotations

import random
import threading
from dataclasses import replace

import pandas as pd
import pytest
from great_expectations.expectations.expectation import MulticolumnMapExpectation

from lianban.domain.catalog import Catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.rules import Rule, all_rules, evaluate
from lianban.domain.rules.frame import from_records
from lianban.errors import FatalError
from lianban.pipeline.validate.runner import ChunkValidator, validator
from simulators.people import _break, generate


def mixed_records() -> list[RetirementRecord]:
    """Synthetic approvals, a third of them broken, plus hand-made problems several rules see at once."""
    rng = random.Random(5)
    apps = [_break(rng, a) if i % 3 == 0 else a for i, a in enumerate(generate(120, seed=9))]
    records = [RetirementRecord(**{**a, "items": tuple(a["items"].split(","))}) for a in apps]
    first = records[1]
    several = replace(first, id_number=first.id_number[:17].replace("3", "３") + "x", phone="1", original_age="55",
                      retirement_type="02", items=("01", "06", "07", "99"))
    return [*records, several]


def test_the_suite_gives_the_same_reasons_as_the_rules_applied_directly(catalog: Catalog) -> None:
    records = mixed_records()
    opened = [i % 17 == 0 for i in range(len(records))]
    by_gx = validator().run(from_records(records, opened)).reasons
    direct = evaluate(from_records(records, opened), catalog)
    assert by_gx == direct
    assert sum(bool(r) for r in by_gx) > 40 and len({r.code for rs in by_gx for r in rs}) >= 8


def test_one_custom_expectation_per_rule_built_once_per_process(catalog: Catalog) -> None:
    suite = validator().suite
    assert validator() is validator()
    assert suite.name == "lianban_retirement_v1"
    assert len(suite.expectations) == len(all_rules(catalog))
    assert all(isinstance(e, MulticolumnMapExpectation) for e in suite.expectations)
    assert len({type(e) for e in suite.expectations}) == len(suite.expectations)
    assert [e.meta["code"] for e in suite.expectations] == [r.code for r in all_rules(catalog)]


def test_rows_are_numbered_within_the_chunk_whatever_the_frame_index(record: RetirementRecord) -> None:
    frame = from_records([record, replace(record, phone="")])
    frame.index = pd.Index([40, 41])
    assert [[r.code for r in rs] for rs in validator().run(frame).reasons] == [[], ["REQUIRED_PHONE"]]


def test_a_rule_that_cannot_run_stops_the_chunk_instead_of_passing_it(catalog: Catalog,
                                                                      record: RetirementRecord) -> None:
    def broken(frame: pd.DataFrame) -> pd.Series:
        raise KeyError("no such column")

    suite = ChunkValidator(catalog, (Rule("BROKEN", "坏规则", ("name",), broken),), version=99)
    with pytest.raises(FatalError, match="BROKEN"):
        suite.run(from_records([record]))


def test_the_suite_another_thread_builds_is_the_one_every_caller_gets() -> None:
    seen: list[ChunkValidator] = []
    thread = threading.Thread(target=lambda: seen.append(validator()))
    thread.start()
    first = validator()  # while the other thread may still be building: waits for that build, never makes a second
    thread.join(timeout=120)
    assert seen == [first] and validator() is first


def test_an_expectation_s_configuration_is_made_once_until_its_fields_change() -> None:
    expectation = validator().suite.expectations[0]
    gx_own = MulticolumnMapExpectation.configuration.fget  # type: ignore[attr-defined]
    first = expectation.configuration
    assert expectation.configuration is first  # kept: GX reads it about 130 times a run
    assert first.to_json_dict() == gx_own(expectation).to_json_dict()
    assert "_configuration_memo" not in expectation.dict()  # outside the model's fields
    changed = expectation.copy(update={"meta": {**expectation.meta, "code": "CHANGED"}})
    assert changed.configuration.meta["code"] == "CHANGED" and first.meta["code"] != "CHANGED"
    changed.notes = "改过"
    assert changed.configuration.notes == "改过"


def test_a_run_s_result_is_returned_and_never_kept_in_the_worker(record: RetirementRecord) -> None:
    suite = validator()
    result = suite.run(from_records([record, replace(record, phone="")]))
    assert [[r.code for r in rs] for rs in result.reasons] == [[], ["REQUIRED_PHONE"]]
    assert not result.gx_result.success  # GX's own result, for the Data Docs
    assert suite.context.validation_results_store.list_keys() == []  # no unexpected value held between chunks
