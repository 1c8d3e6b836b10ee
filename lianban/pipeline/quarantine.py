"""Quarantine (隔离区): records that failed validation are held with their reasons, never delivered, never
dropped; the operator sees them masked, and a record fixed at the source is released when it is staged.

An operator may also decide, with a required note (``lianban quarantine release|reject``): *release* lets the
held row go as it is — its exact content, by fingerprint — the next time it is staged (a row changed since is
judged afresh); *reject* refuses the application: every open item of its held case is told 不予受理 with the
note (:func:`lianban.pipeline.notices.refuse`). Each decision is recorded on the row (who, when, why) and in the
evidence log (party ``operator``); a row is decided once.

Held rows keep only masked values: personal fields (:data:`lianban.domain.record.PERSONAL_FIELDS`) by their
masks, and ID- or mobile-number-shaped runs in any other text too; the ledger never holds a plaintext name,
ID number or phone.

Reasons are stored as a JSON list of ``{"code", "message"}`` (codes from :mod:`lianban.domain.rules` and
:mod:`lianban.domain.intake`); rows written before codes existed hold plain strings and are listed with the
code ``LEGACY``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from lianban.domain.identity import code_shown, mask_id, mask_name, mask_phone, redact_text
from lianban.domain.record import PERSONAL_FIELDS
from lianban.errors import ConfigError
from lianban.ledger.db import session_factory, write_lock
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.models import Quarantine
from lianban.ledger.store import QuarantineState, utcnow
from lianban.ledger.time_limits import beijing_text

#: how each personal field is shown to an operator
MASKS: dict[str, Callable[[str], str]] = {"name": mask_name, "id_number": mask_id, "phone": mask_phone}
assert set(MASKS) == PERSONAL_FIELDS, "every personal field needs a mask"
SHOWN_MAX = 200  # characters of any one value an operator is shown
LEGACY = "LEGACY"  # the code of a reason stored as plain text, before reasons had codes


def _shown(key: str, value: Any) -> str:
    """One value as an operator may see it: a personal field masked, any other text with every ID- or
    mobile-number-shaped run masked (a phone typed into the employer name), at most SHOWN_MAX characters."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else "" if value is None else str(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return (MASKS[key](text) if key in MASKS else redact_text(text))[:SHOWN_MAX]  # masked whole, then cut


def masked(values: Mapping[str, Any]) -> dict[str, Any]:
    """A record's (or an unreadable row's) values as an operator may see them."""
    shown: dict[str, Any] = {key: _shown(key, values.get(key)) for key in (*sorted(PERSONAL_FIELDS), "employer_name")}
    shown["case_no"] = code_shown(_shown("case_no", values.get("case_no")))  # a name typed there is not shown
    items = values.get("items")
    codes = items if isinstance(items, tuple | list) else _shown("items", items).split(",")
    shown["items"] = [_shown("items", code_shown(str(code))) for code in codes]  # a phone or name typed there too
    return shown


def coded(reason: Any) -> dict[str, str]:
    """One stored reason as ``{"code", "message"}`` (a plain string is a ``LEGACY`` reason), every ID- or
    mobile-number-shaped run in its message masked."""
    if isinstance(reason, Mapping):
        return {"code": str(reason.get("code") or LEGACY), "message": redact_text(str(reason.get("message", "")))}
    return {"code": LEGACY, "message": redact_text(str(reason))}


def hold(session: Session, seq: int, case_no: str, reasons: Sequence[Mapping[str, str]], values: Mapping[str, Any],
         print_: str | None = None) -> None:
    """Hold 前置库 row `seq` with its reasons (each ``{"code", "message"}``; and `print_`, the fingerprint of what
    it said, when it could be read), once: a re-read after a crash (or of a row fixed at the source but still
    wrong) updates the open hold with the latest reasons."""
    known = select(Quarantine).where(Quarantine.source_seq == seq, Quarantine.state == QuarantineState.OPEN)
    row = hold_row(seq, case_no, reasons, values, print_)
    existing = session.scalars(known).first()
    if existing is not None:
        existing.case_no, existing.reasons, existing.masked, existing.fingerprint = (
            case_no, row["reasons"], row["masked"], print_)
        return
    session.add(Quarantine(**row))


def hold_row(seq: int, case_no: str, reasons: Sequence[Mapping[str, str]], values: Mapping[str, Any],
             print_: str | None = None) -> dict[str, Any]:
    """The new open hold of row `seq` (column values, as :func:`hold` adds it), for :func:`write_holds`."""
    return {"source_seq": seq, "case_no": case_no, "state": QuarantineState.OPEN,
            "reasons": json.dumps([coded(r) for r in reasons], ensure_ascii=False),
            "masked": json.dumps(masked(values), ensure_ascii=False), "created_at": utcnow(), "fingerprint": print_}


def write_holds(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """New holds (:func:`hold_row`, of rows without an open hold) inserted in one statement."""
    if rows:
        session.execute(insert(cast(Table, Quarantine.__table__)), list(rows))


def open_holds(session: Session, seqs: Sequence[int]) -> set[int]:
    """The rows among `seqs` with an open hold (a re-read: :func:`hold` updates it)."""
    query = select(Quarantine.source_seq).where(Quarantine.source_seq.in_(list(seqs)),
                                                Quarantine.state == QuarantineState.OPEN)
    return set(session.scalars(query))


def overridden(session: Session, seqs: Sequence[int]) -> set[tuple[int, str]]:
    """(前置库 row, fingerprint) pairs among rows `seqs` an operator released as they are: a row goes despite its
    reasons only while it says exactly what it said when released."""
    query = select(Quarantine.source_seq, Quarantine.fingerprint).where(
        Quarantine.source_seq.in_(list(seqs)), Quarantine.state == QuarantineState.OVERRIDDEN)
    return {(seq, print_) for seq, print_ in session.execute(query) if print_}


def release(session: Session, case_no: str) -> None:
    """The case was fixed at the source and staged: its open quarantine rows are released."""
    session.execute(update(Quarantine).where(Quarantine.case_no == case_no, Quarantine.state == QuarantineState.OPEN)
                    .values(state=QuarantineState.RELEASED))


def release_row(session: Session, seq: int) -> None:
    """前置库 row `seq`, corrected at the source, was taken: its open hold is released, under whatever 办件编号 it
    was held (one that could not be read, or a row put back as its case was staged)."""
    session.execute(update(Quarantine).where(Quarantine.source_seq == seq, Quarantine.state == QuarantineState.OPEN)
                    .values(state=QuarantineState.RELEASED))


@dataclass(frozen=True)
class Held:
    """One quarantine row as an operator sees it (masked)."""

    source_seq: int
    case_no: str
    state: str
    reasons: list[dict[str, str]]  # each {"code", "message"}
    record: dict[str, Any]
    id: int = 0
    held_at: str | None = None  # this and decided_at: Beijing time, with its offset
    decided_by: str | None = None
    decision_note: str | None = None
    decided_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _held(q: Quarantine) -> Held:
    def when(moment: datetime | None) -> str | None:  # the ledger's naive UTC, shown in Beijing time
        return beijing_text(moment) if moment else None

    return Held(q.source_seq, q.case_no, q.state, [coded(r) for r in json.loads(q.reasons)],
                json.loads(q.masked), q.id, when(q.created_at), q.decided_by, q.decision_note, when(q.decided_at))


def list_held(ledger_url: str, states: Sequence[str] = ()) -> list[Held]:
    """Every quarantine row (those in `states` only, when given), oldest first."""
    query = select(Quarantine).order_by(Quarantine.id)
    if states:
        query = query.where(Quarantine.state.in_(list(states)))
    with session_factory(ledger_url)() as session:
        return [_held(q) for q in session.scalars(query)]


def show_held(ledger_url: str, quarantine_id: int) -> Held:
    """One quarantine row; ConfigError in one sentence when there is none."""
    with session_factory(ledger_url)() as session:
        return _held(_row(session, quarantine_id))


# -- an operator's decision ---------------------------------------------------------------------------
NOTE_MAX = 500
OPERATOR = "operator"  # the evidence log's party for an operator's decision
STATE_ZH = {QuarantineState.OPEN: "待处理", QuarantineState.RELEASED: "已在源头更正并推送",
            QuarantineState.OVERRIDDEN: "已由操作员放行", QuarantineState.REJECTED: "已由操作员退回（不予受理）"}


def _no_such(quarantine_id: int) -> ConfigError:
    return ConfigError(f"隔离区没有编号为 {quarantine_id} 的记录，请用 `lianban quarantine list` 查看 "
                       f"(no quarantine row {quarantine_id})")


#: the largest row number the ledger can hold (a 64-bit integer): a longer one, pasted by mistake, names no row
ID_MAX = 2**63 - 1


def _row(session: Session, quarantine_id: int, lock: bool = False) -> Quarantine:
    """Quarantine row `quarantine_id` (`lock`: locked until the transaction ends); ConfigError when there is none."""
    q = session.get(Quarantine, quarantine_id, with_for_update=lock) if 0 < quarantine_id <= ID_MAX else None
    if q is None:
        raise _no_such(quarantine_id)
    return q


def _note(note: str) -> str:
    """The operator's note as kept: stripped, ID- and phone-number runs masked, at most NOTE_MAX characters."""
    kept = redact_text(" ".join(note.split()))[:NOTE_MAX]
    if not kept:
        raise ConfigError("必须用 --note 写明处理理由（将记入台账与证据日志） (a note is required)")
    return kept


def decide(session: Session, quarantine_id: int, state: QuarantineState, note: str, operator: str) -> Quarantine:
    """Record an operator's decision on an open quarantine row (locked while decided: on SQLite the database's
    write lock taken before the row is read, so a second operator deciding it at once waits, then finds it
    decided); ConfigError in one sentence when the row does not exist, is decided already, or cannot be released
    (it could not be read)."""
    write_lock(session)
    q = _row(session, quarantine_id, lock=True)
    if q.state != QuarantineState.OPEN:
        raise ConfigError(f"隔离记录 {quarantine_id} 已处理（{STATE_ZH.get(QuarantineState(q.state), q.state)}），"
                          f"不能再次处理 (already decided: {q.state})")
    if state is QuarantineState.OVERRIDDEN:
        _releasable(q)
    q.state, q.decision_note, q.decided_by, q.decided_at = state.value, _note(note), operator[:64], utcnow()
    return q


#: what no operator's note can make deliverable: the hub cannot route an item the catalog does not have
UNROUTABLE = frozenset({"ITEMS_UNKNOWN"})
REFUSED = "CASE_REFUSED"  # a row of a case an operator refused: its applicant was told 不予受理, for good
CHANGED = "CASE_CHANGED"  # a row that differs from its case as staged: the hub never sends a staged case again


def refused_again(case_no: str) -> str:
    """Why a row of a refused case is held (staging's check :data:`REFUSED`)."""
    return (f"办件 {case_no} 已被退回（不予受理），申请人已被告知：更正后的记录不再办理，如需办理请以新的办件编号"
            f"重新申请")


def _releasable(q: Quarantine) -> None:
    """ConfigError in one sentence when `q` cannot be released as it is: it could not be read, or it names an
    item code the catalog does not have (either must be fixed at the source), or it differs from its case as
    staged (which is never sent again: a release only held it anew), or its case was refused."""
    if q.fingerprint is None:
        raise ConfigError(f"隔离记录 {q.id} 无法读取，不能原样放行：请人社在前置库中更正后重新同步 "
                          f"(an unreadable row cannot be released as it is: fix it at the source)")
    codes = {coded(r)["code"] for r in json.loads(q.reasons)}
    if UNROUTABLE & codes:
        raise ConfigError(f"隔离记录 {q.id} 含不在事项目录中的事项编码，无法推送，不能原样放行：请人社在前置库中"
                          f"更正后重新同步 (a row with unknown item codes cannot be released as it is: fix it at "
                          f"the source)")
    if CHANGED in codes:
        raise ConfigError(f"隔离记录 {q.id} 所属办件已入账，本行与已入账内容不同，同一办件不会重复推送，不能原样放行："
                          f"请人社联络员核对后在前置库中更正（改回已入账内容，或以新的办件编号重新提交） (a row that "
                          f"differs from its staged case cannot be released: the case is never sent again)")
    if REFUSED in codes:
        raise ConfigError(f"隔离记录 {q.id} 所属办件已被退回（不予受理），不能放行：如需办理请以新的办件编号重新申请 "
                          f"(a row of a refused case cannot be released)")


def log_decision(session: Session, log: EvidenceLog, q: Quarantine) -> None:
    """The decision in the evidence log (the masked row's reasons, the note, who; digested)."""
    body = {"quarantine_id": q.id, "source_seq": q.source_seq, "state": q.state, "reasons": q.reasons,
            "note": q.decision_note, "operator": q.decided_by, "at": q.decided_at}
    log.sent(session, OPERATOR, f"quarantine-{q.state}", [q.case_no] if q.case_no else [], body)
