"""plain_rows: a query's integer and text columns read as the driver's tuples, the same values SQLAlchemy's rows
hold (on SQLite and PostgreSQL); any other column refused before anything is read."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from lianban.ledger.db import plain_rows, session_factory
from lianban.ledger.models import Case, CaseItem
from lianban.ledger.new_cases import NewCases, NewItem

NOW = datetime(2026, 12, 3, 9, 0)


def _write(ledger_url: str) -> None:
    batch = NewCases(NOW)
    for n in range(1, 6):
        batch.add({"case_no": f"BZ2026{n:06d}", "source_seq": n, "region_code": "341602", "id_index": f"{n:064x}",
                   "approved_at": NOW, "fingerprint": f"{n:064x}", "password_hash": None},
                  [NewItem("13", "hrss"), NewItem("14", "hrss")])
    with session_factory(ledger_url).begin() as session:
        batch.write(session)


def test_the_driver_tuples_hold_what_sqlalchemy_rows_hold(ledger_url: str) -> None:
    _write(ledger_url)
    query = (select(CaseItem.id, Case.case_no, CaseItem.item_code, CaseItem.final).join(Case)
             .order_by(CaseItem.id))
    with session_factory(ledger_url)() as session:
        plain, rows = plain_rows(session, query.with_only_columns(CaseItem.id, Case.case_no, CaseItem.item_code)), \
            session.execute(query).all()
    assert [type(row) for row in plain] == [tuple] * 10
    assert plain == [(row.id, row.case_no, row.item_code) for row in rows]
    assert plain[0][1:] == ("BZ2026000001", "13")


@pytest.mark.parametrize("column", [Case.approved_at, CaseItem.final], ids=["time", "boolean"])
def test_a_column_the_driver_would_hand_over_unconverted_is_refused(ledger_url: str, column: object) -> None:
    _write(ledger_url)
    with session_factory(ledger_url)() as session, pytest.raises(ValueError, match="integer and text columns"):
        plain_rows(session, select(Case.id, column).join(CaseItem))
