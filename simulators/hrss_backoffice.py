"""HRSS's back office (人社经办系统), simulated: it works its own items and logs their statuses in the 前置库.

Every tick, each HRSS item that is not final moves one step along the path the shared engine chooses for
it (受理 → 审核中 → 审核通过 → 已办结 for most), appended to the 前置库 status log as HRSS would. An item at
补正资料 (naming its materials by catalog code, as the departments do) stays there until the window has
recorded a 补正 submission for it in the 前置库 (``T_LB_BZTJ``); the tick after, it moves on. Every payment
request the hub wrote (item 13, the reward health found due) is paid: 已办结 with the amount and the date in
办理结果, the request flagged taken; and every row the hub quarantined is corrected at the source
(:func:`simulators.people.repair`) and flagged for taking again, as the clerk does once the applicant comes
back to the window.
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
from simulators.engine import choose_path, simulated_result, supplement_materials, supplement_reason
from simulators.people import repair


class HrssBackOffice:
    """Advances HRSS's own items in the 前置库 every `step_seconds` until stopped."""

    def __init__(self, frontend: FrontendDB, step_seconds: float, corrects: bool = True) -> None:
        self.frontend = frontend
        self.corrects = corrects  # False: held applications stay held (tests of the hold itself)
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

    def pay(self) -> int:
        """Pay every new payment request (item 13) and confirm it in the status log; returns how many."""
        orders = self.frontend.new_payment_requests()
        for order in orders:
            at = datetime.now(UTC).isoformat()  # to the microsecond: after the approval it pays, never before
            result = simulated_result(order.request_no, order.item_code, "hrss", Status.COMPLETED, at)
            self.frontend.append_status(order.case_no, order.item_code, CODES[Status.COMPLETED], None, at,
                                        result={**(result or {}), "amount": order.amount})
        self.frontend.take_payment_requests([o.request_no for o in orders])
        return len(orders)

    def correct(self) -> int:
        """Correct every quarantined application at the source; returns how many."""
        rows = self.frontend.quarantined()
        for row in rows:
            self.frontend.correct(row.seq, repair(dict(row.values)))
        return len(rows)

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
        """Pay what was asked, correct what was held, then move every unfinished HRSS item one step (one at
        补正资料 only once supplied); returns how many moved."""
        self.pay()
        if self.corrects:
            self.correct()
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
