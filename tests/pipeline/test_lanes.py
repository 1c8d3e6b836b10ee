"""Lanes: a run's work on several connections at once, stopped together (their counts added up:
tests/pipeline/test_concurrent_delivery.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from lianban.pipeline.lanes import in_lanes


@dataclass
class _Counts:
    party: str
    sent: int = 0
    refused: int = 0
    stopped_by: str | None = None


def test_one_lane_is_drained_in_the_callers_thread_with_nothing_to_stop_it() -> None:
    seen: list[tuple[str, threading.Event | None]] = []

    def drain(lane: str, stop: threading.Event | None) -> _Counts:
        seen.append((threading.current_thread().name, stop))
        return _Counts(lane, 1)
    assert in_lanes(["a"], drain, "test") == _Counts("a", 1)
    assert seen == [(threading.current_thread().name, None)]


def test_a_lane_that_stops_stops_the_others_after_the_unit_they_are_on() -> None:
    units = {"a": 0, "b": 0}
    started = threading.Barrier(2, timeout=10)

    def drain(lane: str, stop: threading.Event | None) -> _Counts:
        assert stop is not None
        started.wait()
        if lane == "a":
            return _Counts(lane, 0, 0, "部门不可达")
        while not stop.wait(0.01):  # b works unit after unit until told
            units[lane] += 1
        return _Counts(lane, units[lane])
    total = in_lanes(["a", "b"], drain, "test")
    assert total.stopped_by == "部门不可达" and total.sent == units["b"]


def test_an_error_in_one_lane_ends_the_others_and_is_raised() -> None:
    def drain(lane: str, stop: threading.Event | None) -> _Counts:
        assert stop is not None
        if lane == "a":
            raise RuntimeError("坏了")
        assert stop.wait(10), "the other lane was never told to stop"
        return _Counts(lane)
    with pytest.raises(RuntimeError, match="坏了"):
        in_lanes(["a", "b"], drain, "test")
