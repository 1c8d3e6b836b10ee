"""The department engine misbehaves on purpose, once per item, as real departments sometimes do: an old status
with its old time (out of order), or "受理" again at the last step (illegal), then the truth on the next poll.
An item on a 补正 path waits at 补正资料, naming its materials, until a supplement arrives."""

from __future__ import annotations

import dataclasses
import gc
import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.domain.supplements import material_names
from simulators.engine import (
    CHECKPOINT_EVERY,
    ILLEGAL_SHARE,
    OUT_OF_ORDER_SHARE,
    DepartmentEngine,
    SupplementIntake,
    _glitch,
    choose_path,
    open_store,
)
from simulators.kit import Item, Supplied, engine_for, seal_items, seal_supplements, supplement_wire, wire
from simulators.people import synthetic_application

STEP = 0.2


def _key(kind: str) -> str:
    """An idempotency key whose item misbehaves as `kind` (out_of_order | illegal) on a 4-step path."""
    for n in range(100_000):
        key = f"K{n:06d}"
        path = choose_path(key)[0]
        glitch = _glitch(key, path, len(path) - 1)
        if len(path) == 4 and glitch is not None and (glitch[0] is Status.ACCEPTED) == (kind == "illegal"):
            return key
    raise AssertionError(f"no {kind} key found")


def test_an_item_misbehaves_on_one_poll_then_tells_the_truth(tmp_path: Path) -> None:
    engine = engine_for(tmp_path / "keys", "housing_fund", tmp_path / "hf.db", step_seconds=STEP)
    keys = {kind: _key(kind) for kind in ("out_of_order", "illegal")}
    app = synthetic_application(random.Random(3), 1)
    fields = {f: app[f] for f in load_catalog().items["14"].fields}
    items = [Item(k, f"BZ{n}", "14", fields) for n, k in enumerate(keys.values())]
    seal, deliveries = seal_items(tmp_path / "keys", "housing_fund", items)
    assert all(i.accepted for i in engine.receive(wire(deliveries), seal))
    time.sleep(STEP * 3.5)  # every item at its last step
    first = {v.idempotency_key: v for v in engine.statuses(keys.values())}
    second = {v.idempotency_key: v for v in engine.statuses(keys.values())}
    assert first[keys["illegal"]].status is Status.ACCEPTED  # "受理" again: an illegal move from the final status,
    assert first[keys["illegal"]].changed_at == second[keys["illegal"]].changed_at  # said at the final one's time
    older = first[keys["out_of_order"]]
    assert older.status is not second[keys["out_of_order"]].status and older.changed_at < second[
        keys["out_of_order"]].changed_at  # an old status with its old time
    assert all(v.status.is_terminal() for v in second.values()), (first, second)  # then the truth, for good
    assert 0 < OUT_OF_ORDER_SHARE + ILLEGAL_SHARE < 10  # a few, not many


def test_a_batch_is_answered_item_by_item_in_its_order_a_key_twice_in_it_kept_once(tmp_path: Path) -> None:
    """One batch, kept in one statement: a fresh item, a bad one beside it, a key repeated within the batch and one
    kept by an earlier batch each get their own verdict, in the batch's order; refs are numbered without gaps."""
    engine = engine_for(tmp_path / "keys", "housing_fund", tmp_path / "hf.db", step_seconds=3600)
    app = synthetic_application(random.Random(5), 1)
    fields = {f: app[f] for f in load_catalog().items["14"].fields}
    seal, first = seal_items(tmp_path / "keys", "housing_fund", [Item("A", "BZ1", "14", fields)])
    assert [(i.code, i.ref) for i in engine.receive(wire(first), seal)] == [("OK", "HOUSING_FUND-00000001")]
    items = [Item("B", "BZ2", "14", fields), Item("C", "BZ3", "14", {**fields, "id_number": ""}),
             Item("A", "BZ1", "14", fields), Item("D", "BZ4", "14", fields), Item("B", "BZ2", "14", fields)]
    seal, deliveries = seal_items(tmp_path / "keys", "housing_fund", items)
    verdicts = engine.receive(wire(deliveries), seal)
    assert [(i.idempotency_key, i.code, i.ref, i.duplicate) for i in verdicts] == [
        ("B", "OK", "HOUSING_FUND-00000002", False), ("C", "INVALID", None, False),
        ("A", "DUP", "HOUSING_FUND-00000001", True), ("D", "OK", "HOUSING_FUND-00000003", False),
        ("B", "DUP", "HOUSING_FUND-00000002", True)]
    assert all(i.status is choose_path(i.idempotency_key)[0][0] for i in verdicts if i.accepted)  # its first step
    assert engine.stats() == {"unique": 3, "duplicates": 2, "rejected": 1, "refused_batches": 0}
    assert [v.idempotency_key for v in engine.statuses(["D", "X", "A", "D"])] == ["D", "A", "D"]  # unknown skipped


def test_a_key_polled_twice_in_one_poll_misbehaves_once(tmp_path: Path) -> None:
    engine = engine_for(tmp_path / "keys", "housing_fund", tmp_path / "hf.db", step_seconds=STEP)
    key = _key("illegal")
    app = synthetic_application(random.Random(4), 1)
    fields = {f: app[f] for f in load_catalog().items["14"].fields}
    seal, deliveries = seal_items(tmp_path / "keys", "housing_fund", [Item(key, "BZ1", "14", fields)])
    assert engine.receive(wire(deliveries), seal)[0].accepted
    time.sleep(STEP * 3.5)
    first, again = engine.statuses([key, key])
    assert first.status is Status.ACCEPTED and again.status.is_terminal()


def test_health_once_announces_item_13_done_itself_after_its_approval(tmp_path: Path) -> None:
    """Health ends item 13 at 审核通过 (HRSS pays and completes it); a quarter of the time it says 已办结 once,
    at its last step, as the seed's reform set out to stop (the hub refuses it), then the truth."""
    from simulators.engine import OVERREACH_SHARE, _roll

    key = next(k for k in (f"H{n:06d}" for n in range(100_000))
               if choose_path(k, completes=False)[0][-1] is Status.APPROVED and _roll(k, "overreach|") < OVERREACH_SHARE
               and _glitch(k, choose_path(k, completes=False)[0], 2) is None)
    engine = engine_for(tmp_path / "keys", "health", tmp_path / "h.db", step_seconds=STEP)
    app = synthetic_application(random.Random(4), 1)
    fields = {f: app[f] for f in load_catalog().items["13"].fields}
    seal, deliveries = seal_items(tmp_path / "keys", "health", [Item(key, "BZ1", "13", fields)])
    assert all(i.accepted for i in engine.receive(wire(deliveries), seal))
    time.sleep(STEP * 3.5)
    said = [engine.statuses([key])[0] for _ in range(4)]
    assert [v.status for v in said] == [Status.COMPLETED, Status.APPROVED, Status.APPROVED, Status.APPROVED]
    assert said[1].result == {"amount": "3000.00"}  # the reward found due travels with the approval


def _supplement_key() -> str:
    return next(k for k in (f"K{n:06d}" for n in range(100_000)) if Status.SUPPLEMENT in choose_path(k)[0])


def test_a_supplement_item_waits_naming_its_materials_until_they_arrive_then_goes_on(tmp_path: Path) -> None:
    engine = engine_for(tmp_path / "keys", "housing_fund", tmp_path / "hf.db", step_seconds=0)
    key, app = _supplement_key(), synthetic_application(random.Random(4), 1)
    item = Item(key, "BZ1", "14", {f: app[f] for f in load_catalog().items["14"].fields})
    seal, deliveries = seal_items(tmp_path / "keys", "housing_fund", [item])
    assert engine.receive(wire(deliveries), seal)[0].accepted

    waiting = engine.statuses([key])[0]
    assert waiting.status is Status.SUPPLEMENT  # the clock is instant (step 0), yet it waits
    assert waiting.materials and set(waiting.materials) <= {m.code for m in load_catalog().materials}
    assert all(name in (waiting.reason or "") for name in material_names(waiting.materials))
    assert engine.awaiting_supplement() == [("BZ1", "14", waiting.materials)]

    supplied = Supplied(key, "S1", "BZ1", "14", waiting.materials)
    first = _supply(engine, tmp_path / "keys", supplied)
    again = _supply(engine, tmp_path / "keys", supplied)

    assert (first.accepted, first.duplicate, again.accepted, again.duplicate) == (True, False, True, True)
    assert engine.statuses([key])[0].status.is_terminal() and engine.awaiting_supplement() == []


def _supply(engine: DepartmentEngine, keys_dir: Path, supplied: Supplied) -> SupplementIntake:
    seal, items = seal_supplements(keys_dir, engine.department, [supplied])
    return engine.supplement(supplement_wire(items), seal)[0]


def test_a_supplement_for_an_item_never_received_or_naming_an_unknown_material_is_refused(tmp_path: Path) -> None:
    engine = engine_for(tmp_path / "keys", "housing_fund", tmp_path / "hf.db", step_seconds=0)
    stranger = _supply(engine, tmp_path / "keys", Supplied("K-none", "S1", "BZ1", "14", ("M01",)))
    assert (stranger.accepted, stranger.code) == (False, "NOCASE")
    key, app = _supplement_key(), synthetic_application(random.Random(4), 1)
    seal, deliveries = seal_items(tmp_path / "keys", "housing_fund",
                                  [Item(key, "BZ1", "14", {f: app[f] for f in load_catalog().items["14"].fields})])
    engine.receive(wire(deliveries), seal)
    unknown = _supply(engine, tmp_path / "keys", Supplied(key, "S2", "BZ1", "14", ("M99",)))
    assert (unknown.accepted, unknown.code) == (False, "INVALID") and "M99" in (unknown.reason or "")
    assert engine.statuses([key])[0].status is Status.SUPPLEMENT  # still waiting for the right materials


def test_an_item_whose_fields_hold_no_id_number_is_taken(tmp_path: Path) -> None:
    """An item configured without the ID number among its fields (another 一件事's, by the catalog alone) was
    answered with a KeyError, a 500 to the hub for the whole batch, every time it was sent again."""
    engine = engine_for(tmp_path / "keys", "housing_fund", tmp_path / "hf.db", step_seconds=3600)
    engine.items["14"] = dataclasses.replace(engine.items["14"], fields=("name", "phone"))
    app = synthetic_application(random.Random(7), 1)
    seal, deliveries = seal_items(tmp_path / "keys", "housing_fund",
                                  [Item("A", "BZ1", "14", {"name": app["name"], "phone": app["phone"]})])
    assert [(i.accepted, i.code) for i in engine.receive(wire(deliveries), seal)] == [(True, "OK")]


def test_a_department_store_is_sized_as_a_servers_not_as_sqlites_defaults(tmp_path: Path) -> None:
    """Random idempotency keys dirty a page of the key index each: with SQLite's 2 MB cache and a checkpoint every
    1,000 pages, each batch's commit copied them back at once (half a department's storing)."""
    engine = engine_for(tmp_path / "keys", "medical", tmp_path / "med.db")
    cache, = engine._db.execute("PRAGMA cache_size").fetchone()
    checkpoint, = engine._db.execute("PRAGMA wal_autocheckpoint").fetchone()
    assert (cache, checkpoint) == (-32768, 10000)


def _in_file(store: Path, copy: Path) -> list[tuple[int]] | None:
    """What the database file itself holds of table t, its log left aside (None: not there yet)."""
    shutil.copyfile(store, copy)
    try:
        with closing(sqlite3.connect(copy)) as db:
            return db.execute("SELECT x FROM t").fetchall()
    except sqlite3.OperationalError:
        return None


def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    """Whether `condition` comes true within `seconds` (looked at twice a checkpoint interval)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(CHECKPOINT_EVERY / 2)
    return True


def test_a_store_is_written_back_in_the_background_and_stops_when_let_go(tmp_path: Path) -> None:
    """The log's checkpoint (two fsyncs) was a quarter of 皖事通办's keeping of a push: a thread does it now,
    while the writer goes on; it ends once the store is let go."""
    db = open_store(tmp_path / "s.db")
    db.executescript("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")

    def written() -> bool:
        return _in_file(tmp_path / "s.db", tmp_path / "copy.db") == [(1,)]

    assert _within(10, written)  # the writer never reached its 10,000 pages
    del db
    gc.collect()
    assert _within(10, lambda: not any(t.name == "checkpoint-s" for t in threading.enumerate()))
