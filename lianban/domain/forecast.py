"""The retirement-wave forecast (退休高峰预测), pure counting: who reaches statutory age in which month, and the
load each department can expect from it.

    reaching_age    people of the register whose statutory retirement month (the 2025 reform) is that month,
                    in total and by category (male / female55 / female50); the reform leaves some months empty
                    (no man retires in 2025-06) and crowds others
    by_department   expected 事项 per department that month: reaching_age × Σ share(item) over the department's
                    items, one decimal; share(item) = cases that chose the item / cases staged (the ledger's
                    history). With no history every department expects 0 and ``history.note`` says why.

:class:`Forecast` takes people one at a time (:meth:`Forecast.add`), so a register of a million rows is
counted keeping only the ID numbers of the people in the span (a person the register holds twice counts once).
:meth:`Forecast.as_json` is the shape of ``lianban forecast --json``::

    {"months": [{"month": "YYYY-MM", "reaching_age": n, "by_category": {"male": n, "female55": n,
                 "female50": n}, "by_department": {"hrss": x, ...}}, ...],
     "history": {"cases": n, "item_share": {"01": 1.0, ...}, "note": "..."}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lianban.domain.register import Insured
from lianban.domain.retirement import Category, month_text

__all__ = ["Forecast", "History"]

NO_HISTORY = ("台账中尚无办件，无法按历史事项选择估算各部门工作量，暂按 0 计 "
              "(no cases in the ledger yet: department load 0)")


@dataclass(frozen=True)
class History:
    """Past item choices: cases staged, and per item how many of them chose it."""

    cases: int
    items: Mapping[str, int]

    def shares(self) -> dict[str, float]:
        """Item → share of cases that chose it (empty without history)."""
        return {code: n / self.cases for code, n in sorted(self.items.items())} if self.cases else {}

    def as_json(self) -> dict[str, object]:
        shares = {code: round(share, 4) for code, share in self.shares().items()}
        note = f"按台账中 {self.cases} 件办件的事项选择比例估算 (shares of {self.cases} staged cases)"
        return {"cases": self.cases, "item_share": shares, "note": note if self.cases else NO_HISTORY}


@dataclass
class Forecast:
    """Counts per month from `first` (a month index) for `months` months."""

    first: int
    months: int
    counts: dict[int, dict[Category, int]] = field(default_factory=dict)
    counted: set[str] = field(default_factory=set, repr=False)  # ID numbers counted: the span's people only

    def add(self, person: Insured) -> None:
        """Count `person` in the month they reach statutory age, when it is in the forecast's span, once however
        many rows of the register hold them (as 到龄提醒 reminds them once)."""
        month = person.retirement()
        if self.first <= month < self.first + self.months and person.id_number not in self.counted:
            self.counted.add(person.id_number)
            by_category = self.counts.setdefault(month, dict.fromkeys(Category, 0))
            by_category[person.category] += 1

    def as_json(self, history: History, item_departments: Mapping[str, str]) -> dict[str, object]:
        """The forecast (module docstring); `item_departments` maps item code → department."""
        load = _load_per_person(history, item_departments)
        rows = []
        for month in range(self.first, self.first + self.months):
            by_category = self.counts.get(month, dict.fromkeys(Category, 0))
            reaching = sum(by_category.values())
            rows.append({"month": month_text(month), "reaching_age": reaching,
                         "by_category": {c.value: n for c, n in by_category.items()},
                         "by_department": {d: round(reaching * share, 1) for d, share in load.items()}})
        return {"months": rows, "history": history.as_json()}


def _load_per_person(history: History, item_departments: Mapping[str, str]) -> dict[str, float]:
    """Department → expected 事项 per person reaching age (every department, 0 without history)."""
    load = dict.fromkeys(sorted(set(item_departments.values())), 0.0)
    for code, share in history.shares().items():
        if code in item_departments:
            load[item_departments[code]] += share
    return load
