"""HRSS's status log (lianban.pipeline.status_log) against the other writers of the same items: a final status
stays final whichever commits first."""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.hrss.frontend import FrontendDB
from connectors.hrss.statuses import CODES
from lianban.app.config import Paths
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, StatusEvent
from lianban.pipeline import notices, status_log
from lianban.pipeline.stage import stage
from simulators.people import generate

HRSS_OWN = {f"{n:02d}" for n in range(1, 11)}


def _held_with_hrss_item(paths: Paths, ledger_url: str) -> tuple[FrontendDB, str, str]:
    """A 前置库 whose one application (a wrong ID check digit) is held, told 补正资料; its 办件编号 and one of
    HRSS's own items it chose."""
    app = next(a for a in generate(40, seed=3) if HRSS_OWN & set(a["items"].split(",")))
    app = {**app, "id_number": app["id_number"][:17] + ("0" if app["id_number"][17] != "0" else "1")}
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    assert stage(db, ledger_url, paths.keys_dir).quarantined == 1
    return db, app["case_no"], min(HRSS_OWN & set(app["items"].split(",")))


def _statuses(ledger_url: str, case_no: str, code: str) -> tuple[list[str], str]:
    """The item's events' statuses in order, and its status now."""
    with session_factory(ledger_url)() as s:
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == case_no, CaseItem.item_code == code)).one()
        events = s.scalars(select(StatusEvent.status).where(StatusEvent.case_item_id == item.id)
                           .order_by(StatusEvent.id)).all()
        return list(events), item.status


def _statuses_now(ledger_url: str, case_no: str) -> dict[str, str]:
    with session_factory(ledger_url)() as s:
        return dict(s.execute(select(CaseItem.item_code, CaseItem.status).join(Case)  # type: ignore[arg-type]
                              .where(Case.case_no == case_no)).all())


def _refuse(ledger_url: str, case_no: str) -> None:
    """An operator refuses the held case (as ``lianban quarantine reject`` does, without its evidence entry)."""
    with session_factory(ledger_url).begin() as session:
        notices.refuse(session, case_no, "材料不实")


def test_an_operator_refusing_while_a_log_page_is_judged_waits_and_the_completed_item_stays_completed(
        paths: Paths, ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """HRSS completes its item (已办结) while an operator refuses the held case (不予受理): the refusal waits for
    the page and then leaves the completed item alone; it does not become refused after being completed."""
    db, case_no, code = _held_with_hrss_item(paths, ledger_url)
    others = set(_statuses_now(ledger_url, case_no)) - {code}
    db.append_status(case_no, code, CODES[Status.COMPLETED], at="2030-01-01T09:00:00+08:00")
    judged, go, real = threading.Event(), threading.Event(), status_log._Staged.of

    def paused(session: Session, case_nos: Collection[str]) -> Any:
        staged = real(session, case_nos)
        if case_no in case_nos:  # the page (not the waiting rows retried before it)
            judged.set()
            go.wait(20)
        return staged

    monkeypatch.setattr(status_log._Staged, "of", staticmethod(paused))
    collect = threading.Thread(target=status_log.collect_hrss, args=(db, ledger_url, paths.keys_dir))
    collect.start()
    assert judged.wait(20)
    refusing = threading.Thread(target=_refuse, args=(ledger_url, case_no))
    refusing.start()
    refusing.join(timeout=1)
    waited = refusing.is_alive()
    go.set()
    collect.join(timeout=60)
    refusing.join(timeout=60)
    assert _statuses(ledger_url, case_no, code) == ([Status.SUPPLEMENT.value, Status.COMPLETED.value],
                                                    Status.COMPLETED.value)
    assert waited  # the refusal waited for the page that was judging the item
    assert _statuses_now(ledger_url, case_no) == {c: Status.NOT_ACCEPTED.value for c in others} | {
        code: Status.COMPLETED.value}  # the rest of the case is refused all the same


def test_a_log_page_judged_while_an_operator_refuses_waits_and_the_refused_item_stays_refused(
        paths: Paths, ledger_url: str) -> None:
    """The other order: the refusal is being written when HRSS's 已办结 is read; the page waits for it, then
    finds the item refused (final) and does not complete it on top."""
    db, case_no, code = _held_with_hrss_item(paths, ledger_url)
    db.append_status(case_no, code, CODES[Status.COMPLETED], at="2030-01-01T09:00:00+08:00")
    collect = threading.Thread(target=status_log.collect_hrss, args=(db, ledger_url, paths.keys_dir))
    with session_factory(ledger_url).begin() as refusing:
        assert notices.refuse(refusing, case_no, "材料不实") >= 1
        collect.start()
        collect.join(timeout=1)
        waited = collect.is_alive()
    collect.join(timeout=60)
    assert _statuses(ledger_url, case_no, code) == ([Status.SUPPLEMENT.value, Status.NOT_ACCEPTED.value],
                                                    Status.NOT_ACCEPTED.value)
    assert waited  # the page waited for the refusal's transaction
