"""What staging hands the ledger for one chosen item of a new case: its department and, for a pushed item, its
sealed outbox payload. Plain values with no database in them, so that the process preparing them
(:mod:`lianban.pipeline.prepare`) imports neither SQLAlchemy nor the models; :mod:`lianban.ledger.new_cases`
writes them. Named tuples: staging's process unpickles a chunk's worth from the preparing process, and a
named tuple unpickles in less than half the time of a frozen dataclass (a chunk's prepared rows: 6 against
14–20 ms).
"""

from __future__ import annotations

from typing import NamedTuple


class NewDelivery(NamedTuple):
    """One sealed payload for one department (the outbox row of one item)."""

    idempotency_key: str
    key_id: str
    envelope: str  # sealed JSON, see lianban.crypto.vault


class NewItem(NamedTuple):
    """One chosen item of a new case; `delivery` None for an item the hub does not push (HRSS's own)."""

    item_code: str
    department: str
    delivery: NewDelivery | None = None
