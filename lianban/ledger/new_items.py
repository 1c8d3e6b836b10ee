"""What staging hands the ledger for one chosen item of a new case: its department and, for a pushed item, its
sealed outbox payload. Plain values with no database in them, so that the process preparing them
(:mod:`lianban.pipeline.prepare`) imports neither SQLAlchemy nor the models; :mod:`lianban.ledger.new_cases`
writes them.

Plain tuples, read by unpacking (``code, department, delivery = item``): staging's process unpickles a chunk's
worth from the preparing process, some 13,000 of them for 5,000 rows. A named tuple pickles through Python
(its ``__getnewargs__``, then its ``__new__`` to unpickle), a plain tuple in C: a chunk of 1,000 prepared rows
crossed in 2.2 ms against 7.8 ms with named items (and 14–20 ms with frozen dataclasses before them).
"""

from __future__ import annotations

from typing import TypeAlias

#: One sealed payload for one department, the outbox row of one item: (idempotency key, key id, envelope: the
#: sealed JSON, see lianban.crypto.vault)
NewDelivery: TypeAlias = tuple[str, str, str]
#: One chosen item of a new case: (item code, department, delivery: None for an item the hub does not push,
#: HRSS's own)
NewItem: TypeAlias = tuple[str, str, NewDelivery | None]
#: the columns of a delivery's row a NewDelivery holds, in its order
DELIVERY_FIELDS = ("idempotency_key", "key_id", "envelope")
