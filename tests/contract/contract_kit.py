"""What the contract suite knows about one department: its simulator, its connector, messages for it.

Imported by ``tests/contract/conftest.py`` (fixtures) and the contract tests (types and helpers).
"""

from __future__ import annotations

import importlib
import itertools
import random
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import requests

from lianban.app.config import conn_env_name, connection_json, department_settings
from lianban.app.registry import connector_path, load_connector
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.wire.contract import ProgressEvent, SealedItem
from lianban.wire.ids import idempotency_key
from simulators.engine import PATHS, choose_path
from simulators.kit import Item, seal_items, supply_asked
from simulators.people import synthetic_application

STEP_SECONDS = 0.3  # the simulators' status clock: the longest path ends after 4 steps
READ_TIMEOUT = 0.3  # for timeout tests; the injected latency is a little longer
LATENCY = 0.8
NORMAL_READ_TIMEOUT = 10.0
POLL_EVERY = 0.05


def connector_class(department: str) -> type:
    module, _, name = connector_path(department).partition(":")
    cls: type = getattr(importlib.import_module(module), name)
    return cls


def role(department: str) -> str:
    """``department`` (submit/poll) or ``sink`` (push), from the connector class's methods."""
    cls = connector_class(department)
    if callable(getattr(cls, "submit", None)) and callable(getattr(cls, "poll", None)):
        return "department"
    if callable(getattr(cls, "push", None)):
        return "sink"
    raise AssertionError(f"{connector_path(department)} has neither submit/poll nor push (lianban.wire.contract)")


_sequence = itertools.count(1)


class Batch(NamedTuple):
    """One sealed batch as the hub hands it to a connector: ``connector.submit(batch.deliveries, batch.seal)``."""

    seal: dict[str, Any]
    deliveries: list[SealedItem]


@dataclass
class LiveDepartment:
    """One registered connector's department, simulated; builds connectors, batches and faults for it."""

    name: str
    url: str
    login: str
    password: str
    role: str
    keys_dir: Path  # the simulation's keys: the department's and the hub's, as `lianban simulate` uses them

    @property
    def cls(self) -> type:
        """The connector class registered for this department."""
        return connector_class(self.name)

    def connector(self, password: str | None = None, read_timeout: float = NORMAL_READ_TIMEOUT) -> Any:
        """The connector as production builds it, from an ``AIRFLOW_CONN_DEPT_*`` connection, checking the
        department's response signature with the public key in ``LIANBAN_KEYS_DIR`` (the simulation's)."""
        env = {conn_env_name(self.name): connection_json(
            self.url, self.login, self.password if password is None else password,
            read_timeout=read_timeout, connect_timeout=2)}
        return load_connector(self.name, department_settings(self.name, env), self.keys_dir)

    def set_faults(self, **faults: Any) -> None:
        """Replace the simulator's faults (``POST /_sim/faults``); no arguments clears them."""
        requests.post(f"{self.url}/_sim/faults", json=faults, timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(f"{self.url}/_sim/stats", timeout=5).json()
        return answer

    @property
    def received(self) -> int:
        """How many distinct messages the simulator kept (deliveries, or events for a sink)."""
        return int(self.stats()["unique" if self.role == "department" else "events"])

    # -- messages ------------------------------------------------------------------------------------
    def item_codes(self) -> list[str]:
        codes = [c for c, i in load_catalog().items.items() if i.department == self.name and i.fields]
        assert codes, f"no item in schemas/catalog/items.yaml sends fields to {self.name}"
        return codes

    def _draft(self, seq: int) -> tuple[dict[str, Any], str]:
        """A synthetic approved application and the item it is delivered for."""
        codes = self.item_codes()
        return synthetic_application(random.Random(seq), seq), codes[seq % len(codes)]

    def item(self, seq: int | None = None) -> Item:
        """One synthetic person's allow-listed fields for one of the department's items, as staged."""
        application, code = self._draft(next(_sequence) if seq is None else seq)
        payload = {f: application[f] for f in load_catalog().items[code].fields}
        case_no = application["case_no"]
        return Item(idempotency_key(case_no, code, self.name), case_no, code, payload)

    def items(self, count: int) -> list[Item]:
        return [self.item() for _ in range(count)]

    def seal(self, items: Sequence[Item]) -> Batch:
        """`items` sealed as one fresh batch for the department, as the hub seals a delivery (or a resend)."""
        return Batch(*seal_items(self.keys_dir, self.name, items))

    def batch(self, count: int) -> Batch:
        """`count` fresh synthetic deliveries, sealed as one batch."""
        return self.seal(self.items(count))

    def items_on_every_path(self) -> list[Item]:
        """One item for each status path the simulator knows, so that every status is reached."""
        wanted = {path for _, path, _ in PATHS}
        chosen: dict[tuple[Status, ...], int] = {}
        for seq in itertools.islice(_sequence, 5000):
            application, code = self._draft(seq)
            key = idempotency_key(application["case_no"], code, self.name)
            chosen.setdefault(choose_path(key)[0], seq)  # the full path: a health path ends one step early
            if set(chosen) == wanted:
                return [self.item(seq) for seq in chosen.values()]
        raise AssertionError("no delivery found for some status path in 5000 tries")

    def events(self, count: int, statuses: Sequence[Status] = (Status.ACCEPTED,)) -> list[ProgressEvent]:
        """Progress events for a sink: fresh event ids, one synthetic case each."""
        item = next(code for code, i in load_catalog().items.items() if i.fields)
        department = load_catalog().items[item].department
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return [ProgressEvent(seq, f"BZTX{seq:012d}", item, department, statuses[n % len(statuses)], now)
                for n, seq in enumerate(next(_sequence) for _ in range(count))]

    def probe(self, connector: Any) -> Any:
        """One call that reaches the department's API with a fresh message: submit, or push for a sink."""
        if self.role == "department":
            batch = self.batch(1)
            return connector.submit(batch.deliveries, batch.seal)
        return connector.push(self.events(1))


def assert_redacted(exc: BaseException, *secrets: str) -> None:
    """No secret in the message, the repr or the printed traceback of `exc`."""
    shown = (str(exc), repr(exc), "".join(traceback.format_exception(exc)))
    for secret in secrets:
        assert not any(secret in text for text in shown), f"a secret leaked into {type(exc).__name__}"


def settled(department: str, status: Status) -> bool:
    """The department has nothing more to say once it reports `status` (a final status; 审核通过 for an item
    another party completes: health's eligibility for item 13, paid and completed by HRSS)."""
    items = [i for i in load_catalog().items.values() if i.department == department]
    return all(i.settled(department, status) for i in items)


def reported_statuses(department: str) -> set[Status]:
    """Every unified status `department` itself may report (已办结 only for items it completes)."""
    completes = any(i.completer == department for i in load_catalog().items.values() if i.department == department)
    return set(Status) if completes else set(Status) - {Status.COMPLETED}


def wait_until_terminal(connector: Any, live: LiveDepartment, deliveries: Sequence[SealedItem],
                        timeout: float = 8 * STEP_SECONDS + 5) -> list[Any]:
    """Poll every POLL_EVERY seconds until every delivery is settled (:func:`settled`), bringing the materials any
    补正资料 asks for as an applicant would (:func:`simulators.kit.supply_asked`); every update and supplement
    receipt seen, in order."""
    seen: list[Any] = []
    keys = [d.idempotency_key for d in deliveries]
    deadline = time.monotonic() + timeout
    while True:
        updates = connector.poll(keys)
        seen += updates
        if len(updates) == len(keys) and all(settled(connector.department, u.status) for u in updates):
            return seen
        assert time.monotonic() < deadline, f"not terminal after {timeout} s: {[u.status for u in updates]}"
        seen += supply_asked(connector, live.keys_dir, deliveries, updates)
        time.sleep(POLL_EVERY)
