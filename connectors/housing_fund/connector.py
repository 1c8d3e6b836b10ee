"""The 住房公积金管理中心 connector: declarations over the shared REST gateway client (connectors._rest)."""

from __future__ import annotations

from connectors._rest import RestDepartmentConnector
from connectors.housing_fund.statuses import ERRORS, STATUSES, UNOPENED_CODES

__all__ = ["HousingFundConnector"]


class HousingFundConnector(RestDepartmentConnector):
    """Item 14 (退休职工住房公积金提取).

    Built by ``HousingFundConnector.from_settings(settings)`` from connection ``dept_housing_fund``
    (login = gateway app id, password = app secret).
    """

    department = "housing_fund"
    statuses = STATUSES
    errors = ERRORS
    unopened_codes = UNOPENED_CODES
