"""Department connections through Airflow's own lookup, so ``dept_<name>`` may live in Airflow's metadata
database, a secrets backend (Vault, …) or an ``AIRFLOW_CONN_DEPT_*`` variable alike.

Importing this module (from a DAG file) registers :func:`airflow_department_settings` with
:func:`lianban.wire.settings.set_connection_resolver`; the core itself never imports Airflow. Parsing and checking
stay in :func:`lianban.wire.settings.parse_connection`, so a bad field fails with the same sentence everywhere.
"""

from __future__ import annotations

from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowNotFoundException

from lianban.app.config import conn_env_name, set_connection_resolver
from lianban.errors import NotConfigured
from lianban.wire.settings import DepartmentSettings, parse_connection

__all__ = ["airflow_department_settings"]


def airflow_department_settings(department: str) -> DepartmentSettings:
    """Settings of connection ``dept_<department>`` as Airflow resolves it (Task SDK ``Connection.get``)."""
    conn_id = f"dept_{department}"
    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        raise NotConfigured(f"connection {conn_id} is not defined in Airflow: add it (Admin → Connections, "
                          f"a secrets backend, or {conn_env_name(department)})") from None
    fields = {"conn_type": conn.conn_type, "host": conn.host, "port": conn.port, "schema": conn.schema,
              "login": conn.login, "password": conn.password, "extra": conn.extra}
    return parse_connection(department, fields)


set_connection_resolver(airflow_department_settings)
