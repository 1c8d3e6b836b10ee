"""Deliveries found by idempotency key: ``delivery_keys``, filled in sorted batches.

The key is a hash, so a unique index on the deliveries themselves sent each new delivery to a random page of it: a
staging chunk's 5,000 deliveries dirtied some 5,000 of its pages once it outgrew them (about 20 MB written per
commit; a million rows staged in 189 s against 134 s without it). Instead a staging run keys what it staged when it
ends, sorted, so that each page of the table is written once (:func:`key_staged`), and a batch about to be sent
keys any of its rows still unkeyed (:func:`key_claimed`: a staging run that died before its end; on PostgreSQL a
row committed by another transaction after that end read ids above the run's start, since ids are handed out before
commit) before it goes: that check, not the run's start id, is the guarantee. So every delivery a department has
received can be found by its key (its status callbacks, a dead letter requeued by key). One delivery per key is the
ledger's chain of unique constraints (cases.case_no, case_items (case_id, item_code), deliveries.case_item_id; the
key is derived from case, item and department); here a key already there is left as it is, never written twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, func, select
from sqlalchemy.orm import Session

from lianban.ledger.db import dialect_of, keeping_insert, plain_write
from lianban.ledger.models import Delivery, DeliveryKey

__all__ = ["by_key", "key_claimed", "key_staged", "last_delivery_id"]


def last_delivery_id(session: Session) -> int:
    """The largest delivery id so far (0 for none): a staging run keys the deliveries after it."""
    return int(session.scalar(select(func.max(Delivery.id))) or 0)


def key_staged(session: Session, after: int) -> None:
    """Key every delivery after id `after` visible now (a staging run's, and any another committed meanwhile), in
    key order. On PostgreSQL a row with a lower id may commit later: :func:`key_claimed` keys it before it goes."""
    _key(session, select(Delivery.idempotency_key, Delivery.id).where(Delivery.id > after)
         .order_by(Delivery.idempotency_key))


def key_claimed(session: Session, pairs: Sequence[tuple[str, int]]) -> None:
    """Key the deliveries of (idempotency key, id) `pairs` (a batch about to be sent) not keyed yet. Those keyed
    are counted first, and read only when some are missing (a staging run that ended keyed them all: counting
    1,000 keys takes half the time of fetching them); never an insert of nothing, which would take SQLite's
    write lock from the other senders."""
    if not pairs:
        return
    among = DeliveryKey.idempotency_key.in_([key for key, _ in pairs])
    if session.scalar(select(func.count()).where(among)) == len(pairs):
        return  # as a staging run that ended leaves them: counted, not fetched
    keyed = set(session.scalars(select(DeliveryKey.idempotency_key).where(among)))
    missing = sorted(pair for pair in pairs if pair[0] not in keyed)
    if missing:
        plain_write(session, _keying(dialect_of(session)), missing, columns=_COLUMNS)


def by_key(keys: Sequence[str] | str) -> Any:
    """A clause: the delivery's id is that of `keys` (one key, or any of several)."""
    wanted = [keys] if isinstance(keys, str) else list(keys)
    return Delivery.id.in_(select(DeliveryKey.delivery_id).where(DeliveryKey.idempotency_key.in_(wanted)))


_COLUMNS = ("idempotency_key", "delivery_id")


@cache
def _keying(dialect: str) -> Insert:
    """The insert of a key that leaves one already there as it is (one statement object per dialect, so that
    :func:`plain_write` compiles it once)."""
    return keeping_insert(dialect, DeliveryKey).on_conflict_do_nothing(index_elements=["idempotency_key"])


def _key(session: Session, rows: Select[*tuple[Any, ...]]) -> None:
    statement = keeping_insert(dialect_of(session), DeliveryKey).from_select(list(_COLUMNS), rows)
    session.execute(statement.on_conflict_do_nothing(index_elements=["idempotency_key"]))
