"""Lanes: one run's work on several connections to the same party at once.

A run that takes turns with a department, one batch or page at a time, leaves the hub idle while the
department works and the department idle while the hub seals, settles or records: with two lanes one waits for
its answer while the other does its own part (a 100,000-record delivery 52 s with one lane, 44 s with two;
medical's poll of 37,713 open items 11.0–13.1 s with one, 8.5–9.0 s with two). Each lane runs the whole loop
on work of its own (a batch it claimed, a page it took) over its own connection, so what its answer proves
(the proofs its transport keeps) is never another lane's. Whatever ends one lane early (a stop, an error) ends
the others after the unit they are on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import fields, replace
from typing import Any, ClassVar, Protocol, TypeVar

__all__ = ["Counts", "in_lanes", "merged"]


class Counts(Protocol):
    """A run's result (a dataclass): integer counts, and why it stopped early (None: it did not)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    stopped_by: str | None


L = TypeVar("L")
R = TypeVar("R", bound=Counts)


def in_lanes(lanes: Sequence[L], drain: Callable[[L, threading.Event | None], R], name: str) -> R:
    """`drain` of every lane at once, each in a thread (`name` its prefix), their counts added up (:func:`merged`);
    one lane is drained in the caller's thread, with no stop to watch."""
    if len(lanes) == 1:
        return drain(lanes[0], None)
    stop = threading.Event()
    with ThreadPoolExecutor(len(lanes), thread_name_prefix=name) as pool:
        done = [pool.submit(_lane, drain, lane, stop) for lane in lanes]
        wait(done)
    return merged([lane.result() for lane in done])


def _lane(drain: Callable[[L, threading.Event | None], R], lane: L, stop: threading.Event) -> R:
    """One lane's drain; whatever ends it early (a stop, an error) ends the others after their unit."""
    try:
        result = drain(lane, stop)
    except BaseException:
        stop.set()
        raise
    if result.stopped_by:
        stop.set()
    return result


def merged(results: Sequence[R]) -> R:
    """The lanes' counts added up; ``stopped_by`` the first lane's (in lane order) that says why it stopped (a
    lane that only followed another's stop says nothing)."""
    first = results[0]
    counts = {f.name: sum(getattr(r, f.name) for r in results) for f in fields(first)
              if type(getattr(first, f.name)) is int}
    stopped_by = next((r.stopped_by for r in results if r.stopped_by), None)
    return replace(first, **counts, stopped_by=stopped_by)
