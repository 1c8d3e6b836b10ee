"""The register and the awards in the HRSS 前置库: read in chunks, only the insured, never the name; awards
taken once by 同步标志."""

from __future__ import annotations

from datetime import date

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from simulators.register import generate_awards, generate_register

REFERENCE = date(2026, 11, 20)


def test_the_insured_are_read_in_chunks_in_order_without_the_name(paths: Paths) -> None:
    people = list(generate_register(230, REFERENCE))
    register = FrontendDB(paths.frontend_url).register
    assert register.insert_people(people, chunk=40) == 230
    chunks = list(register.insured(50))
    assert [len(c) for c in chunks][:-1] == [50] * (len(chunks) - 1) and len(chunks[-1]) <= 50
    rows = [r for c in chunks for r in c]
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    assert [r["id_number"] for r in rows] == [p["id_number"] for p in people if p["insured_status"] != "3"]
    assert all("name" not in r and "insured_status" not in r for r in rows)


def test_awards_are_taken_by_flag_and_an_unreadable_one_is_set_aside(paths: Paths) -> None:
    register = FrontendDB(paths.frontend_url).register
    register.insert_awards(generate_awards(5, REFERENCE))
    first = register.new_awards(3)
    assert [r.seq for r in first] == [1, 2, 3] and first[0].values["award_no"].startswith("HD202611")
    register.mark_awards([1, 2], "taken")
    register.mark_awards([3], "quarantined")
    assert [r.seq for r in register.new_awards(10)] == [4, 5]
