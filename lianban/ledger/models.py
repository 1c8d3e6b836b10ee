"""Ledger tables. Every row a person could be traced by holds sealed or blind-indexed values only."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from lianban.wire.contract import MAX_CODE_LENGTH, MAX_REF_LENGTH
from lianban.wire.sms import MESSAGE_ID_MAX


class Base(DeclarativeBase):
    pass


class Case(Base):
    """办件: one approved retirement application taken from the HRSS 前置库."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), unique=True)  # 办件编号
    source_seq: Mapped[int]
    id_index: Mapped[str] = mapped_column(String(64), index=True)  # SM3-HMAC blind index of 身份证号码
    region_code: Mapped[str] = mapped_column(String(6))
    approved_at: Mapped[datetime]
    staged_at: Mapped[datetime]
    #: SM3-HMAC of what the 前置库 row said: a re-read of the same row is recognised, a different row under the
    #: same 办件编号 is not taken for it
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    #: held for correction (受理前补正): the 前置库 row failed validation, so nothing is delivered; every chosen
    #: item was told 补正资料 with the reasons (lianban.pipeline.notices). A corrected row resumes the case.
    held: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: the 查询密码's slow salted hash (lianban.crypto.passwords), never the password; None: the case cannot be
    #: queried until the window resets it (`lianban case reset-password`)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    items: Mapped[list[CaseItem]] = relationship(back_populates="case")


class CaseItem(Base):
    """One chosen item of one case, with its current unified status."""

    __tablename__ = "case_items"
    __table_args__ = (UniqueConstraint("case_id", "item_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    item_code: Mapped[str] = mapped_column(String(4))
    department: Mapped[str] = mapped_column(String(32))  # no index: see migration 0018
    status: Mapped[str | None] = mapped_column(String(8))
    status_at: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    final: Mapped[bool] = mapped_column(default=False)  # no index: see migration 0015
    #: 补正资料: the materials asked for (JSON list of catalog codes) and the applicant's deadline; None otherwise
    materials: Mapped[str | None] = mapped_column(Text)
    supplement_due: Mapped[date | None]
    case: Mapped[Case] = relationship(back_populates="items")
    #: its delivery to the department that handles it (None for HRSS's own items); read-only, for the read
    #: models (the time-limit clock starts when the department took it, lianban.ledger.time_limits)
    delivery: Mapped[Delivery | None] = relationship(viewonly=True)
    #: the hub's request to the party completing it, when another does (item 13: HRSS asked to pay); read-only,
    #: for the read models (that party's clock starts on the day it was asked, lianban.ledger.time_limits)
    payment: Mapped[PaymentRequest | None] = relationship(viewonly=True)


class Delivery(Base):
    """The outbox: one sealed case item for one department, sent until the department answers."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "department", "state", "next_attempt_at"),
                      Index("ix_deliveries_by_id", "department", "state", "id"))  # a poll's pages, in id order
    id: Mapped[int] = mapped_column(primary_key=True)
    case_item_id: Mapped[int] = mapped_column(ForeignKey("case_items.id"), unique=True)
    department: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(64))  # found by it through DeliveryKey
    key_id: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[str] = mapped_column(Text)  # sealed JSON, see lianban.crypto.vault
    state: Mapped[str] = mapped_column(String(12), default="pending")  # see lianban.ledger.store.DeliveryState
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    receipt_ref: Mapped[str | None] = mapped_column(String(MAX_REF_LENGTH))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class DeliveryKey(Base):
    """A delivery's idempotency key, unique, filled in sorted batches (:mod:`lianban.ledger.delivery_keys`): a
    unique index on the deliveries themselves sent each new row to a random page of it."""

    __tablename__ = "delivery_keys"
    __table_args__ = ({"sqlite_with_rowid": False},)
    idempotency_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: not a foreign key: every row is written from its delivery's (lianban.ledger.delivery_keys), and no
    #: delivery is deleted (a million rows staged with the key checked: 152.1 s, without: 158.6 s, the noise)
    delivery_id: Mapped[int]


class StatusEvent(Base):
    """One status change of one case item; the ordered feed to 皖事通办 (unreported = reported_at null)."""

    __tablename__ = "status_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_item_id: Mapped[int] = mapped_column(ForeignKey("case_items.id"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(32))  # department key that reported it
    department_code: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    reason: Mapped[str | None] = mapped_column(Text)
    materials: Mapped[str | None] = mapped_column(Text)  # 补正资料: JSON list of material codes asked for
    changed_at: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime]
    reported_at: Mapped[datetime | None] = mapped_column(index=True)
    parked_reason: Mapped[str | None] = mapped_column(Text)  # 皖事通办 refused this event: why
    parked_at: Mapped[datetime | None]
    #: the outcome reported with this status (lianban.domain.results), sealed at rest (lianban.ledger.results)
    result: Mapped[str | None] = mapped_column(Text)


class PaymentRequest(Base):
    """A payment the hub asked HRSS to make (item 13: the reward health found due), written once to the HRSS
    前置库; HRSS's payment confirmation in its status log completes the item (lianban.pipeline.rewards)."""

    __tablename__ = "payment_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_item_id: Mapped[int] = mapped_column(ForeignKey("case_items.id"), unique=True)
    request_no: Mapped[str] = mapped_column(String(64), unique=True)  # 请求号, also the 前置库 row's key
    requested_at: Mapped[datetime]


class IllegalTransition(Base):
    """A status report the status machine refused (an 已办结 item "受理" again): kept with the sender's words,
    alerted, never applied. The same report arriving again is kept once."""

    __tablename__ = "illegal_transitions"
    __table_args__ = (UniqueConstraint("case_item_id", "to_status", "changed_at", "source"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_item_id: Mapped[int] = mapped_column(ForeignKey("case_items.id"))
    from_status: Mapped[str | None] = mapped_column(String(8))
    to_status: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(32))
    department_code: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime]


class ParkedStatus(Base):
    """A status-log row the hub could not place: unreadable (an unknown code, a bad time; read again every run
    once a person has fixed the code table), or waiting for its case to be staged (re-tried every run). Never a
    stall of the rows behind it."""

    __tablename__ = "parked_statuses"
    __table_args__ = (UniqueConstraint("source", "source_seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    source_seq: Mapped[int]
    case_no: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12), index=True)  # see lianban.ledger.store.ParkedState
    reasons: Mapped[str] = mapped_column(Text)  # JSON list of Chinese reasons
    change: Mapped[str | None] = mapped_column(Text)  # JSON of the readable change, to apply once placeable
    #: an unreadable row's fields as the 前置库 held them, sealed (vault envelope: they may quote the applicant),
    #: read again by every collection until they read (lianban.pipeline.status_log); None once they did, and
    #: for a row parked before migration 0021 or holding a value JSON cannot keep
    raw: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class Supplement(Base):
    """One 补正 submission recorded at the HRSS window, and what became of it (lianban.pipeline.supplements):
    forwarded to the department that asked (pending → accepted, or retry → dead, or refused), kept for HRSS's
    own items (``own``), waiting for its case or delivery, or parked when unreadable. Never dropped."""

    __tablename__ = "supplements"
    __table_args__ = (UniqueConstraint("source", "source_seq"),
                      Index("ix_supplements_due", "department", "state", "next_attempt_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    source_seq: Mapped[int]
    case_no: Mapped[str] = mapped_column(String(40))
    item_code: Mapped[str | None] = mapped_column(String(4))
    case_item_id: Mapped[int | None] = mapped_column(ForeignKey("case_items.id"))
    department: Mapped[str | None] = mapped_column(String(32))
    supplement_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    materials: Mapped[str] = mapped_column(Text)  # JSON list of material codes supplied
    supplied_at: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12))  # see lianban.ledger.store.SupplementState
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class QueryAttempt(Base):
    """One failed progress query (lianban.ledger.query_attempts), counted per case and per client address;
    `scope` is an SM3-HMAC (blind index) of which, never the address or the password."""

    __tablename__ = "query_attempts"
    __table_args__ = (Index("ix_query_attempts_scope_at", "scope", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class GatewayNonce(Base):
    """A gateway nonce let through (lianban.ledger.nonces): a request signed with it again is a replay."""

    __tablename__ = "gateway_nonces"
    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class Incident(Base):
    """One kind of trouble at one party (lianban.domain.incidents), open from when it is first seen until it is
    no longer seen; its liaison is told once when it opens and once when it clears."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_open", "kind", "party", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    party: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | resolved
    opened_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)  # items concerned at the last check
    peak: Mapped[int] = mapped_column(default=0)  # the most items concerned at any check
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    notified_at: Mapped[datetime | None] = mapped_column(default=None)  # the "opened" alert went out
    resolved_notified_at: Mapped[datetime | None] = mapped_column(default=None)  # the "resolved" one did


class HealthCheck(Base):
    """One scheduled connection check of a party (``lianban connectors check``, step by step), kept with its time:
    the last one says whether the party is reachable now, and why not."""

    __tablename__ = "health_checks"
    __table_args__ = (Index("ix_health_checks_party_at", "party", "checked_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    party: Mapped[str] = mapped_column(String(32))
    checked_at: Mapped[datetime]
    ok: Mapped[bool]
    step: Mapped[str | None] = mapped_column(String(16), default=None)  # the step that failed
    reason: Mapped[str | None] = mapped_column(Text, default=None)  # its sentence (never a secret)


class TaskFailure(Base):
    """An Airflow task that failed (its on_failure_callback), for the hub's duty desk."""

    __tablename__ = "task_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(250))
    task_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    failed_at: Mapped[datetime] = mapped_column(index=True)


class SmsNotice(Base):
    """One SMS notice to one person (到龄提醒, 待遇告知): written before it is sent, once per person (blind index) ×
    kind × period, so reruns and crashes never send it twice (lianban.ledger.sms_notices)."""

    __tablename__ = "sms_notices"
    __table_args__ = (UniqueConstraint("kind", "person_index", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # the SMS template (schemas/sms/templates.yaml)
    person_index: Mapped[str] = mapped_column(String(64))  # SM3-HMAC blind index of the person, never who
    period: Mapped[str] = mapped_column(String(16))  # the retirement month, the pension's start month …
    sealed: Mapped[str] = mapped_column(Text)  # vault envelope of {phone, values}: what it takes to send it again
    state: Mapped[str] = mapped_column(String(12), default="planned", index=True)
    attempts: Mapped[int] = mapped_column(default=0)  # sends of this version (a failed one sent again, bounded)
    sends: Mapped[int] = mapped_column(default=0, server_default="0")  # every send, of every version (operators)
    #: 0 as planned, +1 each time rewritten (another number, other values): part of the send's idempotency key
    version: Mapped[int] = mapped_column(default=0, server_default="0")
    message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_MAX), default=None)  # the gateway's, last send
    reason: Mapped[str | None] = mapped_column(Text, default=None)  # why it failed / was refused (Chinese, no PII)
    not_before: Mapped[datetime]  # quiet hours: not sent before this
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class StageRun(Base):
    """One staging run that read anything: its counts (extracted = staged + skipped_known + quarantined) and where
    its validation Data Docs are (nothing personal: the Data Docs keep no value of the data)."""

    __tablename__ = "stage_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime] = mapped_column(index=True)
    extracted: Mapped[int]
    staged: Mapped[int]
    quarantined: Mapped[int]
    #: rows skipped as known: the same row read again, or a duplicate row in the 前置库 (0 for runs before 0023)
    skipped_known: Mapped[int] = mapped_column(default=0, server_default="0")
    data_docs: Mapped[str | None] = mapped_column(String(500), default=None)  # the run's index.html


class SkippedRow(Base):
    """A 前置库 row taken as a duplicate: its 办件编号 already in the ledger, the same content, under another 序号.
    Nothing is entered for it; it is kept so that the reconciliation (对账) counts every row read."""

    __tablename__ = "skipped_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_seq: Mapped[int] = mapped_column(unique=True)
    case_no: Mapped[str] = mapped_column(String(40))
    read_at: Mapped[datetime] = mapped_column(index=True)


class Quarantine(Base):
    """A record that failed validation: never delivered, never dropped. Values are masked."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_seq: Mapped[int] = mapped_column(index=True)
    case_no: Mapped[str] = mapped_column(String(40))
    reasons: Mapped[str] = mapped_column(Text)  # JSON list of Chinese reasons
    masked: Mapped[str] = mapped_column(Text)  # JSON of masked fields, for the operator
    state: Mapped[str] = mapped_column(String(12), default="open")  # see lianban.ledger.store.QuarantineState
    created_at: Mapped[datetime]
    #: SM3-HMAC of the held row's content (lianban.pipeline.stage.fingerprint); an operator's release applies to
    #: exactly this content, so a row changed since is judged afresh. None for a row that could not be read.
    fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)  # the operator (release / reject)
    decision_note: Mapped[str | None] = mapped_column(Text, default=None)  # why (redacted of ID and phone runs)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class Watermark(Base):
    """How far an incremental pull has read (e.g. the 前置库 status log)."""

    __tablename__ = "watermarks"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int]
    updated_at: Mapped[datetime]


class Evidence(Base):
    """The message log (X-Road style): every message sent or received, chained with a keyed SM3-HMAC.

    ``entry_hash = HMAC-SM3(chain key, prev_hash | canonical fields)``; any edit, deletion or reordering
    breaks the chain, and without the key it cannot be recomputed (see lianban.ledger.evidence). Holds case
    numbers, digests, signatures and key ids — never personal data.
    """

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[str] = mapped_column(String(40), index=True)  # UTC ISO 8601: the archive finds a month by it
    direction: Mapped[str] = mapped_column(String(3))  # out | in
    department: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # submit, receipt, poll, status, push, ack, quarantine-…
    case_nos: Mapped[str] = mapped_column(Text)  # JSON list of 办件编号
    digest: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    chain_kid: Mapped[str | None] = mapped_column(String(64))  # key of the SM3-HMAC chaining this entry


class EvidenceAnchor(Base):
    """The chain's head (one row), MACed with the chain key: truncating the log is detected too."""

    __tablename__ = "evidence_anchor"
    id: Mapped[int] = mapped_column(primary_key=True)
    head_id: Mapped[int]
    head_hash: Mapped[str] = mapped_column(String(64))
    chain_kid: Mapped[str | None] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))
