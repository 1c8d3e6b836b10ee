"""A department's client-side rate limit holds a batch back before it is sealed, not after: a batch sealed and
then made to wait for its turn could reach the department stale (BATCH_STALE) and be refused whole."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery
from lianban.pipeline.deliver import deliver
from lianban.pipeline.stage import stage
from lianban.pipeline.supplements import collect_supplements, forward_supplements
from lianban.wire.contract import DepartmentConnector, Peer
from simulators.people import generate

DEPT = "housing_fund"
INTERVAL = 4.0  # seconds between two requests the department allows us
FRESH = 2.0  # seconds a sealed batch stays fresh at the department here (300 in production)


def _staged(paths: Paths, db: FrontendDB) -> int:
    apps = list(generate(12, seed=5))
    for app in apps:
        app["items"] = "01,14"
    db.insert_applications(apps)
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as session:
        return int(session.scalar(select(func.count()).select_from(Delivery).where(Delivery.department == DEPT))
                   or 0)


def _limited(paths: Paths) -> Peer[DepartmentConnector]:
    """The department's connector allowed one request every INTERVAL seconds."""
    settings = department_settings(DEPT)
    return load_department(DEPT, replace(settings, transport=replace(settings.transport, rate_limit=1 / INTERVAL)),
                           paths.keys_dir)


def test_a_batch_waiting_for_the_rate_limit_is_sealed_once_its_turn_came(paths: Paths, simulation: Any) -> None:
    """One request every INTERVAL seconds, a seal fresh for FRESH: the second batch was sealed at once and sent
    INTERVAL later, refused as stale (the run stopped, alerted, the rows backed off); it is sealed when it may go."""
    staged = _staged(paths, FrontendDB(paths.frontend_url))
    simulation.engines[DEPT].opener.max_skew = FRESH
    result = deliver(_limited(paths), paths.ledger_url, -(-staged // 2), paths.keys_dir)
    assert staged > 1 and result.stopped_by is None, result.stopped_by
    assert result.accepted == staged


def test_a_batch_of_supplements_waiting_for_the_rate_limit_is_sealed_once_its_turn_came(
        paths: Paths, simulation: Any) -> None:
    db = FrontendDB(paths.frontend_url)
    _staged(paths, db)
    deliver(load_department(DEPT, department_settings(DEPT), paths.keys_dir), paths.ledger_url, 100, paths.keys_dir)
    with session_factory(paths.ledger_url)() as session:
        items = session.execute(select(Case.case_no, CaseItem.item_code).join(CaseItem, CaseItem.case_id == Case.id)
                                .where(CaseItem.department == DEPT).limit(2)).all()
    for case_no, item_code in items:
        db.record_supplement(case_no, item_code, ["M01"])
    assert collect_supplements(db, paths.ledger_url).pending == 2
    simulation.engines[DEPT].opener.max_skew = FRESH
    result = forward_supplements(_limited(paths), paths.ledger_url, 1, paths.keys_dir)
    assert result.stopped_by is None and result.accepted == 2, result.stopped_by
