"""Airflow's public REST API (v2), as an external client uses it: log in at ``/auth/token`` for a JWT, then call.

Used by `lianban up` to unpause the DAGs, and by the tests that drive a running Airflow as an operator would.
"""

from __future__ import annotations

from typing import Any

import requests

from lianban.app.processes import poll_until

__all__ = ["AirflowApi"]


class AirflowApi:
    """Airflow's public REST API (v2) as an external client uses it: a JWT from ``/auth/token`` first."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 30.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self.session = requests.Session()
        answer = self.session.post(f"{self.url}/auth/token", json={"username": user, "password": password},
                                   timeout=timeout)
        answer.raise_for_status()
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

    def trigger(self, dag_id: str) -> str:
        """A new manual run of `dag_id` now; its run id."""
        return str(self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """The run's final state (success or failed), or its state when `timeout` seconds have passed."""
        return poll_until(lambda: self.run(dag_id, run_id)["state"], lambda s: s in ("success", "failed"),
                          timeout, interval=1.0)
