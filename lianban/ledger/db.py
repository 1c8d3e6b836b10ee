"""Connecting to the ledger and bringing its schema up to date with Alembic (imported only to migrate: a
pipeline step that only connects does not pay for it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, Engine, Insert, Integer, Select, String, Update, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL per process; SQLite files get WAL and foreign keys."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def plain_rows(session: Session, query: Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of `query` as the driver hands them over (plain tuples), without SQLAlchemy's row objects: for
    the report's reading, where making a row object and reading its columns by name cost a tenth of the time.
    Only for integer and text columns, which the driver returns as they are (both SQLite's and psycopg);
    ValueError for any other (a time, say, which SQLAlchemy's result processing would convert). Run on the
    session's connection, so nothing pending in the session is flushed first."""
    other = [c.name for c in query.selected_columns if not isinstance(c.type, Integer | String)]
    if other:
        raise ValueError(f"plain_rows reads integer and text columns only, not {', '.join(other)}")
    result = session.connection().execute(query)  # Core's execution: a cursor result, whatever the columns
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply every migration up to `revision` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def plain_write(session: Session, statement: Insert | Update, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run `statement` (an insert, or an update whose values and criteria are bind parameters) once per row of
    `rows`, in one ``executemany`` of the driver on the session's connection: the counterpart of
    :func:`plain_rows` for the steps that write statuses by the hundred thousand, where SQLAlchemy's making of
    each row's parameters was a sixth of the writing (HRSS's log: 2.5 → 2.05 s of CPU). Every row has the keys
    of the first; a value its column type converts on the way in (a time, a date or a flag on SQLite) is
    converted as SQLAlchemy would, by the type's own processor. The statement is compiled once per process,
    dialect and set of keys."""
    if not rows:
        return
    connection = session.connection()
    plan = _plan(statement, tuple(rows[0]), connection.dialect)
    connection.exec_driver_sql(plan.sql, [plan.params(row) for row in rows])


@dataclass(frozen=True)
class _Plan:
    """A statement compiled for one dialect: its SQL, its parameters in order and how each is converted."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    def params(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [row[n] if p is None else p(row[n]) for n, p in zip(self.names, self.processors, strict=True)]
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


@lru_cache(maxsize=64)
def _plan(statement: Insert | Update, keys: tuple[str, ...], dialect: Dialect) -> _Plan:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
    return _Plan(compiled.string, names,
                 tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names),
                 compiled.positional)
