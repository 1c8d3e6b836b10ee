"""Applicants, simulated: told to bring materials (补正告知), they come back to the HRSS window.

The runner hands the applicant a callable, ``pending_supplements() -> [(办件编号, 事项编码, materials)]``: every
item some department (or HRSS's back office) holds at 补正资料 waiting for materials. The simulated world reads
the departments' own records for it, never the hub's ledger. One step (``step_seconds``) after an applicant
first learns of a 补正, the window records one submission of the materials asked for in the HRSS 前置库
(``T_LB_BZTJ``, :meth:`connectors.hrss.frontend.FrontendDB.record_supplement`), as an HRSS clerk would. In the
simulated world an item asks for materials at most once, so one submission per case item is one per 补正
episode; an item already in the table is never submitted again (also across restarts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB, supplements
from connectors.hrss.mapping import SUPPLEMENT_COLUMNS as B

#: (办件编号, 事项编码, material codes asked for)
Pending = tuple[str, str, tuple[str, ...]]


class SimulatedApplicant:
    """Brings the materials asked for to the HRSS window, a step after being told, until stopped."""

    def __init__(self, frontend: FrontendDB, pending_supplements: Callable[[], Iterable[Pending]],
                 step_seconds: float) -> None:
        self.frontend = frontend
        self.pending_supplements = pending_supplements
        self.step_seconds = step_seconds
        self._told: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()

    def _submitted(self) -> set[tuple[str, str]]:
        query = select(supplements.c[B["case_no"]], supplements.c[B["item_code"]])
        with self.frontend.engine.connect() as conn:
            return {(c, i) for c, i in conn.execute(query)}

    def tick(self) -> int:
        """Record a submission for every 补正 known for a step and not yet supplied; returns how many."""
        now, done, written = time.monotonic(), self._submitted(), 0
        for case_no, item_code, materials in self.pending_supplements():
            told = self._told.setdefault((case_no, item_code), now)
            if (case_no, item_code) in done or now - told < self.step_seconds:
                continue
            self.frontend.record_supplement(case_no, item_code, materials)
            done.add((case_no, item_code))
            written += 1
        return written

    def run(self) -> None:
        while not self._stop.wait(self.step_seconds or 0.1):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
