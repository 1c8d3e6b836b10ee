"""The 一体反馈 status machine, loaded from ``schemas/catalog/status_machine.yaml``: which moves an item may make
between the seven statuses, and the case (办件) status its items add up to.

A report may skip statuses nobody saw (a department polled every few minutes shows only where an item is
now), so a move is legal when the new status is *reachable* from the current one along the edges. What a
report does to an item (:meth:`StatusMachine.judge`)::

    APPLY     the new status is reachable from the current one (or it is the item's first report)
    REPEAT    the same status again (a duplicate): nothing moves (a changed reason is still recorded)
    STALE     the report is older than the item's current status (out of order): nothing changes
    ILLEGAL   any other move (an 已办结 item "受理" again): kept with the sender's words, alerted, not applied
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any

import yaml

from lianban.domain.clock import moment_of
from lianban.domain.schemas import schema_path
from lianban.domain.statuses import Status
from lianban.errors import ConfigError

__all__ = ["NO_STATUS", "Move", "StatusMachine", "load_status_machine"]

#: how an item without any report yet is named in the case rules
NO_STATUS = "未反馈"


class Move(StrEnum):
    APPLY = "apply"
    REPEAT = "repeat"
    STALE = "stale"
    ILLEGAL = "illegal"


@dataclass(frozen=True)
class CaseRule:
    """``any``: some item is in one of `names`; ``all``: every item is."""

    quantifier: str
    names: frozenset[str]
    status: Status

    def matches(self, names: Collection[str]) -> bool:
        hits = [n in self.names for n in names]
        return any(hits) if self.quantifier == "any" else all(hits)


@lru_cache(maxsize=1024)  # a batch's receipts share one time (and an item's first report has none before it)
def _moment(text: str | None) -> datetime | None:
    try:
        return moment_of(text or "")
    except ValueError:
        return None


@dataclass(frozen=True, eq=False)  # compared (and cached) by identity: one per process
class StatusMachine:
    edges: Mapping[Status, frozenset[Status]]
    initial: frozenset[Status]
    case_rules: tuple[CaseRule, ...]
    #: moves back, only from the item's current status (补正资料 → 受理, and on from there), never part of a
    #: skipped path (审核中 → 补正资料 → 受理 is not a move 审核中 may make)
    back: Mapping[Status, frozenset[Status]] = field(default_factory=dict)

    def reachable(self, current: Status | None) -> frozenset[Status]:
        """Every status an item in `current` (None: no report yet) may report next (worked out once per status:
        every status move asks it)."""
        return _reachable(self, current)

    def judge(self, current: Status | None, current_at: str | None, new: Status, new_at: str) -> Move:
        """What a report of `new` (at `new_at`) does to an item now in `current` (since `current_at`). A report
        older than the current status is stale whatever it says, its status included: a late echo of an earlier
        审核中 must not bring the item's time back (and the reports since would then be applied again)."""
        before, after = _moment(current_at), _moment(new_at)
        if current is not None and before is not None and after is not None and after < before:
            return Move.STALE
        if new == current:
            return Move.REPEAT
        return Move.APPLY if new in self.reachable(current) else Move.ILLEGAL

    def case_status(self, statuses: Iterable[Status | None]) -> Status:
        """The case's status from its items' (module docstring of the YAML: first matching rule). A rule asks
        only which statuses are among the items, so the answer is worked out once per set of them (a report
        run asks it for every event it pushes)."""
        return _case_status(self, frozenset(s.value if s is not None else NO_STATUS for s in statuses))


@cache
def _case_status(machine: StatusMachine, names: frozenset[str]) -> Status:
    for rule in machine.case_rules:
        if names and rule.matches(names):
            return rule.status
    return Status.ACCEPTED  # a case without items cannot be staged; a safe answer all the same


@cache
def _reachable(machine: StatusMachine, current: Status | None) -> frozenset[Status]:
    back = machine.back.get(current, frozenset()) if current is not None else frozenset()
    return _closure(machine, current).union(back, *(_closure(machine, b) for b in back))


@cache
def _closure(machine: StatusMachine, current: Status | None) -> frozenset[Status]:
    frontier = set(machine.initial) if current is None else set(machine.edges[current])
    seen: set[Status] = set()
    while frontier:
        status = frontier.pop()
        if status not in seen:
            seen.add(status)
            frontier |= machine.edges[status]
    return frozenset(seen)


def _status(name: Any, path: str) -> Status:
    try:
        return Status(name)
    except ValueError:
        raise ConfigError(f"{path}: {name!r} 不是七个统一状态之一 (not one of the seven statuses)") from None


def _parse(data: Any, path: str) -> StatusMachine:
    edges = {_status(s["name"], path): frozenset(_status(n, path) for n in s.get("next") or ())
             for s in data["statuses"]}
    missing = [s.value for s in Status if s not in edges]
    final_with_exit = [s.value for s in edges if s.is_terminal() and edges[s]]
    if missing or final_with_exit:
        raise ConfigError(f"{path}: 状态机不完整或终态有出口 (missing {missing}, final with exits "
                          f"{final_with_exit})")
    rules = tuple(CaseRule(q, frozenset(r[q]), _status(r["status"], path))
                  for r in data["case_status"] for q in ("any", "all") if q in r)
    back = {_status(s["name"], path): frozenset(_status(n, path) for n in s["back"])
            for s in data["statuses"] if s.get("back")}
    return StatusMachine(edges, frozenset(_status(n, path) for n in data["initial"]), rules, back)


@cache
def load_status_machine() -> StatusMachine:
    """Load and check the status machine once per process; a broken file is a ConfigError naming it."""
    path = schema_path("catalog", "status_machine.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return _parse(data, str(path))
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(f"无法读取状态机 {path}（{type(exc).__name__}）(cannot read the status machine)") from None
