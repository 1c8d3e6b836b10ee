"""The roadmap's "any 一件事 by configuration", as a user would try it: a copy of the repository whose catalog
gains one REST department (口腔) and one item routed to it, with a connector package of two declarations (the
health gateway client and code tables, under the new department's key), and no line of the hub changed. Staging
must route, minimise and seal the new item; a delivery run for the new department must deliver its items (and
no other department's); the status counts must show it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from lianban.app.scaffold import REPO
from tests.catalog_kit import add_item

NAME, ITEM = "dental", "15"
TREE = ("lianban", "connectors", "simulators", "schemas", "pyproject.toml")
IGNORED = shutil.ignore_patterns("__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "*.pyc")

#: runs inside the copy: stage three approvals choosing 01, 13 and 15, deliver the new department, print counts
DRIVER = '''
import json, os, sys
from pathlib import Path
from sqlalchemy import select
from connectors.hrss.frontend import FrontendDB
from lianban.app import jobs
from lianban.app.config import Paths
from lianban.app.demo import connections
from lianban.app.setup import init
from lianban.crypto.vault import open_envelope
from lianban.keys.rings import load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import Delivery
from lianban.ledger.progress import progress
from lianban.pipeline.stage import stage
from simulators.people import generate
from simulators.runner import start

paths = Paths.from_env()
init(paths, with_frontend=True)
db = FrontendDB(paths.frontend_url)
apps = [a for a in generate(20, seed=5)][:3]
for a in apps:
    a["items"] = "01,13,15"
db.insert_applications(apps)
staged = stage(db, paths.ledger_url, paths.keys_dir)
sessions = session_factory(paths.ledger_url)
vault = load_ring(paths.keys_dir, "vault")
with sessions() as s:
    rows = s.scalars(select(Delivery).where(Delivery.department == "dental")).all()
    fields = sorted({k for r in rows for k in open_envelope(vault, json.loads(r.envelope))})
sim = start(paths.home, paths.keys_dir, None, step_seconds=0.2)
try:
    os.environ.update(connections(sim.urls, paths.home))
    delivered = jobs.deliver("dental")
    jobs.deliver("health")
    import time  # the simulated department moves its items on every 0.2 s
    time.sleep(1.5)
    polled = jobs.poll("dental")
    reported = jobs.report()
    from lianban.app.dashboard.board import read_board
    from lianban.app.dashboard.page import render
    page = render(read_board(paths.ledger_url))
    forecast = jobs.forecast(3)
finally:
    sim.stop()
with sessions() as s:
    states = {d: sorted(s.scalars(select(Delivery.state).where(Delivery.department == d)).all())
              for d in ("dental", "health")}
print(json.dumps({"polled": polled, "reported": reported, "page_names_dental": "口腔医疗服务中心" in page,
                  "forecast": forecast["months"][0]["by_department"],
                  "staged": staged.staged, "quarantined": staged.quarantined, "fields": fields,
                  "delivered": delivered, "states": states,
                  "progress": progress(paths.ledger_url).as_dict()}, ensure_ascii=False, default=str))
'''


def copy_with_dental(target: Path) -> Path:
    for rel in TREE:
        source, dest = REPO / rel, target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree(source, dest, ignore=IGNORED) if source.is_dir() else shutil.copy2(source, dest))
    catalog = target / "schemas" / "catalog"
    with open(catalog / "departments.yaml", "a", encoding="utf-8") as out:
        out.write(f"  - {{key: {NAME}, name: 口腔医疗服务中心, transport: rest, "
                  "connector: connectors.dental.connector:DentalConnector}\n")
    add_item(target, NAME, ITEM, "退休职工口腔健康检查", (f"341600-KQ-QT-00{ITEM}", "亳州市口腔医疗服务中心"))
    side = target / "connectors" / NAME  # health's gateway client and code tables, under the new key
    side.mkdir()
    (side / "__init__.py").write_text("")
    (side / "statuses.py").write_text("from connectors.health.statuses import CODES, ERRORS, STATUSES  # noqa\n")
    (side / "connector.py").write_text("from connectors.health.connector import HealthConnector\n\n\n"
                                       "class DentalConnector(HealthConnector):\n    department = 'dental'\n")
    return target


def run(root: Path, home: Path, *args: str) -> str:
    """`python ARGS` in the copy, importing the copy's packages (never the checkout's); its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_"))}
    env.update(PYTHONPATH=str(root), LIANBAN_HOME=str(home), COLUMNS="200")
    done = subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout


def run_driver(root: Path, home: Path) -> dict:
    return json.loads(run(root, home, "-c", DRIVER).strip().splitlines()[-1])


def test_a_department_added_by_catalog_and_connector_is_staged_delivered_reported_and_counted(tmp_path: Path) -> None:
    root, home = copy_with_dental(tmp_path / "repo"), tmp_path / "home"
    out = run_driver(root, home)
    cli = {args: run(root, home, "-m", "lianban.app.cli", *args.split()) for args in
           ("status", "report", "report --csv", "forecast --months 2", "case list", "deliveries list")}

    assert out["staged"] == 3 and out["quarantined"] == 0, out
    assert out["fields"] == ["id_number", "name", "phone"]
    assert out["states"]["dental"] == ["accepted"] * 3, json.dumps(out, ensure_ascii=False)[:3000]
    assert out["delivered"]["department"] == NAME and out["delivered"]["accepted"] == 3, out["delivered"]
    assert out["polled"]["source"] == NAME and out["polled"]["read"] == 3, out["polled"]
    assert out["reported"]["read"] == 9 and out["reported"]["parked"] == 0, out["reported"]  # 皖事通办 took item 15
    assert out["progress"]["delivered"][NAME] == 3 and NAME in out["progress"]["open_by_department"], out
    assert out["page_names_dental"] and NAME in out["forecast"], out
    assert "口腔医疗服务中心：3" in cli["status"], cli["status"]  # by its name from the catalog
    assert cli["report --csv"].count(f",{ITEM},{NAME},delivered,") == 3, cli["report --csv"]
    assert re.search(r"已投递 delivered\s+│ 6 ", cli["report"]), cli["report"]  # padded to the widest label
    assert "口腔医疗服务中心" in cli["forecast --months 2"], cli["forecast --months 2"]
