"""The hub's memory while a bench runs it: every process the bench started (and theirs: staging's preparing and
validation workers, a delivery run's extra processes), the simulators and the bench itself left out.

``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the peak of the single largest child, counted only once it is waited
for: the simulators among them (stopped at the end of a run), and never the sum of the processes that run at
once (three delivery runs and their helpers). :class:`HubMemory` samples instead: the resident set of every hub
process, added up, every `every` seconds (the peak of the sum), and each process's own high-water mark
(``VmHWM``, exact up to its last sample).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from types import TracebackType

import psutil

MB = 1024 * 1024


def _hwm(pid: int) -> int:
    """The process's peak resident set in bytes (``VmHWM``; 0 when it is gone or unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class HubMemory:
    """A sampler of the descendants of this process, but for the trees under `excluded` pids, while the block
    runs (or between :meth:`start` and :meth:`stop`)."""

    def __init__(self, excluded: Iterable[int] = (), every: float = 0.2) -> None:
        self.excluded, self.every = set(excluded), every
        self.together, self.largest, self.processes = 0, 0, 0
        self._seen: set[int] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def _hub(self) -> list[psutil.Process]:
        me, left_out = psutil.Process(os.getpid()), set(self.excluded)
        for pid in self.excluded:
            with suppress(psutil.Error):  # already gone
                left_out |= {p.pid for p in psutil.Process(pid).children(recursive=True)}
        return [p for p in me.children(recursive=True) if p.pid not in left_out]

    def sample(self) -> None:
        """One look: the sum of the hub's resident sets now, and each process's peak so far."""
        total = 0
        for proc in self._hub():
            try:
                total += proc.memory_info().rss
            except psutil.Error:  # ended meanwhile
                continue
            self._seen.add(proc.pid)
            self.largest = max(self.largest, _hwm(proc.pid))
        self.together, self.processes = max(self.together, total), len(self._seen)

    def _run(self) -> None:
        while not self._done.wait(self.every):
            self.sample()

    def start(self) -> HubMemory:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        """Stop sampling; the peaks in MB (``together``: the sum, ``largest``: one process) and how many hub
        processes were seen."""
        self._done.set()
        self._thread.join()
        return {"together_mb": round(self.together / MB, 1), "largest_mb": round(self.largest / MB, 1),
                "processes": self.processes}

    def __enter__(self) -> HubMemory:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 trace: TracebackType | None) -> None:
        if not self._done.is_set():
            self.stop()
