"""A simulated 皖事通办 亳州分平台 progress receiver (办件进度归集), behind the same signed gateway.

Routes (published in ``schemas/wanshi_tong/openapi.yaml``, also served as ``/openapi.json``)::

    POST /api/v1/banjian/progress   {"events": [BanjianEvent], "cases": [BanjianCase]}
                                    → {"accepted": n, "duplicates": n}
    GET  /api/v1/banjian/{projid}   the applicant's progress view: the case record and every item with its
                                    status, reason, materials, due date, result summary and version
    GET  /health                    liveness, unsigned
    GET  /_sim/stats                {"events", "duplicates", "cases", "items", "items_by_status", "case_records",
                                     "cases_done", "refused", "out_of_order"}, unsigned

Every pushed body is checked against the *published document* (:mod:`simulators.wanshi_tong_interface`), not
only parsed: one that does not conform is refused whole with 400 ``{"code": "SCHEMA", "message"}`` naming the
fields in Chinese, and counted in ``refused``. Events are deduplicated by ``EVENT_ID``; per case item the
platform keeps the event with the highest ``DATAVER`` (then ``EVENT_ID``), per case the record with the highest
``DATAVER``, so a late, older version never overwrites a newer one. ``out_of_order`` counts new events whose
``DATAVER`` is not above every version already received for their case. State lives in SQLite.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lianban.wire.gateway import GatewayVerifier
from simulators.engine import open_store
from simulators.rest_department import install_gateway
from simulators.wanshi_tong_interface import load_interface

PROGRESS = "/api/v1/banjian/progress"
VIEW_FIELDS = ("SERVICECODE", "DEPTNAME", "STATUS_CODE", "STATUS_NAME", "NODENAME", "NODERESULT", "NODETIME",
               "NODEREASON", "BZCLQD", "PROMISE_DATE", "RESULT", "DATAVER")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  event_id INTEGER PRIMARY KEY, projid TEXT NOT NULL, item_code TEXT NOT NULL, status_code TEXT NOT NULL,
  status_name TEXT NOT NULL, dataver INTEGER NOT NULL, body TEXT NOT NULL, received_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_case ON events (projid, dataver);
CREATE TABLE IF NOT EXISTS items (
  projid TEXT NOT NULL, item_code TEXT NOT NULL, event_id INTEGER NOT NULL, dataver INTEGER NOT NULL,
  status_code TEXT NOT NULL, status_name TEXT NOT NULL, PRIMARY KEY (projid, item_code));
CREATE TABLE IF NOT EXISTS cases (
  projid TEXT PRIMARY KEY, dataver INTEGER NOT NULL, doneresult TEXT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # as _Fresh.events holds them
_UPSERT_ITEM = """
INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (projid, item_code) DO UPDATE SET
  event_id = excluded.event_id, dataver = excluded.dataver, status_code = excluded.status_code,
  status_name = excluded.status_name
WHERE (excluded.dataver, excluded.event_id) > (items.dataver, items.event_id)
"""
_UPSERT_CASE = """
INSERT INTO cases VALUES (:PROJID, :DATAVER, :DONERESULT, :body)
ON CONFLICT (projid) DO UPDATE SET dataver = excluded.dataver, doneresult = excluded.doneresult, body = excluded.body
WHERE excluded.dataver > cases.dataver
"""


class _Bodies(msgspec.Struct):
    """A push's events and case records as the bytes they arrived as (each kept as received: encoding 1,000
    of them again was a sixth of keeping a push)."""

    events: list[msgspec.Raw]
    cases: list[msgspec.Raw]


_BODIES = msgspec.json.Decoder(_Bodies)


def _texts(raw: list[msgspec.Raw]) -> list[str]:
    return [bytes(one).decode() for one in raw]


@dataclass
class _Fresh:
    """A push's new events as rows of ``events``, and for each item they touch the newest of them as its row of
    ``items`` (the upsert keeps the newest anyway: one per item, not one per event, is a fifth of a push)."""

    events: list[tuple[Any, ...]]
    items: dict[tuple[str, str], tuple[Any, ...]]

    def add(self, e: dict[str, Any], body: str, now: float) -> None:
        key, version = (e["PROJID"], e["SERVICECODE"]), (e["DATAVER"], e["EVENT_ID"])
        self.events.append((e["EVENT_ID"], *key, e["STATUS_CODE"], e["STATUS_NAME"], e["DATAVER"], body, now))
        held = self.items.get(key)
        if held is None or version > (held[3], held[2]):
            self.items[key] = (*key, e["EVENT_ID"], e["DATAVER"], e["STATUS_CODE"], e["STATUS_NAME"])


class ProgressStore:
    """Every event received, the newest version per case item and per case. Thread-safe; state in `db_path`."""

    def __init__(self, db_path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_store(db_path)  # as the departments' stores: written back in the background
        self._db.executescript(_SCHEMA)
        if "body" in {row[1] for row in self._db.execute("PRAGMA table_info(items)")}:
            self._db.execute("ALTER TABLE items DROP COLUMN body")  # a store kept before items pointed at events

    def record(self, events: list[dict[str, Any]], cases: list[dict[str, Any]], raw: bytes) -> dict[str, int]:
        """Keep a conforming push (`raw`: its body as received, read as `events` and `cases`) in one
        transaction; the counts of new and already-seen events."""
        bodies = _BODIES.decode(raw)
        with self._lock:
            self._db.execute("BEGIN")
            try:
                fresh = self._fresh(events, _texts(bodies.events))
                self._db.executemany(_INSERT_EVENT, fresh.events)
                self._db.executemany(_UPSERT_ITEM, fresh.items.values())
                self._db.executemany(_UPSERT_CASE, [{**case, "body": body}
                                                    for case, body in zip(cases, _texts(bodies.cases), strict=True)])
                self._bump("duplicates", len(events) - len(fresh.events))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return {"accepted": len(fresh.events), "duplicates": len(events) - len(fresh.events)}

    def _fresh(self, events: list[dict[str, Any]], bodies: list[str]) -> _Fresh:
        """What to keep: each event whose EVENT_ID is new (to the store and within the push), in push order;
        one arriving with a DATAVER no higher than its case's newest is counted out of order."""
        ids = {e["EVENT_ID"] for e in events}
        marks = ",".join("?" * len(ids))
        seen = {row[0] for row in self._db.execute(f"SELECT event_id FROM events WHERE event_id IN ({marks})",
                                                   list(ids))} if ids else set()
        newest, now, fresh = self._newest({e["PROJID"] for e in events}), time.time(), _Fresh([], {})
        for e, body in zip(events, bodies, strict=True):
            if e["EVENT_ID"] in seen:
                continue
            seen.add(e["EVENT_ID"])
            before = newest.get(e["PROJID"])
            if before is not None and e["DATAVER"] <= before:
                self._bump("out_of_order", 1)
            newest[e["PROJID"]] = e["DATAVER"] if before is None else max(before, e["DATAVER"])
            fresh.add(e, body, now)
        return fresh

    def _newest(self, projids: set[str]) -> dict[str, int]:
        """The highest DATAVER received so far for each of `projids` (one query)."""
        if not projids:
            return {}
        marks = ",".join("?" * len(projids))
        query = f"SELECT projid, MAX(dataver) FROM events WHERE projid IN ({marks}) GROUP BY projid"
        return dict(self._db.execute(query, list(projids)).fetchall())

    def refused(self) -> None:
        """Count a push refused for not conforming to the published document."""
        with self._lock:
            self._bump("refused", 1)

    def _bump(self, name: str, by: int) -> None:
        self._db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
                         (name, by, by))

    def view(self, projid: str) -> dict[str, Any] | None:
        """The applicant's view of one case (BanjianView); None when the platform knows nothing of it."""
        with self._lock:
            items = self._db.execute("SELECT e.body FROM items i JOIN events e ON e.event_id = i.event_id "
                                     "WHERE i.projid = ? ORDER BY i.item_code", (projid,))
            bodies = [json.loads(row[0]) for row in items.fetchall()]
            case = self._db.execute("SELECT body FROM cases WHERE projid = ?", (projid,)).fetchone()
        if not bodies and case is None:
            return None
        return {"PROJID": projid, "CASE": json.loads(case[0]) if case else None,
                "ITEMS": [{k: b[k] for k in VIEW_FIELDS} for b in bodies]}

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            one = self._db.execute
            return {
                "events": one("SELECT COUNT(*) FROM events").fetchone()[0],
                "duplicates": self._counter("duplicates"),
                "cases": one("SELECT COUNT(DISTINCT projid) FROM items").fetchone()[0],
                "items": one("SELECT COUNT(*) FROM items").fetchone()[0],
                "items_by_status": dict(one("SELECT status_name, COUNT(*) FROM items GROUP BY status_name")),
                "case_records": one("SELECT COUNT(*) FROM cases").fetchone()[0],
                "cases_done": one("SELECT COUNT(*) FROM cases WHERE doneresult IS NOT NULL").fetchone()[0],
                "refused": self._counter("refused"),
                "out_of_order": self._counter("out_of_order"),
            }


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def create_app(db_path: Path, app_id: str, secret: str) -> FastAPI:
    """The 皖事通办 亳州分平台 receiver, keeping its state in SQLite at `db_path`."""
    store, interface = ProgressStore(db_path), load_interface()
    app = FastAPI(title="皖事通办亳州分平台 办件进度归集接口（模拟）", version="2.0.0")
    app.openapi_schema = interface.document  # the published document is the API description it serves
    install_gateway(app, GatewayVerifier({app_id: secret}))

    @app.post(PROGRESS)
    async def push_progress(request: Request) -> JSONResponse:
        """归集办件过程信息与办件信息；先按已发布的接口文档校验，按 EVENT_ID 去重，较旧版本不覆盖较新版本。"""
        raw = await request.body()
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return _error(400, "BAD_JSON", "请求体不是合法的 JSON")
        problems = interface.problems(body)
        if problems:
            await run_in_threadpool(store.refused)
            return _error(400, "SCHEMA", interface.refusal(problems))
        return JSONResponse(await run_in_threadpool(store.record, body["events"], body["cases"], raw))

    @app.get("/api/v1/banjian/{projid}")
    def progress_view(projid: str) -> JSONResponse:
        """申请人查询办件进度：办件信息，以及每个事项的状态、原因、补正材料、承诺办结日期与办理结果。"""
        view = store.view(projid)
        if view is None:
            return _error(404, "NOT_FOUND", "未找到该办件的进度信息，请核对办件编号")
        return JSONResponse(view)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "platform": "wanshi_tong"}

    @app.get("/_sim/stats")
    def stats() -> dict[str, Any]:
        return store.stats()

    return app
