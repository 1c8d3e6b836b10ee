"""Routing chosen items to departments with minimum-necessary payloads (lianban.domain.routing, PIPL Art. 6)."""

from __future__ import annotations

from dataclasses import replace

from lianban.domain.catalog import Catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.routing import route

ALL = tuple(f"{n:02d}" for n in range(1, 15))


def test_only_chosen_items_are_routed_in_item_order(record: RetirementRecord, catalog: Catalog) -> None:
    routes = route(replace(record, items=("14", "01", "11", "14")), catalog)
    assert [(r.item_code, r.department) for r in routes] == [("01", "hrss"), ("11", "medical"),
                                                             ("14", "housing_fund")]


def test_hrss_items_carry_no_payload(record: RetirementRecord, catalog: Catalog) -> None:
    routes = route(replace(record, items=ALL), catalog)
    assert {r.item_code for r in routes if r.payload is None} == set(ALL[:10])
    assert all(r.department == "hrss" for r in routes if r.payload is None)


def test_each_pushed_payload_has_exactly_the_allow_listed_fields(record: RetirementRecord,
                                                                 catalog: Catalog) -> None:
    for r in route(replace(record, items=ALL), catalog):
        if r.payload is not None:
            assert tuple(r.payload) == catalog.items[r.item_code].fields
            assert r.payload == {f: record.fields()[f] for f in catalog.items[r.item_code].fields}


def test_item_12_does_not_receive_the_phone_number(record: RetirementRecord, catalog: Catalog) -> None:
    (r12,) = route(replace(record, items=("12",)), catalog)
    assert set(r12.payload or {}) == {"name", "id_number", "employer_uscc", "contribution_months"}
    assert record.phone not in str(r12.payload)


def test_the_query_password_is_never_sent_to_a_department(record: RetirementRecord, catalog: Catalog) -> None:
    with_password = replace(record, password="Pw7QueryOnly")
    for r in route(replace(with_password, items=ALL), catalog):
        assert "Pw7QueryOnly" not in str(r.payload) and "password" not in (r.payload or {})
    assert "Pw7QueryOnly" not in repr(with_password) and "Pw7QueryOnly" not in str(with_password.as_values())
