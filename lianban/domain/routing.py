"""Route a valid record by the item catalog and minimise its fields per item (PIPL Art. 6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lianban.domain.catalog import Catalog
from lianban.domain.record import RetirementRecord


@dataclass(frozen=True)
class Route:
    """One chosen item of one case: where it goes and, when pushed, exactly what is sent."""

    item_code: str
    department: str
    payload: dict[str, Any] | None  # None: handled by HRSS itself, nothing is pushed


def minimise(record: RetirementRecord, fields: tuple[str, ...]) -> dict[str, Any]:
    """Only the allow-listed fields of 退休待遇审核信息."""
    values = record.fields()
    return {f: values[f] for f in fields}


def route(record: RetirementRecord, catalog: Catalog) -> list[Route]:
    """One Route per chosen item, in item order."""
    routes = []
    for code in sorted(set(record.items)):
        item = catalog.item(code)
        payload = minimise(record, item.fields) if item.fields else None
        routes.append(Route(code, item.department, payload))
    return routes
