"""The gateway's nonce memory in the ledger (:class:`lianban.wire.gateway.NonceMemory`), shared by every worker
of ``lianban serve``: a department's callback replayed to another worker is refused like one replayed to the same.
The hub's pipeline keeps the nonces of the parties' signed answers here too (under ``answer/<party>``,
:class:`lianban.wire.signatures.ResponseVerifier`): an answer replayed to another process or run is refused.

One row per (app id, nonce) let through, kept for twice the allowed clock skew (older requests are refused as
stale anyway); the primary key makes the check and the note one atomic insert, whatever the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lianban.ledger.models import GatewayNonce

__all__ = ["LedgerNonces"]


def _at(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC).replace(tzinfo=None)


class LedgerNonces:
    """Nonces noted in the ledger behind `sessions`."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def remember(self, app_id: str, nonce: str, now: float, horizon: float) -> bool:
        try:
            with self._sessions.begin() as session:
                session.execute(delete(GatewayNonce).where(GatewayNonce.seen_at < _at(horizon)))
                session.add(GatewayNonce(app_id=app_id[:64], nonce=nonce, seen_at=_at(now)))
        except IntegrityError:
            return False
        return True
