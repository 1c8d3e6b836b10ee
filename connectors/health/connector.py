"""The 卫生健康委员会 connector: declarations over the shared REST gateway client (connectors._rest)."""

from __future__ import annotations

from connectors._rest import RestDepartmentConnector
from connectors.health.statuses import ERRORS, STATUSES, UNOPENED_CODES

__all__ = ["HealthConnector"]


class HealthConnector(RestDepartmentConnector):
    """Item 13 (独生子女父母光荣证一次性奖励): health checks eligibility; 审核通过 means eligible.

    Built by ``HealthConnector.from_settings(settings)`` from connection ``dept_health``
    (login = gateway app id, password = app secret).
    """

    department = "health"
    statuses = STATUSES
    errors = ERRORS
    unopened_codes = UNOPENED_CODES
