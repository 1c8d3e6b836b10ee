"""lianban_notices through Airflow itself (`airflow dags test`): a small synthetic register and awards, the real
SMS simulator; every notice due is planned once and sent (or held for the morning), and a second run sends
nothing again."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import requests

from lianban.app.config import Paths, connection_json
from lianban.app.demo import airflow, demo_env
from lianban.app.setup import init, seed_register
from lianban.ledger.time_limits import beijing_today
from simulators.rest_department import serve_in_background
from simulators.sms import GatewayConfig, create_app

pytestmark = pytest.mark.airflow


def _states(home: Path) -> dict[str, int]:
    with closing(sqlite3.connect(home / "ledger.db")) as conn:
        return dict(conn.execute("SELECT state, COUNT(*) FROM sms_notices GROUP BY state").fetchall())


def test_the_notices_dag_sends_each_notice_once(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    paths = Paths.from_env(env)
    init(paths, with_frontend=True)
    seeded = seed_register(paths, 200, 5, reference=beijing_today())
    with serve_in_background(create_app("hub", "secret", GatewayConfig(rate_limit=1000))) as url:
        env["AIRFLOW_CONN_DEPT_SMS"] = connection_json(url, "hub", "secret", read_timeout=10)
        airflow(env, paths.logs, "db", "migrate")
        airflow(env, paths.logs, "dags", "test", "lianban_notices")
        first = _states(tmp_path)
        sent = requests.get(f"{url}/_sim/outbox", timeout=5).json()["messages"]
        airflow(env, paths.logs, "dags", "test", "lianban_notices")
        again = requests.get(f"{url}/_sim/outbox", timeout=5).json()["messages"]
    assert sum(first.values()) > seeded["awards"] == 10  # reminders and pension notices planned
    assert set(first) <= {"sent", "delivered", "planned", "invalid"} and first.get("invalid", 0) > 0
    assert len(sent) == first.get("sent", 0) + first.get("delivered", 0)
    held = first.get("planned", 0)  # quiet hours: held until 08:00, sent by a later run
    assert len({m["idempotency_key"] for m in again}) == len(again) and len(again) <= len(sent) + held
    assert sum(_states(tmp_path).values()) == sum(first.values())  # the second run planned nothing new
