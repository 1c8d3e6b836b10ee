"""The simulated 皖事通办's two validators of the published document agree: the Rust one says whether a push
conforms (fast), jsonschema says why it does not; a body one accepts and the other refuses would change what the
platform keeps, so hostile bodies are thrown at both."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.wanshi_tong_interface import load_interface
from tests.simulators.test_wanshi_tong_sim import case, event

VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 10**12), st.floats(allow_nan=False),
                   st.text(max_size=300), st.lists(st.text(max_size=5), max_size=3),
                   st.lists(st.fixed_dictionaries({"CLMC": st.text(max_size=60)}), max_size=2),
                   st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
EVENT_FIELDS = sorted(event(1))
CASE_FIELDS = sorted(case())


def body() -> dict[str, Any]:
    return {"events": [event(1), event(2, reason="材料不全")], "cases": [case(), case("BZ00000002", 3)]}


def agree(pushed: Any) -> None:
    interface = load_interface()
    slow = [f"{e.json_path}" for e in interface.validators["ProgressPush"].iter_errors(pushed)]
    assert interface.checks["ProgressPush"].is_valid(pushed) == (not slow), slow
    assert (interface.problems(pushed) == []) == (not slow)


def test_a_conforming_push_conforms_for_both() -> None:
    """The body every other test here changes one field of: both validators take it (were both to refuse it,
    they would agree, and every body changed from it would be refused alike whatever was changed)."""
    interface = load_interface()
    assert interface.checks["ProgressPush"].is_valid(body()) and interface.problems(body()) == []
    agree(body())


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["events", "cases"]), st.integers(0, 1), st.data())
def test_any_field_set_to_anything_is_judged_alike(where: str, index: int, data: st.DataObject) -> None:
    pushed = body()
    fields = EVENT_FIELDS if where == "events" else CASE_FIELDS
    field = data.draw(st.sampled_from([*fields, "EXTRA"]))
    if data.draw(st.booleans()):
        pushed[where][index].pop(field, None)
    else:
        pushed[where][index][field] = data.draw(VALUES)
    agree(pushed)


@settings(max_examples=100, deadline=None)
@given(st.one_of(VALUES, st.fixed_dictionaries({"events": VALUES, "cases": VALUES})))
def test_bodies_of_the_wrong_shape_are_judged_alike(pushed: Any) -> None:
    agree(copy.deepcopy(pushed))
