"""A connection check's reason as the ledger keeps it (lianban.ledger.health): it may quote the party's answer."""

from __future__ import annotations

from datetime import date

from lianban.app.config import Paths
from lianban.domain.identity import CUT, SAID_MAX
from lianban.ledger import health
from lianban.ledger.db import session_factory
from simulators.people import make_id_number


def test_a_checks_reason_quoting_an_id_number_at_length_is_kept_masked_and_bounded(paths: Paths) -> None:
    """A gateway's 401 page quoted whole into the failed step's sentence was kept unmasked (cut at 500, no
    mark), and shown on the dashboard and told to the duty desk."""
    person = make_id_number("341602", date(1965, 3, 1), 7, True)
    reason = f"网关认证失败（HTTP 401，{person} 13812345678 " + "页" * 2000 + "）"
    with session_factory(paths.ledger_url).begin() as s:
        health.record(s, "health", False, "authenticate", reason)
    with session_factory(paths.ledger_url)() as s:
        kept = health.latest(s)["health"].reason or ""
    assert person not in kept and "13812345678" not in kept and kept.startswith("网关认证失败")
    assert len(kept) <= SAID_MAX and kept.endswith(CUT)
