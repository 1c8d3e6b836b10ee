"""The progress query's rate limit, kept in the ledger so any number of server processes share it.

A failed query (wrong password, unknown case: they are the same thing to the applicant) is one row per
*scope*: the 办件编号 typed, and the client address. A query is refused (429) before its password is even
checked when either scope already has :data:`LIMIT` failures within :data:`WINDOW`: so the 6th wrong try in
15 minutes is refused, whatever the case or the address. A success does not clear earlier failures (a guesser
who hits the password still waits); the window clerk's ``lianban case reset-password`` clears the case's.

Scopes are stored as SM3-HMAC blind indexes (the hub's index key): the table holds neither an address nor a
case number. Two workers counting at the same moment may each let one more try through; the limit is a
brake on guessing, not an exact count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lianban.crypto.hashing import blind_index
from lianban.ledger.models import QueryAttempt

__all__ = ["LIMIT", "WINDOW", "case_scope", "clear", "client_scope", "failed", "limited"]

LIMIT = 5
WINDOW = timedelta(minutes=15)


def case_scope(index_key: bytes, case_no: str) -> str:
    return blind_index(index_key, f"query-case|{case_no}")


def client_scope(index_key: bytes, address: str) -> str:
    return blind_index(index_key, f"query-client|{address}")


def limited(session: Session, scopes: Sequence[str], now: datetime) -> bool:
    """Whether any of `scopes` already has LIMIT failures within WINDOW of `now`."""
    recent = (select(QueryAttempt.scope, func.count()).where(QueryAttempt.scope.in_(scopes),
                                                             QueryAttempt.at > now - WINDOW)
              .group_by(QueryAttempt.scope))
    return any(count >= LIMIT for _, count in session.execute(recent))


def failed(session: Session, scopes: Sequence[str], now: datetime) -> None:
    """Count one failure against each of `scopes` (and forget failures older than the window)."""
    session.execute(delete(QueryAttempt).where(QueryAttempt.at <= now - WINDOW))
    session.add_all(QueryAttempt(scope=scope, at=now) for scope in scopes)


def clear(session: Session, scope: str) -> None:
    """Forget every failure of `scope` (a new password was issued for the case)."""
    session.execute(delete(QueryAttempt).where(QueryAttempt.scope == scope))
