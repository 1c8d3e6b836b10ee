"""Delivered items for tests that need the hub to know some deliveries: synthetic approvals staged and pushed."""

from __future__ import annotations

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.pipeline.deliver import deliver
from lianban.pipeline.stage import stage
from simulators.people import generate


def deliver_items(paths: Paths, department: str, count: int, seed: int, items: str) -> None:
    """`count` synthetic approvals choosing `items` (e.g. "01,14"), staged, and `department`'s items delivered
    (the department's simulator must be running: the `simulation` fixture or :func:`simulators.runner.start`)."""
    db = FrontendDB(paths.frontend_url)
    apps = list(generate(count, seed=seed))
    for app in apps:
        app["items"] = items
    db.insert_applications(apps)
    stage(db, paths.ledger_url, paths.keys_dir)
    peer = load_department(department, department_settings(department), paths.keys_dir)
    deliver(peer, paths.ledger_url, 100, paths.keys_dir)
