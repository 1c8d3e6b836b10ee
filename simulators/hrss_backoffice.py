"""HRSS's back office (人社经办系统), simulated: it works its own items and logs their statuses in the 前置库.

Every tick, each HRSS item that is not final moves one step along the path the shared engine chooses for
it (受理 → 审核中 → 审核通过 → 已办结 for most), appended to the 前置库 status log as HRSS would. An item at
补正资料 (naming its materials by catalog code, as the departments do) stays there until the window has
recorded a 补正 submission for it in the 前置库 (``T_LB_BZTJ``); the tick after, it moves on.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB, applications, status_log, supplements
from connectors.hrss.mapping import APPLICATION_COLUMNS as A
from connectors.hrss.mapping import STATUS_COLUMNS as S
from connectors.hrss.mapping import SUPPLEMENT_COLUMNS as B
from connectors.hrss.statuses import CODES, STATUSES
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from simulators.engine import choose_path, supplement_materials, supplement_reason


class HrssBackOffice:
    """Advances HRSS's own items in the 前置库 every `step_seconds` until stopped."""

    def __init__(self, frontend: FrontendDB, step_seconds: float) -> None:
        self.frontend = frontend
        self.step_seconds = step_seconds
        self.hrss_items = {c for c, i in load_catalog().items.items() if i.department == "hrss"}
        self._stop = threading.Event()

    def _latest(self) -> dict[tuple[str, str], str]:
        query = select(status_log.c[S["case_no"]], status_log.c[S["item_code"]], status_log.c[S["status_code"]]) \
            .order_by(status_log.c[S["seq"]])
        with self.frontend.engine.connect() as conn:
            return {(c, i): code for c, i, code in conn.execute(query)}

    def _chosen(self) -> list[tuple[str, str]]:
        query = select(applications.c[A["case_no"]], applications.c[A["items"]])
        with self.frontend.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(case, code) for case, items in rows for code in items.split(",") if code in self.hrss_items]

    def _supplied(self) -> set[tuple[str, str]]:
        query = select(supplements.c[B["case_no"]], supplements.c[B["item_code"]])
        with self.frontend.engine.connect() as conn:
            return {(c, i) for c, i in conn.execute(query)}

    def awaiting_supplement(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(办件编号, 事项编码, materials) of every HRSS item at 补正资料 with no 补正 submission recorded yet."""
        latest, supplied = self._latest(), self._supplied()
        return [(case_no, item, supplement_materials(f"hrss|{case_no}|{item}"))
                for (case_no, item), code in latest.items()
                if STATUSES[code] is Status.SUPPLEMENT and (case_no, item) not in supplied]

    def tick(self) -> int:
        """Move every unfinished HRSS item one step (one at 补正资料 only once supplied); returns how many moved."""
        latest, supplied, moved = self._latest(), self._supplied(), 0
        for case_no, item in self._chosen():
            key = f"hrss|{case_no}|{item}"
            path, end_reason = choose_path(key)
            code = latest.get((case_no, item))
            index = path.index(STATUSES[code]) + 1 if code else 0
            waiting = code is not None and STATUSES[code] is Status.SUPPLEMENT and (case_no, item) not in supplied
            if index >= len(path) or waiting:
                continue
            status = path[index]
            reason = end_reason if status.is_terminal() and end_reason else None
            materials = supplement_materials(key) if status is Status.SUPPLEMENT else ()
            self.frontend.append_status(case_no, item, CODES[status], supplement_reason(materials) if materials
                                        else reason, datetime.now(UTC).isoformat(timespec="seconds"), materials)
            moved += 1
        return moved

    def run(self) -> None:
        while not self._stop.wait(self.step_seconds):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
