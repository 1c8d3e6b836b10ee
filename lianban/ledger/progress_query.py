"""The applicant's progress query (办件编号 + 查询密码) and the window's password reset.

:meth:`ProgressDesk.query` answers one of three ways, in this order::

    limited   the 办件编号 typed or the client address already has 5 failures within 15 minutes, or as many
              queries in flight with this one (:mod:`lianban.ledger.query_attempts`): refused before the
              password is checked
    refused   unknown case, case without a password, or wrong password: one answer for all three, and the
              same work for all three (one keyed hash, against a dummy key when there is no case), so case
              numbers cannot be enumerated by answer or by time; one failure counted
    found     the case as the applicant sees it (:mod:`lianban.ledger.applicant_view`)

Every query is in the evidence log (X-Road style: one ``in`` entry for the question, one ``out`` for the
answer, department ``applicant``), digested, never with the password; the question's digest covers the
办件编号 and the client's blind index only. The query is counted against the limit in a first, short write
transaction, before anything else; the password is checked between a read and the last write transaction
(:mod:`lianban.crypto.passwords`); a case still holding a hash of the earlier, slow scheme is checked with it
once and its hash stored again in the keyed form when the password matches (so is a hash made under a query key
no longer active: in the answer's transaction; a wrong password changes nothing). While any case holds an earlier
hash, every other check pays a dummy of that slow hash, so such a case does not answer slower than an unknown
one; whether any remains is looked up once per :data:`LEGACY_RECHECK` seconds (a scan of the cases), not per query.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lianban.crypto.passwords import LEGACY, Verdict, hash_password, new_password, verify_password
from lianban.domain.intake import normalise_case_no
from lianban.keys.names import EVIDENCE, INDEX, QUERY, VAULT
from lianban.keys.rings import KeyRing, load_ring, rings_stamp
from lianban.ledger import query_attempts
from lianban.ledger.applicant_view import CaseProgress, case_progress
from lianban.ledger.cases import canonical_case_no, unknown_case
from lianban.ledger.db import session_factory
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.models import Case
from lianban.ledger.store import utcnow

__all__ = ["Answer", "Outcome", "ProgressDesk", "reset_password"]

APPLICANT = "applicant"  # the evidence log's party for the public query
RESET_KIND = "password-reset"  # the window issued a new 查询密码
LEGACY_RECHECK = 600.0  # seconds between two looks for cases still holding an earlier-scheme hash
_ROTATED = (VAULT, QUERY, EVIDENCE)  # the rings a query uses that `lianban keys rotate` may change


class Outcome(enum.StrEnum):
    FOUND = "found"
    REFUSED = "refused"
    LIMITED = "limited"


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    progress: CaseProgress | None = None


def _typed(case_no: str) -> str | None:
    """The canonical 办件编号, or None when what was typed cannot be one (then no case has it)."""
    try:
        return normalise_case_no(case_no)
    except ValueError:
        return None


class ProgressDesk:
    """Answers progress queries against one ledger with the keys of one installation."""

    def __init__(self, ledger_url: str, keys_dir: Path) -> None:
        self._sessions, self._keys_dir = session_factory(ledger_url), keys_dir
        self._index_key = load_ring(keys_dir, INDEX).active_key()[1]  # never rotated (lianban keys rotate refuses)
        self._keys_stamp: tuple[tuple[int, int, int] | None, ...] | None = None
        self._read_keys()
        self._legacy_remain, self._legacy_checked = True, -LEGACY_RECHECK  # looked up at the first query

    def _read_keys(self) -> None:
        """The rings a query uses, read again whenever one of their files changed since (``lianban keys rotate``,
        ``retire``): a running API takes a rotated key at its next query, no restart."""
        stamp = rings_stamp(self._keys_dir, _ROTATED)
        if stamp == self._keys_stamp:
            return
        self._vault: KeyRing = load_ring(self._keys_dir, VAULT)
        self._query: KeyRing = load_ring(self._keys_dir, QUERY)
        self._evidence = EvidenceLog.load(self._keys_dir)
        self._keys_stamp = stamp

    def query(self, case_no: str, password: str, client: str) -> Answer:
        """One query from `client` (its address); see the module docstring."""
        self._read_keys()
        canonical, now = _typed(case_no), utcnow()
        scopes = [query_attempts.case_scope(self._index_key, canonical or case_no.strip()),
                  query_attempts.client_scope(self._index_key, client)]
        with self._sessions.begin() as session:  # committed before counting: concurrent queries count each other
            mine = query_attempts.attempt(session, scopes, now)
        limited, verdict = self._check(canonical, password, scopes, now)
        logged = [canonical] if canonical else []
        with self._sessions.begin() as session:
            self._evidence.received(session, APPLICANT, "query", logged, {"case_no": canonical,
                                                                          "client": scopes[1]}, [])
            answer = self._answer(session, canonical, limited, verdict is not Verdict.NO, mine, now)
            if verdict is Verdict.YES_REHASH and canonical:
                self._rehash(session, canonical, password)
            body = answer.progress.as_dict() if answer.progress else {"outcome": answer.outcome.value}
            self._evidence.sent(session, APPLICANT, "progress", logged, body)
        return answer

    def _check(self, canonical: str | None, password: str, scopes: list[str], now: datetime) -> tuple[bool, Verdict]:
        """Whether the query is limited, and when not, its password's verdict (not a match when limited)."""
        with self._sessions() as session:  # read only: the slow hash runs outside any write lock
            if query_attempts.limited(session, scopes, now):
                return True, Verdict.NO
            stored = session.scalar(select(Case.password_hash).where(Case.case_no == canonical)) if canonical else None
            legacy = self._legacy(session)
        return False, verify_password(password, canonical or "", stored, self._query.keys.get, legacy_remain=legacy,
                                      active=self._query.active)

    def _legacy(self, session: Session) -> bool:
        """Whether some case may still hold an earlier-scheme hash (looked up again after LEGACY_RECHECK)."""
        if time.monotonic() - self._legacy_checked >= LEGACY_RECHECK:
            held = exists().where(Case.password_hash.like(f"{LEGACY}$%"))
            self._legacy_remain, self._legacy_checked = bool(session.scalar(select(held))), time.monotonic()
        return self._legacy_remain

    def _rehash(self, session: Session, case_no: str, password: str) -> None:
        case = session.scalars(select(Case).where(Case.case_no == case_no)).one()
        case.password_hash = hash_password(password, case_no, self._query.active_key())

    def _answer(self, session: Session, case_no: str | None, limited: bool, matches: bool, mine: list[int],
                now: datetime) -> Answer:
        """The answer; this query's attempts (`mine`) stay counted only when it is refused for its password."""
        if limited:
            query_attempts.withdraw(session, mine)  # refused unchecked: not a failure
            return Answer(Outcome.LIMITED)
        case = session.scalars(select(Case).where(Case.case_no == case_no)).one_or_none() if matches else None
        if case is None:
            query_attempts.expire(session, now)  # its own attempts stay: they are its failure
            return Answer(Outcome.REFUSED)
        query_attempts.withdraw(session, mine)
        return Answer(Outcome.FOUND, case_progress(session, self._vault, case))


def reset_password(ledger_url: str, keys_dir: Path, typed_case_no: str) -> tuple[str, str]:
    """A new random 查询密码 for the case `typed_case_no` names: (办件编号, password). The old one stops working,
    the case's failed tries are forgotten, and the evidence log records the reset (kind ``password-reset``, to
    the applicant, without the password); ConfigError in one sentence when there is no such case."""
    case_no, password = canonical_case_no(typed_case_no), new_password()
    index_key = load_ring(keys_dir, INDEX).active_key()[1]
    with session_factory(ledger_url).begin() as session:
        case = session.scalars(select(Case).where(Case.case_no == case_no)).one_or_none()
        if case is None:
            raise unknown_case(case_no)
        case.password_hash = hash_password(password, case_no, load_ring(keys_dir, QUERY).active_key())
        query_attempts.clear(session, query_attempts.case_scope(index_key, case_no))
        EvidenceLog.load(keys_dir).sent(session, APPLICANT, RESET_KIND, [case_no],
                                        {"case_no": case_no, "reset_at": utcnow().isoformat()})
    return case_no, password
