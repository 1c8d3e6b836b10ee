"""Identifiers both ends derive alike: idempotency keys and the aad binding (lianban.wire.ids)."""

from __future__ import annotations

from dataclasses import replace

from lianban.domain.catalog import Catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.routing import route
from lianban.wire.ids import aad, idempotency_key

ALL = tuple(f"{n:02d}" for n in range(1, 15))


def test_idempotency_keys_are_stable_and_distinct_per_item(record: RetirementRecord, catalog: Catalog) -> None:
    keys = lambda: [idempotency_key(record.case_no, r.item_code, r.department)  # noqa: E731
                    for r in route(replace(record, items=ALL), catalog)]
    first, again = keys(), keys()
    assert first == again and len(set(first)) == 14
    assert idempotency_key("BZTX202601000002", "11", "medical") != idempotency_key(record.case_no, "11", "medical")


def test_aad_binds_key_case_and_item() -> None:
    assert aad("k", "BZTX1", "11") != aad("k", "BZTX1", "12") != aad("k", "BZTX2", "12")
