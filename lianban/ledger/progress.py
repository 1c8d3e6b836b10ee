"""Progress as the ledger sees it: what the demo, the CLI and (later) the dashboard show."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from lianban.ledger import health
from lianban.ledger.db import session_factory
from lianban.ledger.models import (
    Case,
    CaseItem,
    Delivery,
    IllegalTransition,
    Incident,
    ParkedStatus,
    Quarantine,
    StageRun,
    StatusEvent,
    Supplement,
)
from lianban.ledger.store import DEAD_STATES, DeliveryState, ParkedState, QuarantineState, status_counts
from lianban.ledger.time_limits import beijing_text, handling_party, items_not_in_catalog, overdue_items


@dataclass(frozen=True)
class Progress:
    cases: int  # staged (not held)
    quarantined: int  # 前置库 rows held back now: waiting for a fix at the source or an operator's decision
    ever_quarantined: int  # 前置库 rows ever held back (each once, however often re-read), whatever became of them
    held_cases: int  # cases held for correction: their items told 补正资料 (lianban.pipeline.notices)
    corrected: int  # held rows corrected at the source and staged since
    case_items: int
    open_items: int
    unreported_events: int
    reported_events: int
    delivered: dict[str, int]
    pending_deliveries: int
    dead_letters: int
    status_counts: dict[str, int]
    parked_events: int  # refused by 皖事通办, set aside with the reason (lianban.pipeline.report)
    parked_status_rows: int  # HRSS status rows that cannot be read (lianban.pipeline.status_log)
    waiting_status_rows: int  # HRSS status rows waiting for their case to be staged
    illegal_transitions: int  # status reports the status machine refused (kept, alerted, not applied)
    overdue_items: int  # not final and past their due date (压时限, lianban.ledger.time_limits)
    open_by_department: dict[str, int]  # items not final yet, by the party they wait on (a held case: the HRSS window)
    #: 补正 submissions by state (lianban.pipeline.supplements): parked and dead ones need a person
    supplements: dict[str, int] = field(default_factory=dict)
    released_by_operator: int = 0  # held rows an operator let go as they were (lianban quarantine release)
    rejected: int = 0  # held applications an operator refused (lianban quarantine reject)
    open_incidents: int = 0  # liaison alerts not cleared yet (lianban alerts list --open)
    failing_checks: list[str] = field(default_factory=list)  # parties whose last connection check failed
    #: the last staging run that read anything: when, its counts, and its validation Data Docs (index.html)
    last_stage_run: dict[str, Any] | None = None
    #: open items whose code the catalog no longer has, by code: no time limit counted (lianban.ledger.time_limits)
    items_not_in_catalog: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """Every chosen item of every valid case is final and reported to 皖事通办."""
        return self.cases > 0 and self.open_items == 0 and self.unreported_events == 0

    def done_but(self, down: tuple[str, ...]) -> bool:
        """:attr:`done`, except for the items of departments `down` (a fault drill: they cannot finish)."""
        others_open = sum(n for d, n in self.open_by_department.items() if d not in down)
        return self.cases > 0 and others_open == 0 and self.unreported_events == 0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "done": self.done}


def _last_stage_run(session: Session) -> dict[str, Any] | None:
    run = session.scalars(select(StageRun).order_by(StageRun.id.desc()).limit(1)).first()
    if run is None:
        return None
    return {"finished_at": beijing_text(run.finished_at), "extracted": run.extracted, "staged": run.staged,
            "skipped_known": run.skipped_known, "quarantined": run.quarantined, "data_docs": run.data_docs}


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.execute(query).scalar_one())


def progress(ledger_url: str, today: date | None = None) -> Progress:
    """Counts over the whole ledger; `overdue_items` as of `today` (default: today in Beijing)."""
    with session_factory(ledger_url)() as s:
        count = lambda q: _count(s, q)  # noqa: E731
        parked = select(func.count()).select_from(ParkedStatus)
        delivered = dict(s.execute(select(Delivery.department, func.count())
                                   .where(Delivery.state == DeliveryState.ACCEPTED)
                                   .group_by(Delivery.department)).all())
        return Progress(
            cases=count(select(func.count()).select_from(Case).where(Case.held.is_(False))),
            quarantined=count(select(func.count(func.distinct(Quarantine.source_seq)))
                              .where(Quarantine.state == QuarantineState.OPEN)),
            ever_quarantined=count(select(func.count(func.distinct(Quarantine.source_seq)))),
            held_cases=count(select(func.count()).select_from(Case).where(Case.held.is_(True))),
            corrected=count(select(func.count()).select_from(Quarantine)
                            .where(Quarantine.state == QuarantineState.RELEASED)),
            case_items=count(select(func.count()).select_from(CaseItem)),
            open_items=count(select(func.count()).select_from(CaseItem).where(CaseItem.final.is_(False))),
            unreported_events=count(select(func.count()).select_from(StatusEvent)
                                    .where(StatusEvent.reported_at.is_(None), StatusEvent.parked_at.is_(None))),
            reported_events=count(select(func.count()).select_from(StatusEvent)
                                  .where(StatusEvent.reported_at.is_not(None))),
            delivered={k: int(v) for k, v in delivered.items()},
            pending_deliveries=count(select(func.count()).select_from(Delivery)
                                     .where(Delivery.state.in_((DeliveryState.PENDING, DeliveryState.RETRY)))),
            dead_letters=count(select(func.count()).select_from(Delivery).where(Delivery.state.in_(DEAD_STATES))),
            status_counts=status_counts(s),
            parked_events=count(select(func.count()).select_from(StatusEvent)
                                .where(StatusEvent.parked_at.is_not(None))),
            parked_status_rows=count(parked.where(ParkedStatus.state == ParkedState.PARKED)),
            waiting_status_rows=count(parked.where(ParkedStatus.state == ParkedState.WAITING)),
            illegal_transitions=count(select(func.count()).select_from(IllegalTransition)),
            overdue_items=overdue_items(s, today),
            open_by_department=_open_by_party(s),
            supplements={str(k): int(v) for k, v in s.execute(select(Supplement.state, func.count())
                                                               .group_by(Supplement.state)).all()},
            released_by_operator=count(select(func.count()).select_from(Quarantine)
                                       .where(Quarantine.state == QuarantineState.OVERRIDDEN)),
            rejected=count(select(func.count()).select_from(Quarantine)
                           .where(Quarantine.state == QuarantineState.REJECTED)),
            open_incidents=count(select(func.count()).select_from(Incident).where(Incident.state == "open")),
            failing_checks=sorted(p for p, check in health.latest(s).items() if not check.ok),
            last_stage_run=_last_stage_run(s),
            items_not_in_catalog=items_not_in_catalog(s),
        )


def _open_by_party(s: Session) -> dict[str, int]:
    party = handling_party()
    return {d: int(n) for d, n in s.execute(select(party, func.count()).join(Case, Case.id == CaseItem.case_id)
                                            .where(CaseItem.final.is_(False)).group_by(party)).all()}


def extracted(ledger_url: str) -> int:
    """前置库 rows the hub has read: staged or held, each once (a row corrected in place is the same row)."""
    with session_factory(ledger_url)() as s:
        seqs = select(Case.source_seq).union(select(Quarantine.source_seq)).subquery()
        return _count(s, select(func.count()).select_from(seqs))


def events_by_status(ledger_url: str) -> dict[str, int]:
    """Every status event reported to 皖事通办, counted by status."""
    with session_factory(ledger_url)() as s:
        rows = s.execute(select(StatusEvent.status, func.count()).where(StatusEvent.reported_at.is_not(None))
                         .group_by(StatusEvent.status)).all()
    return {status: int(n) for status, n in rows}


PARKED_SHOWN = 1000  # the most rows of each kind `parked` lists (the oldest first); the counts are in progress()


def parked(ledger_url: str, limit: int = PARKED_SHOWN) -> dict[str, list[dict[str, Any]]]:
    """What waits on a person, oldest first (runbook: 皖事通办拒收 and 人社状态日志记录被搁置): the status events
    皖事通办 refused (``events``: set aside with its reason until ``lianban run report --retry-parked``) and the
    HRSS status rows not yet placed (``status_rows``: ``parked`` cannot be read, ``waiting`` for its case).
    Texts as the ledger keeps them (masked); times in Beijing time."""
    with session_factory(ledger_url)() as s:
        return {"events": _refused_events(s, limit), "status_rows": _unplaced_rows(s, limit)}


def _refused_events(s: Session, limit: int) -> list[dict[str, Any]]:
    rows = s.execute(select(StatusEvent.id, Case.case_no, CaseItem.item_code, StatusEvent.status,
                            StatusEvent.parked_at, StatusEvent.parked_reason)
                     .join(CaseItem, CaseItem.id == StatusEvent.case_item_id)
                     .join(Case, Case.id == CaseItem.case_id)
                     .where(StatusEvent.parked_at.is_not(None)).order_by(StatusEvent.id).limit(limit)).all()
    return [{"event_id": event_id, "case_no": case_no, "item_code": code, "status": status,
             "parked_at": beijing_text(at) if at else None, "reason": reason}
            for event_id, case_no, code, status, at, reason in rows]


def _unplaced_rows(s: Session, limit: int) -> list[dict[str, Any]]:
    rows = s.scalars(select(ParkedStatus).where(ParkedStatus.state != ParkedState.APPLIED)
                     .order_by(ParkedStatus.source, ParkedStatus.source_seq).limit(limit)).all()
    return [{"source": r.source, "seq": r.source_seq, "case_no": r.case_no, "state": r.state,
             "reasons": json.loads(r.reasons), "read_again": r.raw is not None or r.state == ParkedState.WAITING,
             "since": beijing_text(r.created_at)} for r in rows]
