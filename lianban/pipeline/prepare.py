"""A row's own work in staging, whatever the ledger says of it: its fingerprint, the person's blind index and its
chosen items routed, minimised and sealed for the outbox — and a process of its own that does it beside staging.

Staging (:mod:`lianban.pipeline.stage`) decides each row's fate against the ledger and writes it, one transaction
per chunk, in one process: on two cores the other core idled once the suite's worker had judged a run. A run
that reads at least ``offload_rows`` rows at once hands each chunk's readable rows to a :class:`Preparer`'s
process (:class:`~lianban.pipeline.offload.Offload`) as soon as they are read, and the chunk being written
finds its rows prepared. A small run never pays for the process (about a third of a second to start); a row
the process could not prepare (an item the catalog does not know, say) is left to staging, which judges, holds
or prepares it in its own turn; if the process cannot be started or is lost, staging prepares the rest of
the run itself.

This module imports neither SQLAlchemy nor the ledger's models: the process starts in a tenth of a second.
"""

from __future__ import annotations

import errno
import json
import logging
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, fields
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from lianban.crypto.hashing import blind_index
from lianban.crypto.passwords import hash_password
from lianban.crypto.vault import seal
from lianban.domain.catalog import Catalog, load_catalog
from lianban.domain.intake import SourceRow, Unreadable
from lianban.domain.record import RetirementRecord
from lianban.domain.routing import route
from lianban.keys.names import INDEX, QUERY, VAULT
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.new_items import NewDelivery, NewItem
from lianban.pipeline.offload import Offload
from lianban.wire.ids import aad, idempotency_key

__all__ = ["Prepared", "Preparer", "StageKeys", "Ticket", "field_values", "fingerprint", "load_keys", "prepare",
           "prepare_ahead", "prepare_rows", "sealed_items"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageKeys:
    vault: KeyRing  # seals payloads at rest; re-sealed per batch for the department at delivery
    index_key: bytes = field(repr=False)
    query: tuple[str, bytes] = field(repr=False)  # the 查询密码's HMAC key (kid, key)


def load_keys(keys_dir: Path) -> StageKeys:
    return StageKeys(load_ring(keys_dir, VAULT), load_ring(keys_dir, INDEX).active_key()[1],
                     load_ring(keys_dir, QUERY).active_key())


def fingerprint(index_key: bytes, record: RetirementRecord) -> str:
    """SM3-HMAC of everything the row said: the same row read twice gives the same fingerprint."""
    said = {**record.fields(), "items": sorted(record.items), "approved_at": record.approved_at}
    return blind_index(index_key, json.dumps(said, sort_keys=True, ensure_ascii=False))


def sealed_items(record: RetirementRecord, catalog: Catalog, vault: KeyRing) -> list[NewItem]:
    """Each chosen item of `record` routed, its pushed payload minimised and sealed for the outbox (bound to
    its idempotency key, case and item)."""
    items = []
    for r in route(record, catalog):
        sealed: NewDelivery | None = None
        if r.payload is not None:
            key = idempotency_key(record.case_no, r.item_code, r.department)
            envelope = seal(vault, r.payload, aad(key, record.case_no, r.item_code))
            sealed = (key, envelope["kid"], msgspec.json.encode(envelope).decode())
        items.append((r.item_code, r.department, sealed))
    return items


class Prepared(NamedTuple):
    """What staging works out for a readable row whatever its verdict: its fingerprint, the person's blind index
    and its items sealed (used if the row is entered as a new case). A named tuple (one per row; its items, by
    the thousand, plain tuples: :mod:`lianban.ledger.new_items`): they cross from the preparing process."""

    print_: str
    id_index: str
    items: list[NewItem]
    password_hash: str | None = None  # the keyed hash of the 查询密码 the row carries (None: it carries none)


def password_hash(record: RetirementRecord, key: tuple[str, bytes]) -> str | None:
    """The keyed hash (`key`: the ``query`` ring's active key) of the 查询密码 `record` carries; None without one."""
    return hash_password(record.password, record.case_no, key) if record.password else None


def prepare(record: RetirementRecord, catalog: Catalog, keys: StageKeys) -> Prepared:
    return Prepared(fingerprint(keys.index_key, record), blind_index(keys.index_key, record.id_number),
                    sealed_items(record, catalog, keys.vault), password_hash(record, keys.query))


def prepare_ahead(record: RetirementRecord, catalog: Catalog, keys: StageKeys) -> Prepared | None:
    """:func:`prepare` ahead of the record's verdict: None for a record that does not prepare (an invalid row,
    an item the catalog does not know, say, may not route), for staging to judge in its own turn."""
    try:
        return prepare(record, catalog, keys)
    except Exception:
        return None


def prepare_rows(keys_dir: str, records: Sequence[tuple[int, tuple[Any, ...]]]) -> dict[int, Prepared]:
    """In the preparing process: each (前置库 row, record's field values) prepared ahead, by row
    (:func:`prepare_ahead`: one that does not prepare is left out)."""
    keys, catalog = _keys_at(keys_dir), load_catalog()
    prepared = {seq: prepare_ahead(RetirementRecord(*values), catalog, keys) for seq, values in records}
    return {seq: ready for seq, ready in prepared.items() if ready is not None}


#: a record's field values in order, as they cross to the preparing process (:func:`prepare_rows` makes the
#: record again): pickling the records themselves cost staging's own process 65 % more (86 against 52 ms for
#: 10,000 rows)
field_values = attrgetter(*(f.name for f in fields(RetirementRecord)))


@lru_cache(maxsize=1)
def _keys_at(keys_dir: str) -> StageKeys:
    """The keys, loaded once in the preparing process (it lives for one staging run)."""
    return load_keys(Path(keys_dir))


#: chunks sent to the preparing process ahead of the one staging works on, at most: the process keeps ahead of
#: staging (it prepares a chunk in about a third of staging's time for it), and the rest of a read's chunks wait
#: here as rows until a place frees. Sending every chunk of two reads at once held their results in staging's
#: process (85 of 177 MB of its objects at 60,000 rows) until staged
AHEAD = 3


@dataclass
class Ticket:
    """A chunk handed to a :class:`Preparer`: its readable rows until they are sent, then the process's answer."""

    readable: list[tuple[int, tuple[Any, ...]]] | None
    answer: Future[dict[int, Prepared]] | None = None


class Preparer:
    """Prepares chunks of rows in a process of its own once a run reads ``offload_rows`` rows at once (module
    docstring). :meth:`submit` each chunk as soon as it is read, and ask :meth:`result` for them in the same order
    when each is staged; ``ahead`` of them at most are with the process at a time."""

    def __init__(self, keys_dir: Path, offload_rows: int, ahead: int = AHEAD) -> None:
        self._keys_dir, self._offload_rows, self._ahead = str(keys_dir), offload_rows, ahead
        self._process: Offload | None = None
        self._lost = False
        self._waiting: deque[Ticket] = deque()
        self._sent = 0  # tickets with the process, not yet asked for

    def __enter__(self) -> Preparer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._waiting.clear()
        if self._process is not None:  # not waited for: it ends when its pipe closes
            self._process.shutdown(wait=False, cancel_futures=True)

    @property
    def working(self) -> bool:
        """Whether chunks now go to the process (started, and not lost)."""
        return self._process is not None and not self._lost

    def submit(self, rows: Sequence[SourceRow], records: Sequence[RetirementRecord | Unreadable],
               read_at_once: int) -> Ticket | None:
        """Queue the readable rows among `rows` (of `read_at_once` rows read together) for the process; None
        when staging prepares them itself (a small run, or the process lost)."""
        if self._process is None and not self._lost and read_at_once >= self._offload_rows:
            self._start()
        if not self.working:
            return None
        ticket = Ticket([(row.seq, field_values(r)) for row, r in zip(rows, records, strict=True)
                         if isinstance(r, RetirementRecord)])
        self._waiting.append(ticket)
        self._send()
        return ticket

    def _send(self, until: Ticket | None = None) -> None:
        """Hand waiting chunks to the process while fewer than ``ahead`` are with it (and up to `until`, however
        many are)."""
        while self._waiting and self.working and (self._sent < self._ahead or until is not None):
            ticket = self._waiting.popleft()
            assert self._process is not None and ticket.readable is not None
            ticket.answer = self._process.submit(prepare_rows, self._keys_dir, ticket.readable)
            ticket.readable, self._sent = None, self._sent + 1
            if ticket is until:
                return

    def _start(self) -> None:
        """The process started; if it cannot be (no memory, too many processes), staging prepares the run."""
        try:
            self._process = Offload()
        except OSError as exc:
            log.warning("入库预处理进程无法启动，本次入库改在本进程处理 (the preparing process could not start: %s)",
                        errno.errorcode.get(exc.errno or 0, type(exc).__name__))
            self._lost = True

    def result(self, ticket: Ticket | None) -> dict[int, Prepared]:
        """The rows prepared, by row; none when the process did not prepare them (staging then does)."""
        if ticket is None:
            return {}
        if ticket.answer is None:  # asked out of turn, or the process was lost before it went
            self._send(until=ticket)
        if ticket.answer is None:
            return {}
        try:
            return ticket.answer.result()
        except Exception as exc:  # ProcessLost, or the process could not load the keys: never the run's end
            if not self._lost:
                log.warning("入库预处理进程不可用，本次入库改在本进程处理 (the preparing process failed: %s)",
                            type(exc).__name__)
            self._lost = True
            return {}
        finally:
            ticket.answer, self._sent = None, self._sent - 1
            self._send()
