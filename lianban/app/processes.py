"""Long-running processes started for an operator, and stopped again by process id.

Each process leads its own session, so its process group holds it and every child it starts; stopping sends
TERM to the group, then KILL after a grace period. A process is known by its pid *and* the kernel's start time
of that pid, so a pid the system has since given to another program is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Started", "alive", "launch", "poll_until", "start_time", "stop"]

STOP_GRACE_SECONDS = 20.0


@dataclass
class Started:
    """One process `up` started, as ``up.json`` keeps it."""

    name: str
    pid: int
    started: str  # the kernel's start time of `pid`: a reused pid is not ours
    log: str


def start_time(pid: int) -> str | None:
    """The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat); None: not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def alive(proc: Started) -> bool:
    return start_time(proc.pid) == proc.started


def launch(name: str, argv: list[str], env: Mapping[str, str], logs: Path, cwd: Path | None = None) -> Started:
    """Start `argv` in its own session (process group), output to ``logs/<name>.log``."""
    log = logs / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return Started(name, proc.pid, start_time(proc.pid) or "", str(log))


def stop(processes: list[Started], grace: float = STOP_GRACE_SECONDS) -> list[str]:
    """TERM every live process group, KILL what is left after `grace`; the names of those that were live."""
    live = [p for p in reversed(processes) if alive(p)]
    for proc in live:
        _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(p) for p in live) and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in live:
        _signal_group(proc.pid, signal.SIGKILL)  # the group: children outliving a stopped leader too
    poll_until(lambda: not any(alive(p) for p in live), bool, 5.0, interval=0.1)
    return [p.name for p in live]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)  # each process leads its own session, so its group id is its pid


def poll_until(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float, interval: float = 0.5) -> Any:
    """`read()` until `done(value)` or `timeout` seconds; the last value (exceptions count as not done)."""
    deadline, value = time.monotonic() + timeout, None
    while True:
        try:
            value = read()
            if done(value):
                return value
        except (OSError, ValueError):  # requests.RequestException is an OSError, a bad JSON body a ValueError
            pass
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)
