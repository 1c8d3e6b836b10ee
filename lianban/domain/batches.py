"""Batches, not records: the one way a sequence is cut into consecutive batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

__all__ = ["chunks"]

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items (at least one item each), in order."""
    step = max(size, 1)
    for start in range(0, len(items), step):
        yield items[start:start + step]
