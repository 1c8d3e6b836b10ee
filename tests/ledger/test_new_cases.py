"""A chunk's new cases written set-based: every case gets its own items and each pushed item its own outbox
row, as the ORM wrote them (pending, no attempt, not final), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery
from lianban.ledger.new_cases import NewCases, NewItem
from lianban.ledger.store import DeliveryState

NOW = datetime(2026, 12, 2, 3, 0)


def _case(n: int) -> dict[str, object]:
    return {"case_no": f"BZ2026{n:06d}", "source_seq": n, "region_code": "341602", "id_index": f"{n:064x}",
            "approved_at": NOW, "fingerprint": f"{n:064x}", "password_hash": None}


def _items(n: int) -> list[NewItem]:
    """Item 01 pushed to medical, item 02 to housing_fund; HRSS's own item 13 not pushed."""
    return [("01", "medical", (f"key-{n}-01", "vault-1", f'{{"ct": "{n}-01"}}')),
            ("02", "housing_fund", (f"key-{n}-02", "vault-1", f'{{"ct": "{n}-02"}}')),
            ("13", "hrss", None)]


def _write_cases(ledger_url: str, count: int) -> None:
    """Cases 1 to `count` (:func:`_items` each) written as one chunk."""
    batch = NewCases(NOW)
    for n in range(1, count + 1):
        batch.add(_case(n), _items(n))
    with session_factory(ledger_url).begin() as session:
        batch.write(session)


def test_each_case_gets_its_own_items_and_each_pushed_item_its_own_delivery(ledger_url: str) -> None:
    _write_cases(ledger_url, 250)
    with session_factory(ledger_url)() as session:
        rows = session.execute(select(Case.case_no, CaseItem.item_code, CaseItem.final, Delivery.idempotency_key,
                                      Delivery.envelope, Delivery.state, Delivery.attempts)
                               .join(CaseItem, CaseItem.case_id == Case.id)
                               .outerjoin(Delivery, Delivery.case_item_id == CaseItem.id)).all()
        held = session.scalars(select(Case.held)).all()
    assert len(rows) == 750 and not any(held)
    for case_no, item_code, final, key, envelope, state, attempts in rows:
        n = int(case_no[-6:])
        assert final is False
        if item_code == "13":
            assert key is None
            continue
        assert (key, envelope) == (f"key-{n}-{item_code}", f'{{"ct": "{n}-{item_code}"}}')
        assert (state, attempts) == (DeliveryState.PENDING, 0)


def test_written_once_then_empty(ledger_url: str) -> None:
    batch = NewCases(NOW)
    batch.add(_case(1), _items(1))
    with session_factory(ledger_url).begin() as session:
        batch.write(session)
        batch.write(session)  # nothing left: no second insert (it would break the unique 办件编号)
    with session_factory(ledger_url)() as session:
        assert session.scalars(select(Case.case_no)).all() == ["BZ2026000001"]
        assert len(session.scalars(select(Delivery.id)).all()) == 2


def test_the_ids_written_are_the_rows_ids_batch_after_batch(ledger_url: str) -> None:
    """Each item's id as write() returns it is that item's row, with rows of an earlier batch and a held case's
    in the ledger before it."""
    for first in (1, 101, 201):
        batch = NewCases(NOW)
        for n in range(first, first + 100):
            batch.add(_case(n), _items(n), held=n % 7 == 0)
        with session_factory(ledger_url).begin() as session:
            written = batch.write(session)
        with session_factory(ledger_url)() as session:
            rows = dict(session.execute(select(CaseItem.id, CaseItem.item_code)
                                        .where(CaseItem.id.in_([item_id for item_id, _ in written]))).all())
        assert [rows[item_id] for item_id, _ in written] == [code for _, (code, _, _) in written]
        assert len(written) == 300


def test_a_chunks_deliveries_lie_together_by_department(ledger_url: str) -> None:
    """A department's deliveries of one chunk have consecutive ids, in the order their cases were added (its
    batches are claimed and settled in id order: rows of one department side by side share the pages written)."""
    _write_cases(ledger_url, 100)
    with session_factory(ledger_url)() as session:
        rows = session.execute(select(Delivery.id, Delivery.department, Delivery.idempotency_key)
                               .order_by(Delivery.id)).all()
    departments = [department for _, department, _ in rows]
    assert departments == sorted(departments) and set(departments) == {"housing_fund", "medical"}
    for department, code in (("housing_fund", "02"), ("medical", "01")):
        ids = [row_id for row_id, dept, _ in rows if dept == department]
        assert ids == list(range(ids[0], ids[0] + 100))
        assert [key for _, dept, key in rows if dept == department] == [f"key-{n}-{code}" for n in range(1, 101)]
