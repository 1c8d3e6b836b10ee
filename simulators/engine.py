"""The department engine every simulator shares: decrypt, validate, dedupe, keep, move through statuses.

A simulated department is this engine behind a protocol adapter (SOAP for medical, REST for the others).
Received cases are kept in a SQLite file for inspection. Each case item follows a path of unified
statuses chosen deterministically from its idempotency key, one step every ``step_seconds``:

    受理 → 审核中 → 审核通过 → 已办结              (most)
    受理 → 补正资料 ‖ 审核中 → 审核通过 → 已办结     (some: ‖ waits for the applicant's supplement)
    不予受理 (with a reason)                      (few)
    受理 → 审核中 → 审核不通过 (with a reason)       (few)

Some items bring a result back (lianban.domain.results): item 12 the confirmed 医保累计缴费年限 and any
shortfall, item 14 the amount and date of the 公积金 transfer (with 已办结); for item 13 the health commission
only decides eligibility, so its path ends at 审核通过 with the reward amount (or 审核不通过): HRSS pays and
completes it (the catalog's ``completed_by``).

An item on a 补正 path stops at 补正资料, naming one or two materials by catalog code (chosen from its key,
:func:`supplement_materials`), until a supplement for it arrives (:meth:`DepartmentEngine.supplement`, sealed
and checked exactly like a batch, deduplicated by supplement id); then it goes on, its step clock restarting
from the supplement's arrival. :meth:`DepartmentEngine.awaiting_supplement` lists what the department has
asked applicants to bring (the simulated applicant reads it: one simulated world).

A few items misbehave on purpose, once each, as real departments sometimes do: some answer one poll with an
old status and its old time (out of order: the hub ignores it); some answer the first poll at their last
step with "受理" again, now (an illegal move: the hub keeps it, alerts, and takes the final status next poll);
and a quarter of the items health does not complete (item 13) are once announced 已办结 by health itself at
their last step (the hub refuses it: only HRSS's payment completes item 13), then 审核通过 as decided.

Each batch arrives with its seal (lianban.crypto.batch): the engine checks the hub's signature, freshness
and replay, unwraps the batch data key with the department's own private key and checks the hash tree
over the items before it opens any; a batch that fails is refused whole (:class:`BatchRefused`).
Adapters translate unified statuses to the department's own codes with their ``statuses`` table.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from lianban.crypto.batch import BatchOpener, OpenedBatch
from lianban.domain.catalog import load_catalog
from lianban.domain.identity import id_problem
from lianban.domain.statuses import Status
from lianban.domain.supplements import UnknownMaterial, material_names, read_materials
from lianban.errors import RejectedError
from lianban.wire.ids import aad, supplement_aad

S = Status
PATHS: tuple[tuple[int, tuple[Status, ...], str | None], ...] = (
    # (weight out of 100, path, reason for a negative end)
    (84, (S.ACCEPTED, S.UNDER_REVIEW, S.APPROVED, S.COMPLETED), None),
    (8, (S.ACCEPTED, S.SUPPLEMENT, S.UNDER_REVIEW, S.APPROVED, S.COMPLETED), None),
    (4, (S.NOT_ACCEPTED,), "申请事项不属于本部门受理范围或申请人不符合受理条件"),
    (4, (S.ACCEPTED, S.UNDER_REVIEW, S.REJECTED), "经审核，申请人不符合办理条件"),
)
SUPPLEMENT_REASON = "请补正资料"
#: the reason of a batch whose request names another batch id than its signed seal (refused whole as FORMAT)
BATCH_ID_MISMATCH = "请求中的批次号（batch_id）与批次封装头中签名的批次号不一致"


def supplement_materials(key: str) -> tuple[str, ...]:
    """The one or two materials (catalog codes) a 补正资料 asks for, fixed by the item's key."""
    codes = [m.code for m in load_catalog().materials]
    roll = int(hashlib.sha256(f"materials|{key}".encode()).hexdigest()[:8], 16)
    return tuple(codes[(roll + 7 * n) % len(codes)] for n in range(1 + (roll >> 16) % 2))


def supplement_reason(materials: tuple[str, ...]) -> str:
    """The 补正告知 sentence: which materials to bring, by name."""
    return f"{SUPPLEMENT_REASON}：{'、'.join(material_names(materials))}"


def choose_path(key: str, completes: bool = True) -> tuple[tuple[Status, ...], str | None]:
    """The status path for one case item, fixed by its idempotency key; a party that does not complete the
    item (`completes` False: health for item 13) stops before 已办结."""
    roll = _roll(key)
    for weight, path, reason in PATHS:
        if roll < weight:
            return (path if completes or path[-1] is not S.COMPLETED else path[:-1]), reason
        roll -= weight
    raise AssertionError("weights must add up to 100")


def _roll(key: str, salt: str = "") -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}{key}".encode()).digest()[:4], "big") % 100  # its first 8 hex digits


REWARD_AMOUNT = "3000.00"  # 安徽: 企业退休职工独生子女父母一次性奖励 (the simulated figure)


def simulated_result(key: str, item_code: str, party: str, status: Status, changed_at: str) -> dict[str, str] | None:
    """The result a department (or HRSS paying item 13) reports with `status`, fixed by the key."""
    day = changed_at[:10]
    if item_code == "12" and status is S.COMPLETED:
        n = _figure(key)
        required = 360 if n % 2 else 300  # 医保 累计缴费年限: men 30 years, women 25 (Bozhou's rule, simulated)
        paid = required - 36 + n % 120
        return {"paid_months": str(paid), "required_months": str(required),
                "shortfall_months": str(max(0, required - paid))}
    if item_code == "13" and party == "health" and status is S.APPROVED:
        return {"amount": REWARD_AMOUNT}
    if item_code == "13" and party == "hrss" and status is S.COMPLETED:
        return {"amount": REWARD_AMOUNT, "paid_on": day}
    if item_code == "14" and status is S.COMPLETED:
        n = _figure(key)
        return {"amount": f"{5000 + n % 200_000}.{n % 100:02d}", "transferred_on": day}
    return None


def _figure(key: str) -> int:
    """The number a key's simulated result figures are made of (worked out only for a result that has them)."""
    return int(hashlib.sha256(f"result|{key}".encode()).hexdigest()[:8], 16)


#: share of items (out of 100) whose reports misbehave on purpose, so the hub's status machine is exercised
OUT_OF_ORDER_SHARE = 4  # the first poll from the third step on: the status of two steps ago, with its old time
#: the first poll at the last step: "受理" again, instead of the final status and at its time (a later time
#: would be a lie the hub cannot tell from the truth: taken as the newest word whenever the hub had not yet heard
#: the final status, e.g. from 补正资料, with the true final status then older than it for ever)
ILLEGAL_SHARE = 3
#: of items another party completes (item 13, paid by HRSS), the share whose department once says 已办结 itself
OVERREACH_SHARE = 25


def _at(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _glitch(key: str, path: tuple[Status, ...], step: int) -> tuple[Status, str | None, int] | None:
    """(status, time or None for "that step's time", step) a misbehaving item would report at `step`, or None;
    each item misbehaves on one poll only (the engine remembers which)."""
    roll = _roll(key, "glitch|")
    if len(path) < 3:
        return None
    if roll < OUT_OF_ORDER_SHARE and step >= 2:
        return path[step - 2], None, step - 2
    if OUT_OF_ORDER_SHARE <= roll < OUT_OF_ORDER_SHARE + ILLEGAL_SHARE and step == len(path) - 1:
        return S.ACCEPTED, None, step
    return None


class BatchRefused(RejectedError):
    """The whole batch is refused (bad signature, addressed to another department, unknown key, stale, replayed,
    tree mismatch)."""


@dataclass(frozen=True)
class CaseView:
    """What the department says about one received case item right now."""

    idempotency_key: str
    ref: str
    status: Status
    changed_at: str
    reason: str | None
    result: dict[str, str] | None = None  # lianban.domain.results
    materials: tuple[str, ...] = ()  # 补正资料: the materials asked for (catalog codes)


@dataclass(frozen=True)
class SupplementIntake:
    """The engine's verdict on one received 补正 submission."""

    supplement_id: str
    idempotency_key: str
    accepted: bool
    duplicate: bool
    status: Status | None  # the item's status once the supplement is taken
    code: str  # engine-level code: OK, DUP, SEAL, INVALID, NOCASE
    reason: str | None


@dataclass(frozen=True)
class Intake:
    """The engine's verdict on one received delivery."""

    idempotency_key: str
    accepted: bool
    duplicate: bool
    ref: str | None
    status: Status | None
    code: str  # engine-level code: OK, DUP, SEAL, INVALID, ITEM
    reason: str | None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
  idempotency_key TEXT PRIMARY KEY, ref TEXT NOT NULL, case_no TEXT NOT NULL, item_code TEXT NOT NULL,
  batch_id TEXT NOT NULL, fields TEXT NOT NULL, received_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS glitched (idempotency_key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS supplements (
  supplement_id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL, materials TEXT NOT NULL,
  supplied_at TEXT NOT NULL, received_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ix_supplements_key ON supplements (idempotency_key);
CREATE TABLE IF NOT EXISTS gateway_nonces (
  app_id TEXT NOT NULL, nonce TEXT NOT NULL, seen_at REAL NOT NULL, PRIMARY KEY (app_id, nonce));
"""


_KEYS_PER_QUERY = 500  # keys bound in one IN (...) query
#: a department's store (and 皖事通办's) as a system of record on a database server, not a benchmark's bottleneck:
#: a write-ahead log with one fsync per batch, not two per record; a 32 MiB page cache and a checkpoint every
#: 10,000 pages of log (40 MB), not SQLite's 2 MB and 1,000. Idempotency keys are random, so a batch of 1,000 new
#: items dirties about as many pages of the key index; with the defaults each batch's commit copied them back into
#: the database at once. Storing 168,000 items in batches of 1,000 (the statements alone): 5.0 -> 2.6 s of CPU.
STORE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-32768",
                 "PRAGMA wal_autocheckpoint=10000")
#: how often a store's log is copied back into its database off the request path (:func:`open_store`)
CHECKPOINT_EVERY = 0.25


def open_store(db_path: Path) -> sqlite3.Connection:
    """A simulated party's store (:data:`STORE_PRAGMAS`), its log checkpointed in a thread of its own every
    :data:`CHECKPOINT_EVERY` seconds while the store is in use, as a database server writes back in the
    background: the checkpoint's two fsyncs were a quarter of 皖事通办's keeping of a push, with every push of
    the status sweep waiting for it. The writer's own checkpoint (every 10,000 pages) stays as the bound on the
    log should the thread fall behind."""
    db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, factory=_Store)
    for pragma in STORE_PRAGMAS:
        db.execute(pragma)
    stop = threading.Event()
    weakref.finalize(db, stop.set)  # the thread holds the path, not the store: it ends once the store is let go
    threading.Thread(target=_checkpoint, args=(db_path, stop), name=f"checkpoint-{Path(db_path).stem}",
                     daemon=True).start()
    return db


class _Store(sqlite3.Connection):
    """A store's connection (a subclass, since a connection itself cannot be referred to weakly)."""


def _checkpoint(db_path: Path, stop: threading.Event) -> None:
    """Copy the committed log of `db_path` back into it (PASSIVE: never waits for, nor holds up, the writer)
    until `stop` is set."""
    db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    try:
        while not stop.wait(CHECKPOINT_EVERY):
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:  # the store's file gone (a test's folder removed): nothing left to write back
        pass
    finally:
        db.close()


@dataclass(frozen=True)
class _Kept:
    """A received item as the status clock reads it."""

    ref: str
    received_at: float
    item_code: str


def _verdict(key: str, problem: tuple[str, str] | None, duplicate: bool, ref: str | None,
             view: CaseView | None) -> Intake:
    """One delivery's Intake: refused for `problem`, answered duplicate, or kept as `ref` and now at `view`."""
    if problem is not None:
        return Intake(key, False, False, None, None, *problem)
    assert view is not None  # kept before, or in this batch
    if duplicate:
        return Intake(key, True, True, ref, view.status, "DUP", None)
    return Intake(key, True, False, ref, view.status, "OK", view.reason)


class DepartmentEngine:
    """One department's case store and status clock. Thread-safe; state lives in `db_path`."""

    def __init__(self, department: str, opener: BatchOpener, db_path: Path, step_seconds: float = 60.0) -> None:
        self.department = department
        self.opener = opener
        self.step_seconds = step_seconds
        catalog = load_catalog()
        self.items = {c: i for c, i in catalog.items.items() if i.department == department}
        self.completes = {c for c, i in self.items.items() if i.completer == department}
        self._lock = threading.Lock()
        self._db = open_store(db_path)
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One SQLite transaction (callers hold the lock): a batch is kept whole or not at all."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- intake -----------------------------------------------------------------------------------
    def receive(self, deliveries: Iterable[dict[str, Any]], seal: dict[str, Any] | None,
                batch_id: str | None = None) -> list[Intake]:
        """Take a sealed batch of ``{idempotency_key, case_no, item_code, envelope}``; one Intake each.

        Raises BatchRefused (code SIG, DEPT, KEY, STALE, REPLAY, ROOT, FORMAT, SUITE) when the seal fails, and
        FORMAT when `batch_id`, the id the request names besides its seal, is not the seal's own."""
        batch = list(deliveries)
        opened = self._open(batch, seal, batch_id)
        with self._lock, self._transaction():
            return self._intake(batch, opened)

    def _open(self, batch: list[dict[str, Any]], seal: dict[str, Any] | None, batch_id: str | None) -> OpenedBatch:
        try:
            if batch_id is not None and (seal or {}).get("batch_id") != batch_id:
                raise RejectedError(f"request names batch {batch_id!r}, its seal another", "FORMAT", BATCH_ID_MISMATCH)
            opened = self.opener.open_header(seal or {})
            opened.verify_items([d.get("envelope") or {} for d in batch])
        except RejectedError as exc:
            with self._lock:
                self._add("refused_batches")
            raise BatchRefused(str(exc), exc.code, exc.reason) from None
        return opened

    def _intake(self, batch: list[dict[str, Any]], opened: OpenedBatch) -> list[Intake]:
        """The batch's verdicts in its order; its new items kept in one statement, its counters moved once (a
        key twice in one batch is kept the first time and answered duplicate the second, as a later batch is)."""
        keys = [str(d.get("idempotency_key", "")) for d in batch]
        kept = self._kept(keys)
        refs = {key: one.ref for key, one in kept.items()}
        unique, now = self._counter("unique"), time.time()
        stored: list[tuple[str, str, str, str, str, str, float]] = []
        plan: list[tuple[str, tuple[str, str] | None, bool]] = []  # (key, problem, duplicate)
        for key, d in zip(keys, batch, strict=True):
            problem = None if key in refs else self._problem(d, opened)
            plan.append((key, problem, key in refs))
            if problem is None and key not in refs:
                unique += 1
                refs[key] = f"{self.department.upper()}-{unique:08d}"
                kept[key] = _Kept(refs[key], now, str(d["item_code"]))  # as stored: not read back for its view
                # The department keeps what it received (its own system of record); only field names are kept
                # here in the clear, the sealed payload stays sealed (as compact JSON: msgspec, where json.dumps was
                # 5 % of a delivery's simulated departments).
                stored.append((key, refs[key], d["case_no"], d["item_code"], str(d["envelope"].get("batch_id")),
                               msgspec.json.encode(d["envelope"]).decode(), now))
        self._db.executemany("INSERT INTO received VALUES (?,?,?,?,?,?,?)", stored)
        self._add("unique", len(stored))
        self._add("duplicates", sum(duplicate for _, _, duplicate in plan))
        self._add("rejected", sum(problem is not None for _, problem, _ in plan))
        views = dict(zip(refs, self._views(list(refs), kept=kept), strict=True))
        return [_verdict(key, problem, duplicate, refs.get(key), views.get(key)) for key, problem, duplicate in plan]

    def _problem(self, d: dict[str, Any], opened: OpenedBatch) -> tuple[str, str] | None:
        item = self.items.get(str(d.get("item_code")))
        if item is None:
            return "ITEM", f"事项编码 {d.get('item_code')} 不属于本部门"
        bound = aad(str(d.get("idempotency_key")), str(d.get("case_no")), str(d.get("item_code")))
        try:
            fields = opened.open_item(d.get("envelope") or {}, expect_aad=bound)
        except RejectedError as exc:
            return "SEAL", exc.reason
        missing = [f for f in item.fields if fields.get(f) in (None, "")]
        if missing:
            return "INVALID", f"缺少必填字段：{'、'.join(missing)}"
        extra = sorted(set(fields) - set(item.fields))
        if extra:
            return "INVALID", f"收到超出最小必要范围的字段：{'、'.join(extra)}"
        id_issue = id_problem(str(fields["id_number"])) if "id_number" in item.fields else None  # when it is sent
        return ("INVALID", id_issue) if id_issue else None

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def _add(self, name: str, count: int = 1) -> None:
        if count:
            self._db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + "
                             "excluded.value", (name, count))

    def _rows(self, query: str, keys: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Rows of `query` (its ``IN ({})`` filled with placeholders) for `keys`, a few hundred at a time."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _KEYS_PER_QUERY):
            part = unique[start:start + _KEYS_PER_QUERY]
            yield from self._db.execute(query.format(",".join("?" * len(part))), part)

    def _kept(self, keys: Sequence[str]) -> dict[str, _Kept]:
        """The received items among `keys`."""
        query = "SELECT idempotency_key, ref, received_at, item_code FROM received WHERE idempotency_key IN ({})"
        return {key: _Kept(ref, at, item) for key, ref, at, item in self._rows(query, keys)}

    # -- status ------------------------------------------------------------------------------------
    def statuses(self, keys: Iterable[str]) -> list[CaseView]:
        """Current status of each known key (unknown keys are skipped)."""
        with self._lock, self._transaction():
            return [v for v in self._views(list(keys), polled=True) if v is not None]

    def current(self) -> list[CaseView]:
        """Every received item's status as it stands (what a department pushes; no deliberate glitches)."""
        with self._lock:
            keys = [r[0] for r in self._db.execute("SELECT idempotency_key FROM received ORDER BY rowid")]
            return [v for v in self._views(keys) if v is not None]

    @staticmethod
    def _overreach(key: str, path: tuple[Status, ...], step: int) -> tuple[Status, str | None, int] | None:
        """A department that does not complete an item (health, item 13) announcing 已办结 itself, once, on the
        first poll at its last word (the hub refuses it from any status: only the completer may say 已办结)."""
        if path[-1] is not S.APPROVED or step != len(path) - 1 or _roll(key, "overreach|") >= OVERREACH_SHARE:
            return None
        return S.COMPLETED, datetime.now(UTC).isoformat(), step

    def _misbehaves(self, key: str, path: tuple[Status, ...], step: int,
                    glitched: set[str]) -> tuple[Status, str | None, int] | None:
        glitch = _glitch(key, path, step) or self._overreach(key, path, step)
        if glitch is None or key in glitched:
            return None
        glitched.add(key)
        self._db.execute("INSERT INTO glitched VALUES (?)", (key,))
        return glitch

    def _step_times(self, path: tuple[Status, ...], received_at: float, resumed: float | None,
                    now: float) -> list[float]:
        """When each step of `path` reached by `now` was reached: one every ``step_seconds`` from receipt; a
        补正资料 step holds until a supplement arrives (`resumed`: the first one's arrival), and the clock restarts
        from it."""
        hold = path.index(S.SUPPLEMENT) if S.SUPPLEMENT in path else len(path) - 1
        times = [received_at + k * self.step_seconds for k in range(hold + 1)]
        if hold < len(path) - 1 and resumed is not None:
            resumed = max(resumed, times[hold])
            times += [resumed + (k - hold - 1) * self.step_seconds for k in range(hold + 1, len(path))]
        return [t for t in times if t <= now] or times[:1]

    def _views(self, keys: Sequence[str], polled: bool = False,
               kept: Mapping[str, _Kept] | None = None) -> list[CaseView | None]:
        """What the department says of each of `keys` now (None for a key it never received), read in three
        queries whatever their number; `polled`: as a poll answers, where a misbehaving item glitches once (a key
        polled twice at once only the first time); `kept`: the received items among them, when known."""
        kept = self._kept(keys) if kept is None else kept
        resumed: dict[str, float] = dict(self._rows(
            "SELECT idempotency_key, MIN(received_at) FROM supplements WHERE idempotency_key IN ({}) "
            "GROUP BY idempotency_key", keys))
        glitched = ({key for key, in self._rows("SELECT idempotency_key FROM glitched WHERE idempotency_key IN ({})",
                                                keys)} if polled and self.step_seconds else None)
        now, stamp = time.time(), cache(_at)  # one moment for the whole answer; a batch's items share their times
        return [self._view(key, kept[key], resumed.get(key), glitched, now, stamp) if key in kept else None
                for key in keys]

    def _view(self, key: str, kept: _Kept, resumed: float | None, glitched: set[str] | None, now: float,
              stamp: Callable[[float], str]) -> CaseView:
        path, end_reason = choose_path(key, completes=kept.item_code in self.completes)
        times = self._step_times(path, kept.received_at, resumed, now)
        step = len(times) - 1
        glitch = self._misbehaves(key, path, step, glitched) if glitched is not None else None
        if glitch is not None:
            return CaseView(key, kept.ref, glitch[0], glitch[1] or stamp(times[glitch[2]]), None)
        status = path[step]
        reason = end_reason if status.is_terminal() and end_reason else None
        materials = supplement_materials(key) if status is S.SUPPLEMENT else ()
        reason = supplement_reason(materials) if materials else reason
        at = stamp(times[step])
        result = simulated_result(key, kept.item_code, self.department, status, at)
        return CaseView(key, kept.ref, status, at, reason, result, materials)

    # -- 补正 (supplements) -------------------------------------------------------------------------------
    def supplement(self, supplements: Iterable[dict[str, Any]], seal: dict[str, Any] | None,
                   batch_id: str | None = None) -> list[SupplementIntake]:
        """Take a sealed batch of ``{idempotency_key, supplement_id, case_no, item_code, envelope}`` (each
        envelope sealing ``{materials, supplied_at}``); one SupplementIntake each, a supplement id seen before
        answered duplicate. Raises BatchRefused exactly as :meth:`receive` does."""
        batch = list(supplements)
        opened = self._open(batch, seal, batch_id)
        with self._lock, self._transaction():
            return [self._supplement_one(d, opened) for d in batch]

    def _supplement_one(self, d: dict[str, Any], opened: OpenedBatch) -> SupplementIntake:
        sid, key = str(d.get("supplement_id", "")), str(d.get("idempotency_key", ""))
        if self._db.execute("SELECT 1 FROM supplements WHERE supplement_id=?", (sid,)).fetchone():
            self._add("supplement_duplicates")
            view = self._views([key])[0]
            return SupplementIntake(sid, key, True, True, view.status if view else None, "DUP", None)
        opened_payload = self._open_supplement(d, opened)
        if isinstance(opened_payload, tuple):
            self._add("supplements_rejected")
            return SupplementIntake(sid, key, False, False, None, *opened_payload)
        self._db.execute("INSERT INTO supplements VALUES (?,?,?,?,?)",
                         (sid, key, json.dumps(opened_payload["materials"]), opened_payload["supplied_at"],
                          time.time()))
        self._add("supplements")
        view = self._views([key])[0]
        return SupplementIntake(sid, key, True, False, view.status if view else None, "OK", None)

    def _open_supplement(self, d: dict[str, Any], opened: OpenedBatch) -> dict[str, Any] | tuple[str, str]:
        """The supplement's payload (materials read against the catalog), or (code, reason) refusing it."""
        key, case_no, item_code = (str(d.get(k)) for k in ("idempotency_key", "case_no", "item_code"))
        known = self._db.execute("SELECT 1 FROM received WHERE idempotency_key=? AND case_no=? AND item_code=?",
                                 (key, case_no, item_code)).fetchone()
        if known is None:
            return "NOCASE", "本部门未收到该事项，无法受理补正材料"
        try:
            payload = opened.open_item(d.get("envelope") or {},
                                       expect_aad=supplement_aad(str(d.get("supplement_id")), key, case_no, item_code))
            materials = read_materials(payload.get("materials") or ())
        except RejectedError as exc:
            return "SEAL", exc.reason
        except (UnknownMaterial, TypeError) as exc:
            return "INVALID", str(exc) if isinstance(exc, UnknownMaterial) else "补正材料格式错误"
        if not materials:
            return "INVALID", "补正材料为空"
        return {"materials": list(materials), "supplied_at": str(payload.get("supplied_at") or "")}

    def awaiting_supplement(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(办件编号, 事项编码, materials) of every item now at 补正资料 with no supplement received yet: what the
        department has asked applicants to bring."""
        with self._lock:
            rows = self._db.execute("SELECT idempotency_key, case_no, item_code FROM received WHERE idempotency_key "
                                    "NOT IN (SELECT idempotency_key FROM supplements)").fetchall()
            asked = [(key, case_no, item) for key, case_no, item in rows
                     if S.SUPPLEMENT in choose_path(key, completes=item in self.completes)[0]]
            views = zip([(case_no, item) for _, case_no, item in asked], self._views([key for key, _, _ in asked]),
                        strict=True)
        return [(case_no, item, v.materials) for (case_no, item), v in views if v and v.status is S.SUPPLEMENT]

    def supplement_stats(self) -> dict[str, int]:
        """补正 counters: supplements taken, duplicates answered, supplements refused."""
        with self._lock:
            rows = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        return {n: int(rows.get(n, 0)) for n in ("supplements", "supplement_duplicates", "supplements_rejected")}

    def remember(self, app_id: str, nonce: str, now: float, horizon: float) -> bool:
        """The gateway's nonce memory (lianban.wire.gateway.NonceMemory) in the department's database, so that a
        request replayed to another worker serving the same database is refused as one replayed to this one is;
        False when (app_id, nonce) was noted before. Notes older than `horizon` go (stale requests are refused
        anyway): the table holds one freshness window's requests."""
        with self._lock:
            self._db.execute("DELETE FROM gateway_nonces WHERE seen_at < ?", (horizon,))
            noted = self._db.execute("INSERT OR IGNORE INTO gateway_nonces VALUES (?, ?, ?)", (app_id, nonce, now))
            return noted.rowcount == 1

    def stats(self) -> dict[str, int]:
        """Counters as the department sees them: unique, duplicates, rejected (items), refused_batches."""
        with self._lock:
            rows = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        return {name: int(rows.get(name, 0)) for name in ("unique", "duplicates", "rejected", "refused_batches")}
