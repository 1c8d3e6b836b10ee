"""lianban's progress events and case records in 皖事通办's field names (``schemas/wanshi_tong/openapi.yaml``).

One push body::

    {"events": [BanjianEvent, ...],   one per status change, in event order
     "cases":  [BanjianCase, ...]}    one per case the push changes: the record carried by its last event

Codes come from :mod:`connectors.wanshi_tong.codes`; the field names are the published document's, here and
nowhere else. Every time goes out in Beijing time with its offset, to the second (``2025-03-03T09:00:00+08:00``);
a time without an offset is a party's Beijing time (:mod:`lianban.domain.clock`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, cast

import msgspec

from connectors.wanshi_tong.codes import CodeTables, DoneResult, code
from lianban.domain.clock import in_beijing
from lianban.wire.contract import CaseRecord, ProgressEvent

__all__ = ["beijing_time", "case_body", "event_bodies", "event_body", "push_body", "push_wire"]


@lru_cache(maxsize=8192)
def beijing_time(text: str) -> str:
    """`text` in Beijing time to the second (:func:`lianban.domain.clock.in_beijing`); unreadable text is sent as
    it is, for the platform to refuse and the report step to park with its reason. Remembered: a push repeats a
    case's 受理时间 for each of its events, and a day's log repeats its seconds."""
    return in_beijing(text)


def event_body(e: ProgressEvent, codes: CodeTables) -> dict[str, Any]:
    """One status change (办件过程信息): BanjianEvent."""
    return event_bodies([e], codes)[0]


def event_bodies(events: Sequence[ProgressEvent], codes: CodeTables) -> list[dict[str, Any]]:
    """Each event's BanjianEvent, in order (as plain dicts)."""
    return cast(list[dict[str, Any]], msgspec.to_builtins(_events(events, codes)))


class _Material(msgspec.Struct):
    CLMC: str  # 材料名称


class _Event(msgspec.Struct):
    """BanjianEvent as msgspec writes it: the same JSON as its dict, made and written in half the time (a push
    of 2,500 events makes one per event)."""

    EVENT_ID: int
    PROJID: str
    SERVICECODE: str
    REGION_ID: str
    INFOTYPE: str
    DEPTNAME: str
    STATUS_CODE: str
    STATUS_NAME: str
    NODENAME: str
    NODERESULT: str
    NODETIME: str
    NODEREASON: str | None
    BZCLQD: list[_Material]
    PROMISE_DATE: str | None
    RESULT: str | None
    DATAVER: int


class _Push(msgspec.Struct):
    events: list[_Event]
    cases: list[dict[str, Any]]


def _events(events: Sequence[ProgressEvent], codes: CodeTables) -> list[_Event]:
    """Each event's BanjianEvent, in order; the codes of the statuses, items, departments and regions among
    them looked up once each (per event, the lookups were a third of building a push)."""
    statuses = {s: (code(codes.statuses, s), s.value, code(codes.nodes, s)) for s in {e.status for e in events}}
    items = {c: code(codes.items, c) for c in {e.item_code for e in events}}
    departments = {d: code(codes.departments, d) for d in {e.department for e in events}}
    regions = {r: codes.region(r) for r in {e.case.region_code if e.case else "" for e in events}}
    made = []
    for e in events:
        status_code, status_name, node = statuses[e.status]
        made.append(_Event(
            e.event_id, e.case_no, items[e.item_code], regions[e.case.region_code if e.case else ""], codes.infotype,
            departments[e.department], status_code, status_name, node.name, node.result, beijing_time(e.changed_at),
            e.reason, [_Material(name) for name in e.materials] if e.materials else [], e.due_date, e.result,
            e.dataver))
    return made


def _done_reason(c: CaseRecord, done: DoneResult, codes: CodeTables) -> str | None:
    return done.reason or (codes.partly_done_reason if c.refused_items else None)


def case_body(c: CaseRecord, codes: CodeTables) -> dict[str, Any]:
    """One case (办件信息) as of a change: BanjianCase; DONERESULT once every item is final."""
    done = code(codes.done_results, c.status) if c.done_at else None
    return {
        "PROJID": c.case_no, "REGION_ID": codes.region(c.region_code), "INFOTYPE": codes.infotype,
        "STATUS_CODE": code(codes.statuses, c.status), "STATUS_NAME": c.status.value,
        "RECEIVETIME": beijing_time(c.accepted_at), "PROMISEVALUE": c.time_limit_days,
        "PROMISETYPE": codes.promise_unit,
        "TRANSACT_TIME": beijing_time(c.done_at) if c.done_at else None, "DONERESULT": done.code if done else None,
        "DONEREASON": _done_reason(c, done, codes) if done else None, "DATAVER": c.dataver,
    }


def push_body(events: Sequence[ProgressEvent], codes: CodeTables) -> dict[str, Any]:
    """The events in order, and for each case among them the record carried by its last event (as plain
    dicts)."""
    return cast(dict[str, Any], msgspec.to_builtins(push_wire(events, codes)))


def push_wire(events: Sequence[ProgressEvent], codes: CodeTables) -> msgspec.Struct:
    """:func:`push_body` as msgspec writes it: the JSON pushed (``msgspec.json.encode``)."""
    latest = {e.case_no: e.case for e in events if e.case is not None}
    return _Push(_events(events, codes), [case_body(c, codes) for c in latest.values()])
