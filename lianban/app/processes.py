"""Long-running processes started for an operator, and stopped again by process id.

Each process leads its own session, so its process group holds it and every child it starts; stopping sends
TERM to the group, then KILL after a grace period, and the same to every descendant that moved to a group of
its own (an Airflow task). A process is known by its pid *and* the kernel's start time
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


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first, then the parent's pid …); None: gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> str | None:
    """The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat); None: not running."""
    fields = _stat(pid)
    return None if fields is None or fields[0] == "Z" else fields[19]


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
    """TERM every live process group, KILL what is left after `grace`; the names of those that were live.

    Their descendants are stopped too, found by parent id while the leaders live: a process that moved to a
    group of its own (Airflow runs each task in one) would escape its leader's group and outlive ``down``."""
    live = [p for p in reversed(processes) if alive(p)]
    family = _descendants(live)
    _signal(live, family, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(p) for p in live) and time.monotonic() < deadline:
        time.sleep(0.2)
        family += [p for p in _descendants(live) if p not in family]  # one started meanwhile
    _signal(live, family, signal.SIGKILL)
    poll_until(lambda: not any(alive(p) for p in [*live, *family]), bool, 5.0, interval=0.1)
    return [p.name for p in live]


def _descendants(leaders: list[Started]) -> list[Started]:
    """Every live process below `leaders` (children, their children …), each with its start time."""
    stats = {int(proc.name): _stat(proc.name) for proc in Path("/proc").iterdir() if proc.name.isdigit()}
    parents = {pid: int(fields[1]) for pid, fields in stats.items() if fields is not None}  # None: gone meanwhile
    found: set[int] = set()
    frontier = {p.pid for p in leaders if alive(p)}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return [Started("descendant", pid, started, "") for pid in sorted(found) if (started := start_time(pid))]


def _signal(leaders: list[Started], family: list[Started], sig: signal.Signals) -> None:
    """`sig` to each leader's group (children outliving a stopped leader too: its group id is its pid, as it
    leads its own session), and to each descendant still running (its group, when it leads one)."""
    for proc in leaders:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    for proc in family:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if not alive(proc):  # gone, or its pid given since to another program: left alone
                continue
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)


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
