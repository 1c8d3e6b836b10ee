"""到龄提醒: plan one reminder per insured worker whose statutory retirement month falls in the reminder window.

The register (HRSS 在职参保人员登记) is read in chunks, never all at once; each chunk is one ledger transaction:

    read      every row of the chunk through :func:`lianban.domain.register.read_insured` (an unreadable row is
              counted, never logged)
    due       the people whose retirement month lies in the window (:func:`lianban.domain.register.reminder`)
    applied   those of them who have a 退休一件事 case in the ledger already (same blind index): they applied, so
              no reminder tells them to
    planned   those with no reminder yet for that month — whichever of the two templates it was, so a person
              whose contributions reach the minimum between two runs is not reminded twice — written through
              :func:`lianban.pipeline.sms_notices.plan` (person by blind index, period the retirement month);
              and those whose reminder never went for want of a valid mobile number, once the register has
              one — another than the one it holds: a number the operator said 空号 of is not sent to again —
              (:func:`lianban.pipeline.sms_notices.replan`; read again under lock first: one another run
              replanned and sent meanwhile is left as it is)
    readdressed those whose reminder is still to go (planned, or failed and to be sent again) while the register
              holds another valid number than the one it was planned for: it goes to the new number
              (:func:`lianban.pipeline.sms_notices.readdress`, read again under lock first as above); one that
              failed every send at its old number (关机, 停机: dead, :data:`~lianban.pipeline.sms_notices.EXHAUSTED`)
              is planned again for the new one, counted planned
    repeated  a row of a person the register listed before (two rows, two numbers, say): the person's first
              row in 序号 order with a number the reminder can go to decides, every run alike, so the reminder is
              not moved back and forth between their numbers run after run (a run-wide map of the people due: a
              small part of the register); a row without a mobile number, or with the one the reminder is
              invalid or out of sends at, leaves the person to their next row

Sending is :func:`lianban.pipeline.sms_notices.send_due`'s (quiet hours, exactly once). A crash mid-run leaves
the chunks already committed planned: the next run skips them (``already``) and goes on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lianban.crypto.hashing import blind_index
from lianban.domain.register import REMINDER_KINDS, REMINDER_SHORT, Notice, Window, read_insured, reminder, window
from lianban.domain.retirement import month_text
from lianban.domain.sms import is_mobile
from lianban.keys.names import INDEX, VAULT
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, SmsNotice
from lianban.pipeline.sms_notices import (
    PLANNED_AGAIN,
    READDRESSED,
    NoticeState,
    another_number,
    exhausted,
    may_go,
    phone_of,
    plan,
    plan_again,
)

__all__ = ["CHUNK", "DEFAULT_MONTHS", "NoticeKeys", "Register", "ReminderResult", "notice_keys", "plan_reminders"]

DEFAULT_MONTHS = 3  # LIANBAN_REMINDER_MONTHS
CHUNK = 5000  # register rows per read and per ledger transaction


class Register(Protocol):
    """The register of insured workers (``connectors.hrss.register.InsuredRegister``)."""

    def insured(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """The people still insured, `size` rows at a time (domain keys, as read)."""
        ...


@dataclass(frozen=True)
class NoticeKeys:
    vault: KeyRing  # seals the phone and the values in the ledger
    index: bytes = field(repr=False)  # the blind index of the ID number (the same as the cases')


def notice_keys(keys_dir: Path) -> NoticeKeys:
    return NoticeKeys(load_ring(keys_dir, VAULT), load_ring(keys_dir, INDEX).active_key()[1])


@dataclass
class ReminderResult:
    window: str = ""  # first..last month, YYYY-MM
    read: int = 0
    unreadable: int = 0
    due: int = 0  # people (a person the register lists twice once)
    planned: int = 0
    short: int = 0  # planned with the 缴费年限不足 variant
    already: int = 0  # due, and reminded (or planned) before
    applied: int = 0  # due, and applied already (a case in the ledger): not reminded
    readdressed: int = 0  # due, still to go, and sent to the new number the register holds from now on
    repeated: int = 0  # a row of a person (and month) an earlier row of this run decided for: left alone

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def plan_reminders(register: Register, ledger_url: str, keys_dir: Path, today: date,
                   months: int = DEFAULT_MONTHS, chunk: int = CHUNK) -> ReminderResult:
    """Plan the reminders due in the window from `today` (module docstring); counts only."""
    keys, due = notice_keys(keys_dir), window(today, months)
    result = ReminderResult(window=f"{month_text(due.first)}..{month_text(due.last)}")
    sessions, handled = session_factory(ledger_url), dict[tuple[str, str], bool]()
    for rows in register.insured(chunk):
        with sessions.begin() as session:
            _plan_chunk(session, keys, rows, due, result, handled)
    return result


def _due(rows: Sequence[Mapping[str, Any]], keys: NoticeKeys, due: Window,
         result: ReminderResult) -> list[tuple[str, str | None, Notice]]:
    """(person index, phone, notice) of everyone in `rows` due a reminder."""
    found = []
    for row in rows:
        person = read_insured(row)
        if person is None:
            result.unreadable += 1
            continue
        notice = reminder(person, due)
        if notice is not None:
            found.append((blind_index(keys.index, person.id_number), person.phone, notice))
    return found


Held = dict[tuple[str, str], SmsNotice]  # (person index, period) → the reminder the ledger holds


def _reminded(session: Session, indexes: Sequence[str]) -> tuple[set[tuple[str, str]], Held]:
    """(person index, period) of the reminders the ledger holds for `indexes`, of either kind; and those of them
    that may still go, to another number (:func:`~lianban.pipeline.sms_notices.may_go`)."""
    if not indexes:
        return set(), {}
    query = select(SmsNotice).where(SmsNotice.kind.in_(REMINDER_KINDS), SmsNotice.person_index.in_(list(indexes)))
    held = {(n.person_index, n.period): n for n in session.scalars(query)}
    return set(held), {at: n for at, n in held.items() if may_go(n)}


def _applied(session: Session, indexes: Sequence[str]) -> set[str]:
    """Those of `indexes` who have a case in the ledger: their application is in, no reminder to apply."""
    if not indexes:
        return set()
    return set(session.scalars(select(Case.id_index).where(Case.id_index.in_(list(indexes)))))


def _count_again(result: ReminderResult, done: str | None, notice: Notice) -> None:
    """`result` counting what :func:`lianban.pipeline.sms_notices.plan_again` did of `notice`."""
    if done == PLANNED_AGAIN:
        result.planned += 1
        result.short += notice.kind == REMINDER_SHORT
    elif done == READDRESSED:
        result.readdressed += 1
    else:
        result.already += 1


def _claims(keys: NoticeKeys, held: SmsNotice | None, phone: str | None) -> bool:
    """Whether a row with `phone` decides for its person (the reminder the ledger holds that may still go, if
    any: `held`): a mobile number the reminder is not invalid or out of sends at. A row without one leaves the
    person to a later row of theirs that has one."""
    if not is_mobile(phone):
        return False
    if held is None or not (held.state == NoticeState.INVALID or exhausted(held)):
        return True
    return phone != phone_of(keys.vault, held)


def _plan_chunk(session: Session, keys: NoticeKeys, rows: Sequence[Mapping[str, Any]], due: Window,
                result: ReminderResult, handled: dict[tuple[str, str], bool]) -> None:
    """Plan the chunk's reminders; `handled`: (person index, period) of every person due in this run so far,
    the chunk's added, and whether a row of theirs decided (:func:`_claims`). A person the register lists twice
    is planned and addressed by their first row in 序号 order with a number the reminder can go to; a later row
    of theirs is left alone (``repeated``), so their numbers are not played against each other, the reminder
    moved back and forth run after run."""
    result.read += len(rows)
    found = _due(rows, keys, due, result)
    known, unsent = _reminded(session, [index for index, _, _ in found])
    applied = _applied(session, [index for index, _, _ in found])
    for index, phone, notice in found:
        at = (index, notice.period)
        if handled.get(at):
            result.repeated += 1
            continue
        result.due += at not in handled
        handled[at] = index in applied or _claims(keys, unsent.get(at), phone)
        if index in applied:
            result.applied += 1
            continue
        if at in known and not (at in unsent and another_number(keys.vault, unsent[at], phone)):
            result.already += 1
            continue
        if at in unsent:  # HRSS has another valid number for the person now: the reminder goes there
            done = plan_again(session, keys.vault, unsent.pop(at), notice.kind, phone or "", notice.values)
            _count_again(result, done, notice)
            continue
        known.add(at)  # a later row of the person in this chunk finds it planned
        if not plan(session, keys.vault, notice.kind, index, notice.period, phone, notice.values):
            result.already += 1  # another run planned it since this one read what the ledger held
            continue
        result.planned += 1
        result.short += notice.kind == REMINDER_SHORT
