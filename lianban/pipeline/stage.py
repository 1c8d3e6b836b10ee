"""Extract → read → validate → route → minimise → seal → ledger (outbox), in chunks, exactly once per case.

A chunk is written to the ledger in one transaction before its source rows are flagged, so a crash in
between only re-reads rows whose 办件编号 the ledger already holds (skipped, never doubled). Every row's fate
is one of: staged, skipped (the ledger already holds that very row: a re-read or a duplicate row in the
前置库), or quarantined with its reasons — a row that cannot be read (:mod:`lianban.domain.intake`), an
invalid record (the rules of :mod:`lianban.domain.rules`, run per chunk as one DataFrame by Great
Expectations in :mod:`lianban.pipeline.validate`), another row under an 办件编号 already staged, or a person
who already has an open case. Nothing a row holds stops the run.

An invalid record whose case is not staged also tells the applicant: its case is entered held, every chosen
item 补正资料 with the reasons, and a corrected row under the same 办件编号 resumes it
(:mod:`lianban.pipeline.notices`). Reasons in ``OPERATOR_ONLY`` are not told: a person's second open case
is held for the operator alone, whether the first is in the ledger or earlier in the same chunk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lianban.crypto.hashing import blind_index
from lianban.crypto.vault import seal
from lianban.domain.catalog import Catalog, load_catalog
from lianban.domain.intake import SourceRow, Unreadable, read
from lianban.domain.record import RetirementRecord
from lianban.domain.routing import route
from lianban.domain.rules import Reason
from lianban.keys.names import INDEX, QUERY, VAULT
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, StageRun
from lianban.ledger.store import DeliveryState, utcnow
from lianban.pipeline import notices, quarantine
from lianban.pipeline.validate.chunk import judge
from lianban.pipeline.validate.docs import RunDocs
from lianban.wire.ids import aad, idempotency_key

CHUNK = 500  # rows per ledger transaction
#: rows validated per run of the suite: GX costs about 0.4 s per run whatever its size (measured), so the suite
#: runs over many transactions' rows at once
JUDGE_CHUNK = 10_000
#: reasons the operator decides on before the applicant is told anything (a second application of a person
#: with an open case: a mistake at the window, or a real second case)
OPERATOR_ONLY = frozenset({"DUPLICATE_PERSON"})


class RecordSource(Protocol):
    """Where approved records come from (the HRSS 前置库), as rows to be read."""

    def pull_new(self, limit: int) -> list[SourceRow]: ...

    def mark(self, seqs: Sequence[int], flag: str) -> None: ...


@dataclass
class StageResult:
    """Counts of one run: extracted = staged + skipped_known + quarantined."""

    extracted: int = 0
    quarantined: int = 0
    staged: int = 0
    skipped_known: int = 0
    deliveries: int = 0
    notified: int = 0  # items told 补正资料 because their application was held (lianban.pipeline.notices)
    resumed: int = 0  # held cases corrected at the source and staged (counted in staged too)
    data_docs: str | None = None  # this run's validation Data Docs (index.html), when it validated anything

    def as_dict(self) -> dict[str, int | str | None]:
        return asdict(self)


@dataclass(frozen=True)
class _Keys:
    vault: KeyRing  # seals payloads at rest; re-sealed per batch for the department at delivery
    index_key: bytes
    query: tuple[str, bytes]  # the 查询密码's HMAC key (kid, key)


def _load_keys(keys_dir: Path) -> _Keys:
    return _Keys(load_ring(keys_dir, VAULT), load_ring(keys_dir, INDEX).active_key()[1],
                 load_ring(keys_dir, QUERY).active_key())


def fingerprint(index_key: bytes, record: RetirementRecord) -> str:
    """SM3-HMAC of everything the row said: the same row read twice gives the same fingerprint."""
    said = {**record.fields(), "items": sorted(record.items), "approved_at": record.approved_at}
    return blind_index(index_key, json.dumps(said, sort_keys=True, ensure_ascii=False))


def _new_case(session: Session, record: RetirementRecord, id_index: str, print_: str) -> Case:
    now = utcnow()  # a valid record's 审批时间 parses (intake checked it); now only as a safe fallback
    case = Case(case_no=record.case_no, source_seq=record.source_seq, region_code=record.id_number[:6],
                id_index=id_index, staged_at=now, approved_at=notices.approved_time(record.approved_at) or now,
                fingerprint=print_)
    session.add(case)
    session.flush()
    return case


def _stage_case(session: Session, record: RetirementRecord, catalog: Catalog, keys: _Keys, id_index: str,
                print_: str, held: bool = False) -> int:
    """Enter a valid record's case (or resume its held case, :mod:`lianban.pipeline.notices`) and seal its
    pushed items into the outbox; the number of deliveries."""
    now = utcnow()
    quarantine.release(session, record.case_no)  # fixed at the source and taken: no longer quarantined
    case, items = notices.resume(session, record, id_index, print_, catalog) if held else \
        (_new_case(session, record, id_index, print_), {})
    notices.keep_password(case, record, keys.query)
    deliveries = 0
    for r in route(record, catalog):
        item = items.get(r.item_code) or CaseItem(case_id=case.id, item_code=r.item_code, department=r.department)
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


def _open_case_of(session: Session, id_index: str, case_no: str) -> str | None:
    """Another case of the same person (blind index) that still has an item in progress."""
    in_progress = exists().where(CaseItem.case_id == Case.id, CaseItem.final.is_(False))
    query = select(Case.case_no).where(Case.id_index == id_index, Case.case_no != case_no, Case.held.is_(False),
                                       in_progress)
    return session.scalars(query.limit(1)).first()


@dataclass
class _Chunk:
    """One chunk's transaction: what it knows, and where each row went."""

    session: Session
    catalog: Catalog
    keys: _Keys
    result: StageResult
    known: dict[str, str | None]  # 办件编号 in the ledger → its fingerprint
    held: set[str]  # 办件编号 held for correction (lianban.pipeline.notices): a valid row resumes them
    released: set[tuple[int, str]]  # (row, fingerprint) an operator released as it is (lianban quarantine release)
    taken: list[int] = field(default_factory=list)
    quarantined: list[int] = field(default_factory=list)

    def hold(self, seq: int, case_no: str, reasons: list[Reason], values: Any, print_: str | None = None) -> None:
        quarantine.hold(self.session, seq, case_no, [r.as_dict() for r in reasons], values, print_)
        self.quarantined.append(seq)

    def take(self, row: SourceRow, record: RetirementRecord | Unreadable, reasons: list[Reason]) -> None:
        """Stage, skip or hold one row, as read and judged (`reasons`: the suite's, empty when valid); a row an
        operator released as it is goes despite its reasons."""
        if isinstance(record, Unreadable):
            self.hold(row.seq, record.case_no, record.coded(), record.values)
            return
        print_ = fingerprint(self.keys.index_key, record)
        released = (row.seq, print_) in self.released
        reasons = [] if released else reasons
        if reasons:
            self.hold(row.seq, record.case_no, reasons, record.as_values(), print_)
            told_reasons = [r.message for r in reasons if r.code not in OPERATOR_ONLY]
            if told_reasons and (record.case_no not in self.known or record.case_no in self.held):  # tell them
                told = notices.hold_case(self.session, record, told_reasons, self.catalog,
                                         blind_index(self.keys.index_key, record.id_number), self.keys.query)
                self.result.notified += told
                self.held.update([record.case_no] if told else [])
            return
        self._stage_valid(row.seq, record, print_, released)

    def _stage_valid(self, seq: int, record: RetirementRecord, print_: str, released: bool) -> None:
        if record.case_no in self.known and record.case_no not in self.held:
            if self.known[record.case_no] not in (None, print_):
                changed = Reason("CASE_CHANGED", f"办件编号 {record.case_no} 已入账，本行内容与已入账办件不同：请与"
                                                 f"人社联络员核对（同一办件不会重复推送）")
                self.hold(seq, record.case_no, [changed], record.as_values(), print_)
                return
            self.taken.append(seq)
            self.result.skipped_known += 1  # the same row read again, or a duplicate row in the 前置库
            return
        id_index = blind_index(self.keys.index_key, record.id_number)
        other = None if released else _open_case_of(self.session, id_index, record.case_no)
        if other is not None:
            duplicate = Reason("DUPLICATE_PERSON", f"同一身份证号码已有在办办件 {other}：请核对是否重复申请")
            self.hold(seq, record.case_no, [duplicate], record.as_values(), print_)
            return
        held = record.case_no in self.held
        self.result.deliveries += _stage_case(self.session, record, self.catalog, self.keys, id_index, print_, held)
        self.result.staged += 1
        self.result.resumed += held
        self.held.discard(record.case_no)
        self.known[record.case_no] = print_
        self.taken.append(seq)


def _known(session: Session, records: list[RetirementRecord | Unreadable]) -> tuple[dict[str, str | None], set[str]]:
    """The chunk's 办件编号 already in the ledger (→ fingerprint), and those of them held for correction."""
    case_nos = {r.case_no for r in records if isinstance(r, RetirementRecord)}
    query = select(Case.case_no, Case.fingerprint, Case.held).where(Case.case_no.in_(case_nos))
    rows = session.execute(query).all()
    return {case_no: print_ for case_no, print_, _ in rows}, {case_no for case_no, _, held in rows if held}


def _judged(session: Session, records: list[RetirementRecord | Unreadable], keys: _Keys,
            docs: RunDocs | None) -> list[list[Reason]]:
    """The suite's reasons for each readable record of the chunk (one validation per chunk); [] for the others."""
    readable = [r for r in records if isinstance(r, RetirementRecord)]
    reasons, result = judge(session, readable, keys.index_key)
    if docs is not None and result is not None:
        docs.add(result.gx_result)
    verdicts = iter(reasons)
    return [next(verdicts) if isinstance(r, RetirementRecord) else [] for r in records]


def _stage_chunk(source: RecordSource, sessions: Any, work_for: Any, rows: list[SourceRow],
                 records: list[RetirementRecord | Unreadable], verdicts: list[list[Reason]]) -> int:
    """One chunk in one transaction, then its rows flagged; the number quarantined."""
    with sessions.begin() as session:
        work = work_for(session, records, quarantine.overridden(session, [row.seq for row in rows]))
        for row, record, reasons in zip(rows, records, verdicts, strict=True):
            work.take(row, record, reasons)
    source.mark(work.taken, "taken")
    source.mark(work.quarantined, "quarantined")
    return len(work.quarantined)


def stage(source: RecordSource, ledger_url: str, keys_dir: Path, chunk: int = CHUNK,
          docs_dir: Path | None = None, judge_chunk: int = JUDGE_CHUNK) -> StageResult:
    """Take every new 前置库 row from `source` into the ledger; returns counts only.

    Rows are pulled up to ``max(chunk, judge_chunk)`` at a time, read, and validated in one run of the suite
    (its fixed cost is paid per run, not per transaction), then staged ``chunk`` rows per transaction. With
    `docs_dir`, the run's validation results are rendered there as Data Docs (masked,
    :mod:`lianban.pipeline.validate.docs`)."""
    catalog = load_catalog()
    keys = _load_keys(keys_dir)
    sessions = session_factory(ledger_url)
    result, started = StageResult(), utcnow()
    docs = RunDocs(docs_dir) if docs_dir is not None else None

    def work_for(session: Session, records: list[RetirementRecord | Unreadable], released: Any) -> _Chunk:
        return _Chunk(session, catalog, keys, result, *_known(session, records), released)

    while rows := source.pull_new(max(chunk, judge_chunk)):
        records = [read(row, catalog) for row in rows]  # each row read once
        with sessions() as session:
            verdicts = _judged(session, records, keys, docs)
        for start in range(0, len(rows), chunk):
            part = slice(start, start + chunk)
            result.extracted += len(rows[part])
            result.quarantined += _stage_chunk(source, sessions, work_for, rows[part], records[part],
                                               verdicts[part])
    built = docs.build() if docs is not None else None
    result.data_docs = str(built) if built else None
    if result.extracted:
        with sessions.begin() as session:  # the run, with where its Data Docs are (lianban status shows the last)
            session.add(StageRun(started_at=started, finished_at=utcnow(), extracted=result.extracted,
                                 staged=result.staged, quarantined=result.quarantined, data_docs=result.data_docs))
    return result
