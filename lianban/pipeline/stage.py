"""Extract → validate → route → minimise → seal → ledger (outbox), in chunks, exactly once per case.

A chunk is written to the ledger in one transaction before its source rows are flagged, so a crash in
between only re-reads rows whose 办件编号 the ledger already holds (skipped, never doubled).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lianban.crypto.hashing import blind_index
from lianban.crypto.vault import seal
from lianban.domain.catalog import Catalog, load_catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.routing import route
from lianban.domain.validation import problems
from lianban.keys.names import INDEX, VAULT
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery
from lianban.ledger.store import DeliveryState, utcnow
from lianban.pipeline import quarantine
from lianban.wire.ids import aad, idempotency_key

CHUNK = 500


class RecordSource(Protocol):
    """Where approved records come from (the HRSS 前置库)."""

    def pull_new(self, limit: int) -> list[RetirementRecord]: ...

    def mark(self, seqs: Sequence[int], flag: str) -> None: ...


@dataclass
class StageResult:
    extracted: int = 0
    quarantined: int = 0
    staged: int = 0
    skipped_known: int = 0
    deliveries: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Keys:
    vault: KeyRing  # seals payloads at rest; re-sealed per batch for the department at delivery
    index_key: bytes


def _load_keys(keys_dir: Path) -> _Keys:
    return _Keys(load_ring(keys_dir, VAULT), load_ring(keys_dir, INDEX).active_key()[1])


def _stage_case(session: Session, record: RetirementRecord, catalog: Catalog, keys: _Keys) -> int:
    now = utcnow()
    quarantine.release(session, record.case_no)  # fixed at the source and taken: no longer quarantined
    case = Case(case_no=record.case_no, source_seq=record.source_seq, region_code=record.id_number[:6],
                id_index=blind_index(keys.index_key, record.id_number), staged_at=now,
                approved_at=_parse_time(record.approved_at))
    session.add(case)
    session.flush()
    deliveries = 0
    for r in route(record, catalog):
        item = CaseItem(case_id=case.id, item_code=r.item_code, department=r.department)
        session.add(item)
        session.flush()
        if r.payload is None:
            continue
        key = idempotency_key(record.case_no, r.item_code, r.department)
        envelope = seal(keys.vault, r.payload, aad(key, record.case_no, r.item_code))
        session.add(Delivery(case_item_id=item.id, department=r.department, idempotency_key=key,
                             key_id=envelope["kid"], envelope=json.dumps(envelope), created_at=now,
                             state=DeliveryState.PENDING, next_attempt_at=now))
        deliveries += 1
    return deliveries


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _stage_chunk(session: Session, records: list[RetirementRecord], catalog: Catalog, keys: _Keys,
                 result: StageResult) -> tuple[list[int], list[int]]:
    known = set(session.scalars(select(Case.case_no).where(Case.case_no.in_([r.case_no for r in records]))))
    taken, quarantined = [], []
    for record in records:
        reasons = problems(record, catalog)
        if reasons:
            quarantine.hold(session, record, reasons)
            quarantined.append(record.source_seq)
            continue
        taken.append(record.source_seq)
        if record.case_no in known:
            result.skipped_known += 1
            continue
        result.deliveries += _stage_case(session, record, catalog, keys)
        result.staged += 1
    return taken, quarantined


def stage(source: RecordSource, ledger_url: str, keys_dir: Path, chunk: int = CHUNK) -> StageResult:
    """Take every new approved record from `source` into the ledger; returns counts only."""
    catalog = load_catalog()
    keys = _load_keys(keys_dir)
    sessions = session_factory(ledger_url)
    result = StageResult()
    while records := source.pull_new(chunk):
        result.extracted += len(records)
        with sessions.begin() as session:
            taken, quarantined = _stage_chunk(session, records, catalog, keys, result)
        source.mark(taken, "taken")
        source.mark(quarantined, "quarantined")
        result.quarantined += len(quarantined)
    return result
