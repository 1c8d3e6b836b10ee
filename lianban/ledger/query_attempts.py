"""The progress query's rate limit, kept in the ledger so any number of server processes share it.

Every query is one row per *scope* (the 办件编号 typed, and the client: its IPv4 address, or its IPv6
address's /64, the block one subscriber is usually given whole, so stepping through it buys no more tries),
written and committed before its password is checked (:func:`attempt`); then the query counts its scopes' rows
within :data:`WINDOW`, its own included, and is refused (429) without its password being checked when either
holds more than :data:`LIMIT` (:func:`limited`). A refused query and a successful one take their own rows back
(:func:`withdraw`); a failed one (wrong password, unknown case: the same thing to the applicant) leaves them, as
its failure. So the 6th wrong try in 15 minutes is refused, whatever the case or the address. A success does not
clear earlier failures (a guesser who hits the password still waits); the window clerk's ``lianban case
reset-password`` clears the case's.

Counting after the commit holds under concurrency, on SQLite and PostgreSQL alike: of any two queries, the one
that commits its rows second counts the other's, so however many arrive at once, at most LIMIT wrong passwords per
scope get checked. A query that dies between its two writes leaves its rows: counted as a failure.

Scopes are stored as SM3-HMAC blind indexes (the hub's index key): the table holds neither an address nor a
case number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from ipaddress import IPv6Address, IPv6Network, ip_address

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lianban.crypto.hashing import blind_index
from lianban.ledger.models import QueryAttempt

__all__ = ["LIMIT", "WINDOW", "attempt", "case_scope", "clear", "client_block", "client_scope", "expire", "limited",
           "withdraw"]

LIMIT = 5
WINDOW = timedelta(minutes=15)


def case_scope(index_key: bytes, case_no: str) -> str:
    return blind_index(index_key, f"query-case|{case_no}")


def client_scope(index_key: bytes, address: str) -> str:
    return blind_index(index_key, f"query-client|{client_block(address)}")


def client_block(address: str) -> str:
    """What one client is counted as: an IPv6 address's /64 (an IPv4 one mapped into IPv6 as that IPv4 address);
    an IPv4 address, or anything else, as it is."""
    try:
        ip = ip_address(address)
    except ValueError:
        return address
    if not isinstance(ip, IPv6Address):
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(IPv6Network((int(ip) >> 64 << 64, 64)))


def attempt(session: Session, scopes: Sequence[str], now: datetime) -> list[int]:
    """Count one query against each of `scopes` before its password is checked; the new rows' ids (commit them
    before :func:`limited` counts, so that queries arriving together count each other)."""
    rows = [QueryAttempt(scope=scope, at=now) for scope in scopes]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def limited(session: Session, scopes: Sequence[str], now: datetime) -> bool:
    """Whether any of `scopes` has more than LIMIT attempts within WINDOW of `now`, the asking query's own
    included (that is: LIMIT failures before it, or queries in flight with it)."""
    recent = (select(QueryAttempt.scope, func.count()).where(QueryAttempt.scope.in_(scopes),
                                                             QueryAttempt.at > now - WINDOW)
              .group_by(QueryAttempt.scope))
    return any(count > LIMIT for _, count in session.execute(recent))


def withdraw(session: Session, ids: Sequence[int]) -> None:
    """Take back a query's own attempts (`ids` from :func:`attempt`): it was refused unchecked, or it succeeded."""
    session.execute(delete(QueryAttempt).where(QueryAttempt.id.in_(ids)))


def expire(session: Session, now: datetime) -> None:
    """Forget attempts older than the window (a failed query's own stay: they are its failure)."""
    session.execute(delete(QueryAttempt).where(QueryAttempt.at <= now - WINDOW))


def clear(session: Session, scope: str) -> None:
    """Forget every failure of `scope` (a new password was issued for the case)."""
    session.execute(delete(QueryAttempt).where(QueryAttempt.scope == scope))
