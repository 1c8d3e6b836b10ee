"""The hub's peak memory in a bench: its processes added up (workers and helpers their own children), the
simulators left out (:mod:`bench.memory`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from bench.memory import HubMemory

HOLD = ("import sys, time; block = b'x' * (int(sys.argv[1]) * 2**20); print('ready', flush=True); "
        "time.sleep(60)")
#: a process holding 40 MB whose own child holds 40 MB more (a staging run and its worker)
WITH_WORKER = ("import subprocess, sys, time; hold = sys.argv[1]; "
               "child = subprocess.Popen([sys.executable, '-c', hold, '40'], stdout=subprocess.PIPE); "
               "child.stdout.readline(); block = b'x' * (40 * 2**20); print('ready', flush=True); time.sleep(60)")


@contextmanager
def _running(*args: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_the_hubs_processes_are_added_up_and_the_simulators_left_out() -> None:
    # this test's process may already run others' children (a session's simulators): left out like the simulators
    before = [p.pid for p in psutil.Process().children()]
    with _running(HOLD, "80") as simulators, _running(WITH_WORKER, HOLD), _running(HOLD, "40"):
        memory = HubMemory(excluded=[simulators.pid, *before]).start()
        peak = memory.stop()
    # three hub processes of 40 MB each at once: the largest alone (what ru_maxrss says) is a third of it
    assert peak["processes"] == 3
    assert 40 <= peak["largest_mb"] < 75  # not the simulators' 80 MB
    assert peak["together_mb"] >= 120
