"""A database error never carries the statement's parameters: the 前置库 holds names and ID numbers, and an error's
text reaches logs, Airflow task logs and the operator's screen (masking catches ID and mobile numbers by their
shape, never a name)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from simulators.people import generate


def test_a_failed_insert_says_what_failed_without_the_persons_values(paths: Paths) -> None:
    app = next(generate(1, seed=5))
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    with pytest.raises(IntegrityError) as raised:
        db.insert_applications([app])  # the same 办件编号 again
    said = str(raised.value)
    assert "UNIQUE constraint failed" in said and "INSERT INTO" in said
    assert not [v for v in (app["name"], app["id_number"], app["phone"], app["employer_name"]) if v in said]
