"""One drill's world: a fresh lianban home with a seeded 前置库, the simulators in their own process on loopback,
and the pipeline steps run as ``lianban run …`` subprocesses against them (as Airflow runs one task per step).

Every drill gets its own home and its own ports (the simulators bind port 0), so drills run side by side. The
前置库 is seeded with synthetic people whose rows are all valid (:func:`simulators.people.repair` over
:func:`~simulators.people.generate`): what the departments must end up holding is then known from the source
alone, without asking the hub.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from bench.kit import CLI, ROOT, SEED, cli, fresh_home, seed, start_simulators, stop

RUN_STEPS = ("stage", "deliver", "supplements", "report")  # + collect: what `lianban run` offers


def seed_valid(frontend_url: str, records: int) -> None:
    """`records` synthetic approvals, every row valid and each person once, into the 前置库 at `frontend_url`."""
    from simulators.people import generate, repair

    seed(frontend_url, islice(_distinct(repair(row) for row in generate(10**9, seed=SEED)), records))


def _distinct(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each person once. The generator's people repeat at scale (17 in 10,000), and a person's second open case
    is held by design (DUPLICATE_PERSON): a drill counts what faults do to deliveries, not the hold rule."""
    seen: set[str] = set()
    for row in rows:
        if row["id_number"] not in seen:
            seen.add(row["id_number"])
            yield row


@dataclass
class World:
    """A home, its environment (``LIANBAN_HOME``, the simulated departments' connections) and the simulators."""

    home: Path
    env: dict[str, str]
    records: int
    step: float
    sim: subprocess.Popen[str] | None = None
    urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, home: Path, records: int, step: float = 86400.0, with_hrss: bool = False,
               faults: str = "") -> World:
        """Init a fresh home, seed `records` approvals and start the simulators (status step `step` seconds;
        HRSS's back office and the applicants too when `with_hrss`; `faults` as in :mod:`simulators.faults`)."""
        from lianban.app.config import Paths

        env = fresh_home(home)
        seed_valid(Paths.from_env(env).frontend_url, records)
        world = cls(home, env, records, step)
        world._start_simulators(with_hrss, faults)
        return world

    @property
    def frontend_url(self) -> str:
        from lianban.app.config import Paths

        return Paths.from_env(self.env).frontend_url

    @property
    def keys_dir(self) -> Path:
        from lianban.app.config import Paths

        return Paths.from_env(self.env).keys_dir

    def _start_simulators(self, with_hrss: bool, faults: str) -> None:
        self.sim, self.urls = start_simulators(self.env, self.step, with_hrss, faults)

    def spawn(self, *args: str, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
        """``lianban ARGS`` started in its own process (not waited for)."""
        return subprocess.Popen([*CLI, *args], env=self.env, cwd=ROOT, text=True, stdout=stdout,
                                stderr=subprocess.DEVNULL)

    def cli(self, *args: str, check: bool = True) -> dict[str, Any]:
        """``lianban ARGS --json`` in this world's environment (:func:`bench.kit.cli`)."""
        return cli(self.env, *args, check=check)

    def run(self, step: str, *args: str) -> dict[str, Any]:
        """``lianban run STEP ARGS`` as the CLI runs it, but in this process (the same job functions, this
        world's environment): no interpreter start and no imports per step. A source failing is its entry's
        ``{"error": why}``, as ``lianban run collect`` says it."""
        from lianban.app import jobs

        with self.environment():
            if step == "collect":
                return {"hrss": _isolated(jobs.collect_hrss),
                        **{d: _isolated(partial(jobs.poll, d)) for d in jobs.pushed_departments()},
                        "payments": _isolated(jobs.request_payments)}
            if step not in RUN_STEPS:
                raise ValueError(f"no step {step!r}; steps are collect, {', '.join(RUN_STEPS)}")
            return _isolated(partial(getattr(jobs, step), *args))

    @contextmanager
    def environment(self) -> Iterator[None]:
        """This world's environment as the process's own while the block runs (jobs read it, as in a task)."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def reconciliation(self) -> dict[str, Any]:
        """``lianban report --json`` for today (Beijing), read in this process."""
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from lianban.app.config import Paths
        from lianban.ledger.reconciliation import reconcile

        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        return reconcile(Paths.from_env(self.env).existing_ledger(), today).as_dict()

    def set_faults(self, party: str, **faults: Any) -> None:
        """Replace a simulated party's faults now (``{}`` heals it); its request count restarts."""
        requests.post(f"{self.urls[party]}/_sim/faults", json=faults, timeout=10).raise_for_status()

    def stats(self, party: str) -> dict[str, Any]:
        """The party's own counters (``/_sim/stats``)."""
        answer = requests.get(f"{self.urls[party]}/_sim/stats", timeout=10)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def close(self) -> None:
        if self.sim is not None:
            stop(self.sim)

    def __enter__(self) -> World:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def _isolated(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    from lianban.errors import LianbanError

    try:
        return step()
    except LianbanError as exc:
        return {"error": str(exc)}


def wait_until(done: Any, timeout: float, every: float = 0.05) -> bool:
    """Call `done()` until it is true or `timeout` seconds pass; whether it came true."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def finished(procs: dict[str, subprocess.Popen[str]]) -> Iterator[str]:
    """Names of the processes that have exited."""
    return (name for name, proc in procs.items() if proc.poll() is not None)
