"""docs/deploy.md and the settings examples against the code: what an operator following the guide word for word
ends up running. The DAGs start paused in the compose file, so a DAG the guide never unpauses never runs; the
alert channels are read from the Airflow services' environment, which only ``departments.env`` fills."""

from __future__ import annotations

import re

from lianban.app.alerting import SMTP_ENV
from lianban.app.config import conn_env_name
from tests.docker.conftest import COMPOSE, DOCKER, ROOT

GUIDE = ROOT / "docs" / "deploy.md"


def _dag_ids() -> set[str]:
    return {m for f in (ROOT / "dags").glob("*.py") for m in re.findall(r'dag_id="(\w+)"', f.read_text("utf-8"))}


def test_the_guide_unpauses_every_dag() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    unpaused = set(re.findall(r"airflow dags unpause (\w+)", guide))
    assert "AIRFLOW_DAGS_PAUSED_AT_CREATION:-true" in COMPOSE.read_text(encoding="utf-8")
    assert _dag_ids() - unpaused == set()


def test_the_alert_channels_have_a_place_in_the_services_environment() -> None:
    """`lianban_operations` and `lianban_daily` fail without a channel: e-mail or SMS must be settable where the
    Airflow services read their environment (the compose file passes nothing else through)."""
    example = (DOCKER / "departments.env.example").read_text(encoding="utf-8")
    assert f"# {SMTP_ENV}=smtp" in example
    assert f"# {conn_env_name('sms')}=" in example
    assert SMTP_ENV in GUIDE.read_text(encoding="utf-8")
