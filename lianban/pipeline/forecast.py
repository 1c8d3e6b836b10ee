"""``lianban forecast``'s reading: the register streamed through :class:`lianban.domain.forecast.Forecast`, and
the item choices of the cases staged in the ledger (:class:`lianban.domain.forecast.History`)."""

from __future__ import annotations

from sqlalchemy import distinct, func, select

from lianban.domain.catalog import load_catalog
from lianban.domain.forecast import Forecast, History
from lianban.domain.register import read_insured
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem
from lianban.pipeline.reminders import CHUNK, Register

__all__ = ["forecast", "history"]


def history(ledger_url: str) -> History:
    """How many cases the ledger holds, and per item how many of them chose it."""
    with session_factory(ledger_url)() as session:
        cases = int(session.scalar(select(func.count(Case.id))) or 0)
        chosen = session.execute(select(CaseItem.item_code, func.count(distinct(CaseItem.case_id)))
                                 .group_by(CaseItem.item_code))
        return History(cases, {str(code): int(n) for code, n in chosen})


def forecast(register: Register, ledger_url: str, first: int, months: int, chunk: int = CHUNK) -> dict[str, object]:
    """The forecast from month index `first` for `months` months (``lianban forecast --json``'s shape)."""
    counted = Forecast(first, months)
    for rows in register.insured(chunk):
        for row in rows:
            person = read_insured(row)
            if person is not None:
                counted.add(person)
    departments = {code: item.department for code, item in load_catalog().items.items()}
    return counted.as_json(history(ledger_url), departments)
