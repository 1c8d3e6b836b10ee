"""plain_rows: a query's integer and text columns read as the driver's tuples, the same values SQLAlchemy's rows
hold (on SQLite and PostgreSQL); any other column refused before anything is read. plain_write: rows written
through the driver's executemany read back as SQLAlchemy's executemany writes them, times, dates and flags
included. A SQLite ledger's connections: durable commits, foreign keys, the page cache and checkpoint threshold
its hashed-key indexes need, and a statement cache that lets a chunk's one-off reads go."""

from __future__ import annotations

import _sqlite3
import ctypes
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, func, insert, select, update

from lianban.app.config import Paths
from lianban.errors import RetriableError
from lianban.ledger.db import (
    SQLITE_CACHE_KIB,
    SQLITE_CHECKPOINT_PAGES,
    SQLITE_PARAMETERS,
    core_rows,
    engine_for,
    plain_rows,
    plain_write,
    session_factory,
    settled_id,
)
from lianban.ledger.models import Case, CaseItem, StatusEvent
from lianban.ledger.new_cases import NewCases

NOW = datetime(2026, 12, 3, 9, 0)


def _write(ledger_url: str) -> None:
    batch = NewCases(NOW)
    for n in range(1, 6):
        batch.add({"case_no": f"BZ2026{n:06d}", "source_seq": n, "region_code": "341602", "id_index": f"{n:064x}",
                   "approved_at": NOW, "fingerprint": f"{n:064x}", "password_hash": None},
                  [("13", "hrss", None), ("14", "hrss", None)])
    with session_factory(ledger_url).begin() as session:
        batch.write(session)


def test_core_rows_see_what_the_session_holds_unflushed_and_convert_as_the_orm_does(ledger_url: str) -> None:
    """A change made on the session's objects and not yet flushed is read (as the ORM's execute would flush it
    first), and a time column comes back a datetime, as the ORM's rows hold it."""
    _write(ledger_url)
    query = select(_ITEMS.c.id, _ITEMS.c.status, _ITEMS.c.supplement_due, _ITEMS.c.final).order_by(_ITEMS.c.id)
    with session_factory(ledger_url).begin() as session:
        item = session.scalars(select(CaseItem).order_by(CaseItem.id)).first()
        assert item is not None
        item.status, item.supplement_due, item.final = "补正资料", date(2026, 12, 11), True
        rows = [tuple(row) for row in core_rows(session, query)]
        assert rows == [tuple(row) for row in session.execute(query)]
    assert rows[0][1:] == ("补正资料", date(2026, 12, 11), True) and len(rows) == 10


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
def test_a_column_the_driver_would_hand_over_unconverted_is_refused(ledger_url: str, column: Any) -> None:
    _write(ledger_url)
    with session_factory(ledger_url)() as session, pytest.raises(ValueError, match="integer and text columns"):
        plain_rows(session, select(Case.id, column).join(CaseItem))


_EVENTS, _ITEMS = cast(Table, StatusEvent.__table__), cast(Table, CaseItem.__table__)
_MOVE = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id")).values(
    status=bindparam("status"), final=bindparam("final"), supplement_due=bindparam("supplement_due"))


def _events(item_ids: list[int], tag: str) -> list[dict[str, Any]]:
    return [{"case_item_id": item_id, "status": "补正资料", "source": "medical", "department_code": None,
             "reason": f"{tag} 材料不全“{n}”" if n % 2 else None, "materials": '["M01"]', "changed_at": f"2026-12-0{n}",
             "recorded_at": datetime(2026, 12, 3, 9, n, 7, 123456 * (n % 2)), "result": None}
            for n, item_id in enumerate(item_ids, start=1)]


def _moves(item_ids: list[int]) -> list[dict[str, Any]]:
    return [{"item_id": item_id, "status": "补正资料", "final": n % 2 == 0,
             "supplement_due": date(2026, 12, 10 + n) if n % 3 else None} for n, item_id in enumerate(item_ids)]


def test_rows_written_through_the_driver_read_back_as_sqlalchemy_writes_them(ledger_url: str) -> None:
    _write(ledger_url)
    with session_factory(ledger_url).begin() as session:
        ids = list(session.scalars(select(CaseItem.id).order_by(CaseItem.id)))
        first, second = ids[:5], ids[5:]
        session.execute(insert(_EVENTS), _events(first, "甲"))
        plain_write(session, insert(_EVENTS), _events(second, "甲"))
        session.execute(_MOVE, _moves(first))
        plain_write(session, _MOVE, _moves(second))
    with session_factory(ledger_url)() as session:
        events = session.execute(select(StatusEvent.reason, StatusEvent.changed_at, StatusEvent.recorded_at,
                                        StatusEvent.materials, StatusEvent.reported_at)
                                 .order_by(StatusEvent.id)).all()
        items = session.execute(select(CaseItem.status, CaseItem.final, CaseItem.supplement_due)
                                .order_by(CaseItem.id)).all()
        stored = session.connection().exec_driver_sql(  # as kept: on SQLite, the text SQL compares and sorts
            "SELECT recorded_at FROM status_events ORDER BY id").all()
        kept = session.connection().exec_driver_sql(
            "SELECT final, supplement_due FROM case_items ORDER BY id").all()
    assert stored[5:] == stored[:5] and kept[5:] == kept[:5]
    assert events[5:] == events[:5] and events[0].recorded_at == datetime(2026, 12, 3, 9, 1, 7, 123456)
    assert items[5:] == items[:5] and [i.final for i in items[:3]] == [True, False, True]
    assert items[1].supplement_due == date(2026, 12, 11)


def test_a_time_several_rows_share_is_written_as_each_rows_own(ledger_url: str) -> None:
    """A step's rows share one `now` (converted once while it recurs): a row with another time between them, and
    an equal time that is another object, are written as their own."""
    _write(ledger_url)
    shared, other = datetime(2026, 12, 4, 8, 30, 1, 5), datetime(2026, 12, 4, 8, 31)
    times = [shared, shared, other, shared, datetime(2026, 12, 4, 8, 30, 1, 5), other]
    with session_factory(ledger_url).begin() as session:
        ids = list(session.scalars(select(CaseItem.id).order_by(CaseItem.id)))[:6]
        rows = _events(ids, "乙")
        plain_write(session, insert(_EVENTS), [{**row, "recorded_at": at} for row, at in zip(rows, times, strict=True)])
    with session_factory(ledger_url)() as session:
        assert list(session.scalars(select(StatusEvent.recorded_at).order_by(StatusEvent.id))) == times


def test_rows_of_plain_values_are_written_each_in_its_place(ledger_url: str) -> None:
    """Integer and text values alone go to the driver as they are, each in its place."""
    _write(ledger_url)
    rename = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id")).values(
        item_code=bindparam("code"), department=bindparam("department"))
    with session_factory(ledger_url).begin() as session:
        ids = list(session.scalars(select(CaseItem.id).order_by(CaseItem.id)))[:3]
        plain_write(session, rename, [{"department": f"部门{n}", "item_id": item_id, "code": f"X{n}"}
                                      for n, item_id in enumerate(ids)])
    with session_factory(ledger_url)() as session:
        rows = session.execute(select(CaseItem.item_code, CaseItem.department).order_by(CaseItem.id)).all()
    assert rows[:4] == [("X0", "部门0"), ("X1", "部门1"), ("X2", "部门2"), ("14", "hrss")]


def test_rows_given_as_tuples_are_written_from_the_columns_they_name(ledger_url: str) -> None:
    """With `columns`, a row is a tuple of those parameters' values in that order (not the statement's), each
    converted as a mapping's value would be."""
    _write(ledger_url)
    with session_factory(ledger_url).begin() as session:
        ids = list(session.scalars(select(CaseItem.id).order_by(CaseItem.id)))
        plain_write(session, _MOVE, _moves(ids[:5]))
        tuples = [(m["supplement_due"], m["final"], m["status"], m["item_id"]) for m in _moves(ids[5:])]
        plain_write(session, _MOVE, tuples, columns=("supplement_due", "final", "status", "item_id"))
        plain_write(session, update(_ITEMS).values(department=bindparam("department")), [("medical",)],
                    columns=("department",))
    with session_factory(ledger_url)() as session:
        items = session.execute(select(CaseItem.status, CaseItem.final, CaseItem.supplement_due, CaseItem.department)
                                .order_by(CaseItem.id)).all()
    assert items[5:] == items[:5] and items[1].supplement_due == date(2026, 12, 11)
    assert [i.final for i in items[:3]] == [True, False, True] and {i.department for i in items} == {"medical"}


def test_a_statement_of_one_parameter_runs_once_for_each_row(ledger_url: str) -> None:
    _write(ledger_url)
    with session_factory(ledger_url).begin() as session:
        plain_write(session, update(_ITEMS).values(department=bindparam("department")),
                    [{"department": "medical"}, {"department": "housing_fund"}])
    with session_factory(ledger_url)() as session:
        assert set(session.scalars(select(CaseItem.department))) == {"housing_fund"}


def test_a_plain_write_of_nothing_writes_nothing(ledger_url: str) -> None:
    with session_factory(ledger_url).begin() as session:
        plain_write(session, insert(_EVENTS), [])
        assert session.scalars(select(StatusEvent.id)).first() is None


def test_every_sqlite_ledger_connection_commits_durably_with_its_cache_and_checkpoint(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'ledger.db'}")
    for _ in range(2):  # each new connection, not only the first
        with engine.connect() as connection:
            pragma = connection.connection.driver_connection.execute  # type: ignore[union-attr]
            assert pragma("PRAGMA journal_mode").fetchone() == ("wal",)
            assert pragma("PRAGMA synchronous").fetchone() == (2,)  # FULL: a commit staging flags rows on is on disk
            assert pragma("PRAGMA foreign_keys").fetchone() == (1,)
            assert pragma("PRAGMA cache_size").fetchone() == (-SQLITE_CACHE_KIB,)
            assert pragma("PRAGMA wal_autocheckpoint").fetchone() == (SQLITE_CHECKPOINT_PAGES,)
        engine.dispose()


def test_a_sqlite_url_naming_its_driver_is_a_sqlite_ledger_in_a_folder_made_for_it(tmp_path: Path) -> None:
    """``sqlite+pysqlite:///…`` is SQLite as much as ``sqlite:///…``: its folder made, its connections set alike
    (the URL's prefix decided the folder, the dialect the pragmas)."""
    engine = engine_for(f"sqlite+pysqlite:///{tmp_path / 'new' / 'folder' / 'ledger.db'}")
    with engine.connect() as connection:
        pragma = connection.connection.driver_connection.execute  # type: ignore[union-attr]
        assert pragma("PRAGMA journal_mode").fetchone() == ("wal",)
        assert pragma("PRAGMA cache_size").fetchone() == (-SQLITE_CACHE_KIB,)
    engine.dispose()
    assert (tmp_path / "new" / "folder" / "ledger.db").exists()


def _sqlite_memory() -> int:
    """Bytes SQLite has allocated in this process (the library Python's driver is linked to)."""
    library = ctypes.CDLL(_sqlite3.__file__)  # its symbols found in the SQLite it links
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


def test_one_off_reads_of_thousands_of_keys_are_not_kept_prepared(paths: Paths) -> None:
    """A chunk's read of its cases by 办件编号 is a statement of its own (one placeholder per key): two hundred of
    them leave SQLite's memory at most the ledger's statement cache of them larger (lianban.ledger.db.
    SQLITE_STATEMENTS, about 0.23 MB each at a thousand keys: the driver's default of 128 kept 29 MB of them)."""
    with session_factory(paths.ledger_url)() as session:
        session.execute(select(Case.id)).all()
        before = _sqlite_memory()
        for extra in range(200):
            keys = [f"BZ{n:08d}" for n in range(1000 + extra)]
            assert session.execute(select(Case.id).where(Case.case_no.in_(keys))).all() == []
        grown = _sqlite_memory() - before
    assert grown < 12 * 2**20  # 32 kept: 7.5 MB


def test_rows_given_as_objects_are_written_from_their_attributes(ledger_url: str) -> None:
    """With `attributes`, each parameter's value is read from the row object's attribute named for it, converted
    as a mapping's value would be."""
    _write(ledger_url)
    with session_factory(ledger_url).begin() as session:
        ids = list(session.scalars(select(CaseItem.id).order_by(CaseItem.id)))
        moves = _moves(ids[:5])
        plain_write(session, _MOVE, moves)
        rows = [SimpleNamespace(id=m["item_id"], due=m["supplement_due"], **{k: m[k] for k in ("status", "final")})
                for m in _moves(ids[5:])]
        plain_write(session, _MOVE, rows, attributes={"item_id": "id", "status": "status", "final": "final",
                                                      "supplement_due": "due"})
        plain_write(session, update(_ITEMS).values(department=bindparam("department")),
                    [SimpleNamespace(name="medical")], attributes={"department": "name"})
    with session_factory(ledger_url)() as session:
        items = session.execute(select(CaseItem.status, CaseItem.final, CaseItem.supplement_due, CaseItem.department)
                                .order_by(CaseItem.id)).all()
    assert items[5:] == items[:5] and items[1].supplement_due == date(2026, 12, 11)
    assert [i.final for i in items[:3]] == [True, False, True] and {i.department for i in items} == {"medical"}


def test_many_rows_are_written_in_order_as_sqlalchemy_writes_them_however_they_divide(ledger_url: str) -> None:
    """More rows than one statement takes (SQLite: several rows to a statement, the rest one at a time): each
    written once, in order (ids given in the order of the rows), with the values SQLAlchemy's executemany writes."""
    _write(ledger_url)
    with session_factory(ledger_url).begin() as session:
        ids = list(session.scalars(select(CaseItem.id).order_by(CaseItem.id)))
        per_statement = SQLITE_PARAMETERS // len(_events(ids[:1], "丙")[0])  # an event's values
        count = 2 * per_statement + 7  # on SQLite: two statements of many rows, then 7 one at a time
        rows = [{**_events([ids[n % len(ids)]], "丙")[0], "changed_at": f"2026-12-05T{n // 60:02d}:{n % 60:02d}",
                 "recorded_at": datetime(2026, 12, 5, n // 60, n % 60, 1, n)} for n in range(count)]
        session.execute(insert(_EVENTS), rows)
        plain_write(session, insert(_EVENTS), rows)
    with session_factory(ledger_url)() as session:
        events = session.execute(select(StatusEvent.case_item_id, StatusEvent.reason, StatusEvent.changed_at,
                                        StatusEvent.recorded_at).order_by(StatusEvent.id)).all()
    assert len(events) == 2 * count and events[count:] == events[:count]
    assert [e.changed_at for e in events[count:]] == [row["changed_at"] for row in rows]


def test_an_insert_that_leaves_a_conflicting_row_alone_does_so_within_and_across_its_statements(
        ledger_url: str) -> None:
    from lianban.ledger.delivery_keys import _keying
    from lianban.ledger.models import DeliveryKey

    dialect = "postgresql" if ledger_url.startswith("postgresql") else "sqlite"
    first = [{"idempotency_key": f"k{n:05d}", "delivery_id": n} for n in range(SQLITE_PARAMETERS)]
    again = [{"idempotency_key": f"k{n:05d}", "delivery_id": -n} for n in range(0, 2 * SQLITE_PARAMETERS, 2)]
    with session_factory(ledger_url).begin() as session:
        plain_write(session, _keying(dialect), first[:3] + first)  # on SQLite, k00000–k00002 twice in one statement
        plain_write(session, _keying(dialect), again)
    with session_factory(ledger_url)() as session:
        kept = dict(session.execute(select(DeliveryKey.idempotency_key, DeliveryKey.delivery_id)).all())
    assert len(kept) == SQLITE_PARAMETERS + SQLITE_PARAMETERS // 2  # the new even keys past the first ones
    assert all(kept[f"k{n:05d}"] == n for n in range(SQLITE_PARAMETERS))
    assert all(kept[f"k{n:05d}"] == -n for n in range(SQLITE_PARAMETERS + 1, 2 * SQLITE_PARAMETERS, 2))


def test_the_settled_id_is_the_highest_id_written(ledger_url: str) -> None:
    cases = cast(Table, Case.__table__)
    assert settled_id(session_factory(ledger_url), cases) == 0
    _write(ledger_url)
    with session_factory(ledger_url)() as session:
        highest = session.scalar(select(func.max(Case.id)))
    assert highest is not None and highest > 0 and settled_id(session_factory(ledger_url), cases) == highest


@pytest.mark.postgres
def test_writers_that_hold_the_table_too_long_end_the_wait_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from lianban.ledger import db
    from lianban.ledger.db import upgrade
    from tests.conftest import own_postgres

    url = own_postgres()
    upgrade(url)
    monkeypatch.setattr(db, "SETTLE_WAIT_SECONDS", 1)
    with session_factory(url).begin() as open_writer:
        open_writer.execute(update(Case).values(region_code="341602"))  # holds the table's ROW EXCLUSIVE lock
        with pytest.raises(RetriableError, match="cases 表被其他事务占用超过 1 秒，本轮暂不读取，下一轮再试"):
            settled_id(session_factory(url), cast(Table, Case.__table__))
