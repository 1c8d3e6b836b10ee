"""Connecting to the ledger and bringing its schema up to date with Alembic (imported only to migrate: a
pipeline step that only connects does not pay for it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Dialect,
    Engine,
    Insert,
    Integer,
    Select,
    String,
    Table,
    Update,
    create_engine,
    event,
    func,
    inspect,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lianban.errors import RetriableError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: the newest migration: a ledger at an older revision is refused until `lianban init` upgrades it
#: (:func:`ledger_revision`; a new migration raises this, which tests/app/test_ledger_behind.py checks)
HEAD_REVISION = "0026"


#: pages a connection keeps cached, in KiB (SQLite's default is 2 MiB): the ledger's indexes on hashed keys (a person's
#: blind index; a delivery's idempotency key had one until migration 0017) take each new row to a page anywhere in them,
#: and at 100,000 cases they are 20 MB; with 2 MiB each such insert read its page back in (staging's inserts at 100,000
#: rows: 9.0–11.3 → 7.0–8.2 s, three runs each, in turn). At most this much per connection: 32 MiB until the hub's
#: processes were added up against a million-row backfill's 500 MB (staging holds two connections, the ledger's and
#: the 前置库's; 8 MiB staged 100,000 rows in the same 22.8 s, its process's peak 316–340 → 279–281 MB)
SQLITE_CACHE_KIB = 8 * 1024
#: statements a SQLite connection keeps prepared (Python's default is 128). SQLAlchemy writes an ``IN`` of a
#: chunk's thousands of keys with one placeholder per key, so each read of a chunk's cases, persons or holds is a
#: statement of its own, used once; the driver kept the last 128 of them, each the size of its thousands of
#: placeholders: 35 MB of SQLite's memory in staging at 100,000 rows, growing with the run. 32 keeps the ledger's
#: repeated statements and lets the one-off ones go (SQLite's memory 51 → 23 MB, the run as fast).
SQLITE_STATEMENTS = 32
#: WAL pages after which a commit copies the log into the database (SQLite's default is 1,000, which each of
#: staging's chunk transactions passes alone, so every commit checkpointed; a page written by several
#: transactions is now copied once: staging's commits at 100,000 rows 3.9–4.9 → 3.8–4.1 s of its wall time)
SQLITE_CHECKPOINT_PAGES = 10_000


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
    cur.close()


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL per process; SQLite files get WAL, foreign keys and a bounded statement cache. A
    statement's parameters are never in its error (``hide_parameters``): the 前置库's hold names and ID numbers,
    and an error's text goes to logs, task logs and the operator's screen."""
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"  # whatever its driver is named (sqlite+pysqlite:///…)
    if sqlite and parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    extra = {"connect_args": {"cached_statements": SQLITE_STATEMENTS}} if sqlite else {}
    engine = create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True, **extra)
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def keeping_insert(dialect: str, table: Any) -> Any:
    """An insert into `table` (a model or Table) in `dialect`'s own form (``postgresql`` or ``sqlite``), which
    can leave a row already there alone (``.on_conflict_do_nothing()``): a write two runs may make at once."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def insert_unless_there(session: Session, table: Any, values: Mapping[str, Any],
                        unique: Sequence[str] | None = None) -> bool:
    """Insert one row of `values` unless one with the same `unique` columns (any unique constraint when None) is
    there, another run's committed first; whether this one was written. Told by the row the insert returns: a
    driver's rowcount is no answer here (psycopg gives -1 for an insert that returns the new id)."""
    statement = keeping_insert(dialect_of(session), table).values(**values)
    kept = statement.on_conflict_do_nothing(index_elements=list(unique) if unique else None)
    return session.execute(kept.returning(literal_column("1"))).first() is not None


def dialect_of(session: Session) -> str:
    """``postgresql`` or ``sqlite``: the dialect of the database `session` writes to."""
    return "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"


def write_lock(session: Session) -> None:
    """On SQLite, take the database's write lock now unless the transaction holds it already, so that rows read
    next cannot change before the transaction writes over them. The driver begins a transaction only at the
    first write: a read before it is not isolated, and a writer committing in between (a department's push
    while a poll judges the same item) would be written over or recorded twice. PostgreSQL locks the rows
    read instead (``FOR UPDATE``)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    driver: Any = connection.connection.driver_connection
    if not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


#: how long :func:`settled_id` waits for the transactions writing a table to end before it gives up
SETTLE_WAIT_SECONDS = 120


def settled_id(sessions: sessionmaker[Session], table: Table) -> int:
    """The highest id of `table` at or below which no row can still appear, for a reader that goes through a
    table in id order and must not pass a row that commits later (the report: an event's DATAVER counts the
    case's events before it).

    Ids are drawn from a sequence when a row is inserted, not when it commits: on PostgreSQL a transaction
    holding id 101 can commit after one holding 102 was read. So, in a transaction of its own, the table is
    locked in SHARE mode, which waits for every transaction that has written to it to end (an INSERT holds its
    ROW EXCLUSIVE lock, taken before its id is drawn, until it ends) and holds new writers off for the moment
    max(id) is read. SQLite lets one writer at a time draw ids and commit, so its ids commit in order and the
    max is read as it stands. RetriableError (in Chinese) if the writers do not end within
    :data:`SETTLE_WAIT_SECONDS`."""
    with sessions.begin() as session:
        if session.connection().dialect.name == "postgresql":
            session.execute(text(f"SET LOCAL lock_timeout = '{SETTLE_WAIT_SECONDS}s'"))
            try:
                session.execute(text(f"LOCK TABLE {table.name} IN SHARE MODE"))
            except OperationalError as exc:
                raise RetriableError(f"{table.name} 表被其他事务占用超过 {SETTLE_WAIT_SECONDS} 秒，本轮暂不读取，"
                                     f"下一轮再试 (writers did not end: {type(exc.orig).__name__})") from None
        return int(session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0)


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def plain_rows(session: Session, query: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
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


def core_rows(session: Session, query: Select[Any]) -> Iterable[Sequence[Any]]:
    """The rows of `query`, their values converted by their column types (times, dates, flags), by Core on the
    session's connection, flushed first as the ORM's execute would be: for the many-row reads of settling and
    status moves, where the ORM's loading of each row was most of the read. :func:`plain_rows` where every column
    is an integer or text."""
    session.flush()
    return session.connection().execute(query)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def ledger_revision(url: str) -> str | None:
    """The migration the ledger at `url` is at (None: none, Alembic never ran on it)."""
    with engine_for(url).connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.scalar(text("SELECT version_num FROM alembic_version"))


def upgrade(url: str, revision: str = "head") -> None:
    """Apply every migration up to `revision` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def plain_write(session: Session, statement: Insert | Update, rows: Sequence[Any], *,
                attributes: Mapping[str, str] | None = None, columns: Sequence[str] | None = None) -> None:
    """Run `statement` (an insert, or an update whose values and criteria are bind parameters) once per row of
    `rows`, in one ``executemany`` of the driver on the session's connection (an insert on SQLite: up to
    :data:`SQLITE_PARAMETERS` values to a statement, many rows each, then the rest one row each: staging 100,000
    records wrote its new cases, items and deliveries in 3.3 s, not 4.0 s, one row to a statement): the counterpart of
    :func:`plain_rows` for the steps that write statuses by the hundred thousand, where SQLAlchemy's making of
    each row's parameters was a sixth of the writing (HRSS's log: 2.5 → 2.05 s of CPU). Every row has the keys
    of the first; a value its column type converts on the way in (a time, a date or a flag on SQLite) is
    converted as SQLAlchemy would, by the type's own processor. The statement is compiled once per process,
    dialect and set of keys. With `attributes` (parameter → attribute), `rows` are objects whose attributes
    hold the values: no mapping is made per row (making them was 7 % of settling a delivered batch). With
    `columns`, `rows` are tuples of those parameters' values in that order (staging's new items and deliveries:
    making a mapping each for 256,334 of both was a twelfth of staging's own process at 100,000 records)."""
    if not rows:
        return
    connection = session.connection()
    keys = tuple(attributes) if attributes is not None else tuple(columns if columns is not None else rows[0])
    plan = _plan(statement, keys, connection.dialect)
    params = plan.converter(attributes, columns)
    values = [params(row) for row in rows]
    whole = len(values) - len(values) % plan.rows_at_once if plan.many_sql else 0
    if whole:  # many rows to a statement (SQLite's inserts: a quarter less time than one row to a statement)
        at_once = plan.rows_at_once
        connection.exec_driver_sql(plan.many_sql, [tuple(chain.from_iterable(values[start:start + at_once]))
                                                   for start in range(0, whole, at_once)])
    if whole < len(values):
        connection.exec_driver_sql(plan.sql, values[whole:])


@dataclass(frozen=True)
class _Plan:
    """A statement compiled for one dialect: its SQL, its parameters in order and how each is converted."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool
    #: the insert of `rows_at_once` rows in one statement (its VALUES list repeated), where the driver takes one
    #: (SQLite's): the rows' values one after another as its parameters; "" for one row to a statement
    many_sql: str = ""
    rows_at_once: int = 1

    def converter(self, attributes: Mapping[str, str] | None = None, columns: Sequence[str] | None = None) \
            -> Callable[[Any], tuple[Any, ...] | dict[str, Any]]:
        """How one call makes each row's parameters: its values in order, each converted by its column type's
        processor, a value the row before held too (a step's one `now`) converted once. Made per call: what it
        remembers is that call's alone, whichever thread makes it. With `attributes`, a row is an object and
        each parameter's value its attribute named there; with `columns`, a row is a tuple of the values of
        those parameters, in that order."""
        names, positional = self.names, self.positional
        if attributes is not None:
            picked = _picker(tuple(attributes[n] for n in names), attrgetter)
        else:
            picked = _picker(names if columns is None else tuple(list(columns).index(n) for n in names))
        converts = [(i, _Recurring(p)) for i, p in enumerate(self.processors) if p is not None]
        if positional and not converts:
            return picked  # a row's values in order, picked in C (a Python loop per value was a tenth of staging)

        def params(row: Any) -> tuple[Any, ...] | dict[str, Any]:
            values = list(picked(row))
            for i, convert in converts:
                values[i] = convert(values[i])
            return tuple(values) if positional else dict(zip(names, values, strict=True))

        return params


def _picker(names: tuple[str | int, ...], getter: Callable[..., Callable[[Any], Any]] = itemgetter) \
        -> Callable[[Any], tuple[Any, ...]]:
    """A row's values of `names` (keys or positions, or attributes with ``attrgetter``) as a tuple, in that order
    (a getter of one name gives the value alone)."""
    if not names:
        return lambda row: ()
    get = getter(*names)
    return (lambda row: (get(row),)) if len(names) == 1 else get


class _Recurring:
    """A processor that converts a value once while it recurs from row to row (a time on SQLite is formatted
    as text: every row of a step holds the same `now`)."""

    __slots__ = ("convert", "converted", "last")

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        self.convert, self.last, self.converted = convert, _NOTHING, None

    def __call__(self, value: Any) -> Any:
        if value is not self.last:
            self.converted, self.last = self.convert(value), value
        return self.converted


_NOTHING = object()


#: the most parameters one statement takes on any SQLite build (its SQLITE_MAX_VARIABLE_NUMBER before 3.32)
SQLITE_PARAMETERS = 999


@lru_cache(maxsize=64)
def _plan(statement: Insert | Update, keys: tuple[str, ...], dialect: Dialect) -> _Plan:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
    processors = tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
    one = f" VALUES ({', '.join('?' * len(names))})"
    at_once = SQLITE_PARAMETERS // max(1, len(names))
    if (dialect.name != "sqlite" or not isinstance(statement, Insert) or not names or at_once < 2
            or compiled.string.count(one) != 1 or " RETURNING " in compiled.string):
        return _Plan(compiled.string, names, processors, compiled.positional)
    many = compiled.string.replace(one, f" VALUES {', '.join([one[len(' VALUES '):]] * at_once)}")
    return _Plan(compiled.string, names, processors, compiled.positional, many, at_once)
