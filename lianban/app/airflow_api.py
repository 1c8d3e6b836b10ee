"""Airflow's public REST API (v2), as an external client uses it: log in at ``/auth/token`` for a JWT, then call.

Used by `lianban up` to unpause the DAGs, and by the tests that drive a running Airflow as an operator would.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import requests

from lianban.app.processes import poll_until
from lianban.errors import ConfigError

__all__ = ["AirflowApi"]


class AirflowApi:
    """Airflow's public REST API (v2) as an external client uses it: a JWT from ``/auth/token`` first."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 30.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self.session = requests.Session()
        answer = self.session.post(f"{self.url}/auth/token", json={"username": user, "password": password},
                                   timeout=timeout)
        if not answer.ok:  # Airflow answers 201 Created
            raise ConfigError(f"无法登录 Airflow API {self.url}（HTTP {answer.status_code}）：请核对 Airflow 的用户名与"
                              f"密码（lianban up 写在 $LIANBAN_HOME/airflow/"
                              f"simple_auth_manager_passwords.json.generated） (cannot log in to Airflow's API)")
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.session.request(method, f"{self.url}/api/v2{path}", timeout=self.timeout, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def dags(self, prefix: str = "lianban_") -> dict[str, dict[str, Any]]:
        """The parsed DAGs whose id starts with `prefix`, by id."""
        found = self.call("GET", "/dags", params={"dag_id_pattern": prefix, "limit": 100})["dags"]
        return {d["dag_id"]: d for d in found if d["dag_id"].startswith(prefix)}

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, attempts: int = 3) -> str:
        """A new manual run of `dag_id` now; its run id. Airflow on a SQLite database can answer 500 while its
        scheduler writes: the run's id is chosen here, so trying again after a 5xx starts no second run (a run
        the lost answer had started answers 409, and is the one)."""
        run_id, path = f"manual__lianban__{uuid.uuid4().hex[:12]}", f"{self.url}/api/v2/dags/{dag_id}/dagRuns"
        for attempt in range(max(1, attempts)):
            answer = self.session.post(path, json={"logical_date": None, "dag_run_id": run_id}, timeout=self.timeout)
            if answer.status_code == 409 and attempt:
                return run_id
            if answer.status_code < 500 or attempt == attempts - 1:
                break
            time.sleep(1.0 + attempt)
        answer.raise_for_status()
        return str(answer.json()["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """The run's final state (success or failed), or its state when `timeout` seconds have passed."""
        return poll_until(lambda: self.run(dag_id, run_id)["state"], lambda s: s in ("success", "failed"),
                          timeout, interval=1.0)
