"""A simulated 皖事通办 亳州分平台 progress receiver (办件进度归集), behind the same signed gateway.

Routes::

    POST /api/v1/banjian/progress   {"events": [{event_id, projid, item_code, dept, status_code, status_name,
                                     reason, changed_at}]} → {"accepted": n, "duplicates": n}
    GET  /api/v1/banjian/{projid}   the applicant's progress view: every item with status, reason and time
    GET  /health                    liveness, unsigned
    GET  /_sim/stats                {"events", "duplicates", "cases", "items", "items_by_status"}, unsigned

Events are deduplicated by ``event_id`` and all kept in SQLite; the latest status per (projid, item_code) is
the one with the largest ``event_id``, so a late, older event never overwrites a newer status.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from lianban.wire.gateway import GatewayVerifier
from simulators.rest_department import GATEWAY_RESPONSES, ApiError, install_gateway

MAX_EVENTS_PER_PUSH = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  event_id INTEGER PRIMARY KEY, projid TEXT NOT NULL, item_code TEXT NOT NULL, dept TEXT NOT NULL,
  status_code TEXT NOT NULL, status_name TEXT NOT NULL, reason TEXT, changed_at TEXT NOT NULL,
  received_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  projid TEXT NOT NULL, item_code TEXT NOT NULL, event_id INTEGER NOT NULL, dept TEXT NOT NULL,
  status_code TEXT NOT NULL, status_name TEXT NOT NULL, reason TEXT, changed_at TEXT NOT NULL,
  PRIMARY KEY (projid, item_code));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_UPSERT = """
INSERT INTO items VALUES (:projid, :item_code, :event_id, :dept, :status_code, :status_name, :reason,
                          :changed_at)
ON CONFLICT (projid, item_code) DO UPDATE SET
  event_id = excluded.event_id, dept = excluded.dept, status_code = excluded.status_code,
  status_name = excluded.status_name, reason = excluded.reason, changed_at = excluded.changed_at
WHERE excluded.event_id > items.event_id
"""


class EventIn(BaseModel):
    event_id: int = Field(ge=1)
    projid: str = Field(min_length=1, max_length=64)  # 办件编号
    item_code: str = Field(min_length=1, max_length=64)  # 皖事通办 事项编码
    dept: str = Field(min_length=1, max_length=64)
    status_code: str = Field(min_length=1, max_length=8)
    status_name: str = Field(min_length=1, max_length=16)
    reason: str | None = Field(None, max_length=500)
    changed_at: str = Field(min_length=1, max_length=40)


class ProgressIn(BaseModel):
    events: list[EventIn] = Field(max_length=MAX_EVENTS_PER_PUSH)


class ProgressOut(BaseModel):
    accepted: int
    duplicates: int


class ItemView(BaseModel):
    item_code: str
    dept: str
    status_code: str
    status_name: str
    reason: str | None
    changed_at: str


class BanjianView(BaseModel):
    projid: str
    items: list[ItemView]


class ProgressStore:
    """Every event received, and the latest status per case item. Thread-safe; state lives in `db_path`."""

    def __init__(self, db_path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def record(self, events: list[EventIn]) -> ProgressOut:
        accepted = 0
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for e in events:
                    accepted += self._record_one(e.model_dump())
                self._bump("duplicates", len(events) - accepted)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return ProgressOut(accepted=accepted, duplicates=len(events) - accepted)

    def _record_one(self, e: dict[str, Any]) -> int:
        cur = self._db.execute(
            "INSERT OR IGNORE INTO events VALUES (:event_id, :projid, :item_code, :dept, :status_code, "
            ":status_name, :reason, :changed_at, :received_at)", {**e, "received_at": time.time()})
        if cur.rowcount == 0:
            return 0
        self._db.execute(_UPSERT, e)
        return 1

    def _bump(self, name: str, by: int) -> None:
        self._db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
                         (name, by, by))

    def view(self, projid: str) -> list[ItemView]:
        with self._lock:
            rows = self._db.execute(
                "SELECT item_code, dept, status_code, status_name, reason, changed_at FROM items "
                "WHERE projid = ? ORDER BY item_code", (projid,)).fetchall()
        names = ("item_code", "dept", "status_code", "status_name", "reason", "changed_at")
        return [ItemView(**dict(zip(names, row, strict=True))) for row in rows]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            one = self._db.execute
            by_status = dict(one("SELECT status_name, COUNT(*) FROM items GROUP BY status_name").fetchall())
            return {
                "events": one("SELECT COUNT(*) FROM events").fetchone()[0],
                "duplicates": (one("SELECT value FROM counters WHERE name = 'duplicates'").fetchone() or [0])[0],
                "cases": one("SELECT COUNT(DISTINCT projid) FROM items").fetchone()[0],
                "items": one("SELECT COUNT(*) FROM items").fetchone()[0],
                "items_by_status": by_status,
            }


def create_app(db_path: Path, app_id: str, secret: str) -> FastAPI:
    """The 皖事通办 亳州分平台 receiver, keeping its state in SQLite at `db_path`."""
    store = ProgressStore(db_path)
    app = FastAPI(title="皖事通办亳州分平台 办件进度归集接口（模拟）", version="1.0.0")
    install_gateway(app, GatewayVerifier({app_id: secret}))

    @app.post("/api/v1/banjian/progress", response_model=ProgressOut, responses=GATEWAY_RESPONSES)
    def push_progress(body: ProgressIn) -> ProgressOut:
        """归集办件事项状态变更；按 event_id 去重，较旧的事件不覆盖较新的状态。"""
        return store.record(body.events)

    @app.get("/api/v1/banjian/{projid}", response_model=BanjianView,
             responses={**GATEWAY_RESPONSES, 404: {"model": ApiError, "description": "未找到办件"}})
    def progress_view(projid: str) -> BanjianView | JSONResponse:
        """申请人查询办件进度：每个事项的状态、原因与时间。"""
        items = store.view(projid)
        if not items:
            return JSONResponse({"code": "NOT_FOUND", "message": "未找到该办件的进度信息，请核对办件编号"},
                                status_code=404)
        return BanjianView(projid=projid, items=items)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "platform": "wanshi_tong"}

    @app.get("/_sim/stats")
    def stats() -> dict[str, Any]:
        return store.stats()

    return app
