"""lianban's progress events and case records in 皖事通办's field names (``schemas/wanshi_tong/openapi.yaml``).

One push body::

    {"events": [BanjianEvent, ...],   one per status change, in event order
     "cases":  [BanjianCase, ...]}    one per case the push changes: the record carried by its last event

Codes come from :mod:`connectors.wanshi_tong.codes`; the field names are the published document's, here and
nowhere else. Every time goes out in Beijing time with its offset, to the second (``2025-03-03T09:00:00+08:00``);
a time without an offset is UTC, as the ledger keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from connectors.wanshi_tong.codes import CodeTables, DoneResult, code
from lianban.wire.contract import CaseRecord, ProgressEvent

__all__ = ["beijing_time", "case_body", "event_bodies", "event_body", "push_body"]

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


@lru_cache(maxsize=8192)
def beijing_time(text: str) -> str:
    """`text` (ISO-8601; no offset means UTC) in Beijing time to the second; unreadable text is sent as it is,
    for the platform to refuse and the report step to park with its reason. Remembered: a push repeats a
    case's 受理时间 for each of its events, and a day's log repeats its seconds."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).isoformat(timespec="seconds")


def event_body(e: ProgressEvent, codes: CodeTables) -> dict[str, Any]:
    """One status change (办件过程信息): BanjianEvent."""
    return event_bodies([e], codes)[0]


def event_bodies(events: Sequence[ProgressEvent], codes: CodeTables) -> list[dict[str, Any]]:
    """Each event's BanjianEvent, in order; the codes of the statuses, items, departments and regions among
    them looked up once each (per event, the lookups were a third of building a push)."""
    statuses = {s: (code(codes.statuses, s), s.value, code(codes.nodes, s)) for s in {e.status for e in events}}
    items = {c: code(codes.items, c) for c in {e.item_code for e in events}}
    departments = {d: code(codes.departments, d) for d in {e.department for e in events}}
    regions = {r: codes.region(r) for r in {e.case.region_code if e.case else "" for e in events}}
    bodies = []
    for e in events:
        status_code, status_name, node = statuses[e.status]
        bodies.append({
            "EVENT_ID": e.event_id, "PROJID": e.case_no, "SERVICECODE": items[e.item_code],
            "REGION_ID": regions[e.case.region_code if e.case else ""], "INFOTYPE": codes.infotype,
            "DEPTNAME": departments[e.department], "STATUS_CODE": status_code, "STATUS_NAME": status_name,
            "NODENAME": node.name, "NODERESULT": node.result, "NODETIME": beijing_time(e.changed_at),
            "NODEREASON": e.reason,
            "BZCLQD": [{"CLMC": name} for name in e.materials], "PROMISE_DATE": e.due_date, "RESULT": e.result,
            "DATAVER": e.dataver,
        })
    return bodies


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
    """The events in order, and for each case among them the record carried by its last event."""
    latest = {e.case_no: e.case for e in events if e.case is not None}
    return {"events": event_bodies(events, codes), "cases": [case_body(c, codes) for c in latest.values()]}
