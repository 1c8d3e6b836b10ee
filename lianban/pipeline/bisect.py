"""Isolate what a receiver refuses in a batch by splitting it, so one poison item never takes its batch down.

``attempt(batch)`` sends a batch and says what became of it: True (settled, go on), False (stop the run), or
a :class:`Refusal` (the receiver refused something *in* the batch: split it in two and try each half, down to
single items). :func:`isolate` returns whether to go on, the single items refused (with the receiver's code
and reason) and how many splits it took. If every item of a batch of several ends up refused on its own, the
fault is not in the items (:func:`systemic`): the caller backs them off and alerts instead of refusing them.
A refusal that names the request's form (``of_request``: malformed, off the schema) shows a single item at
fault only if the same form got through for another part of the batch; otherwise (a batch of one, or nothing
else passed) the item is ``unproven`` and the caller backs it off too.
Deliveries to departments and events to 皖事通办 both go through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Isolated", "Refusal", "isolate", "systemic"]

T = TypeVar("T")


@dataclass(frozen=True)
class Refusal(Generic[T]):
    """The receiver refused something in `items` (the batch as actually sent), with its code and reason."""

    items: Sequence[T]
    code: str
    reason: str
    of_request: bool = False  # the code names the request's form, not anything in an item


@dataclass
class Isolated(Generic[T]):
    going: bool = True
    refused: list[tuple[T, str, str]] = field(default_factory=list)  # (item, code, reason)
    splits: int = 0
    unproven: list[T] = field(default_factory=list)  # refused alone by the request's form, nothing else passed


def isolate(items: Sequence[T], attempt: Callable[[Sequence[T]], bool | Refusal[T]]) -> Isolated[T]:
    """Send `items` through `attempt`, splitting what is refused down to single items (module docstring)."""
    result: Isolated[T] = Isolated()
    by_form: list[T] = []
    passed = False

    def send(batch: Sequence[T]) -> bool:
        nonlocal passed
        outcome = attempt(batch)
        if not isinstance(outcome, Refusal):
            passed = passed or outcome
            return outcome
        if len(outcome.items) == 1:
            result.refused.append((outcome.items[0], outcome.code, outcome.reason))
            by_form.extend(outcome.items if outcome.of_request else ())
            return True
        result.splits += 1
        middle = len(outcome.items) // 2
        return send(outcome.items[:middle]) and send(outcome.items[middle:])

    result.going = send(items)
    result.unproven = [] if passed else by_form
    return result


def systemic(items: Sequence[object], isolated: Isolated[T]) -> bool:
    """Every item of a batch of several refused on its own: not the items' fault."""
    return len(items) > 1 and len(isolated.refused) == len(items)
