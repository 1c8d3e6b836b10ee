"""What the ledger still needs a vault key to open (lianban.ledger.sealed): undelivered rows, results, notices."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.crypto.hashing import blind_index
from lianban.keys.names import INDEX, VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import Delivery, ParkedStatus, StatusEvent
from lianban.ledger.results import seal_result
from lianban.ledger.sealed import sealed_under
from lianban.ledger.store import ParkedState, utcnow
from lianban.pipeline.sms_notices import plan
from lianban.pipeline.stage import stage
from lianban.pipeline.status_log import collect_hrss


def test_what_a_key_sealed_is_counted_until_it_is_no_longer_read(seeded: Any, paths: Paths) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    vault, index = load_ring(paths.keys_dir, VAULT), load_ring(paths.keys_dir, INDEX).active_key()[1]
    sessions = session_factory(paths.ledger_url)
    with sessions.begin() as s:
        outbox = len(s.scalars(select(Delivery.id)).all())
        event = s.scalars(select(StatusEvent)).first()
        assert event is not None and outbox
        event.result = seal_result(vault, "BZ-1", "14", "housing_fund",
                                   {"amount": "3000.00", "transferred_on": "2026-12-01"})
        plan(s, vault, "retirement_reminder", blind_index(index, "person-0"), "2027-03", "13912345678",
             {"retirement_month": "2027年3月", "statutory_age": "60岁7个月"})
    with sessions() as s:
        assert sealed_under(s, vault.active) == {"deliveries": outbox, "results": 1, "sms_notices": 1}
        assert sealed_under(s, "vault-19990101-000000") == {}
    with sessions.begin() as s:
        s.execute(update(Delivery).values(state="accepted"))  # delivered: the payload is not read again
    with sessions() as s:
        assert "deliveries" not in sealed_under(s, vault.active)


def test_a_status_row_waiting_with_its_sealed_result_is_counted(seeded: Any, paths: Paths) -> None:
    """An HRSS status row waiting for its case keeps its result sealed inside its change (JSON within JSON):
    retiring the key it was sealed under left the result unreadable once the row was applied."""
    vault = load_ring(paths.keys_dir, VAULT)
    sealed = seal_result(vault, "BZ-9", "13", "hrss", {"amount": "3000.00", "paid_on": "2026-12-01"})
    with session_factory(paths.ledger_url).begin() as s:
        s.add(ParkedStatus(source="hrss", source_seq=7, case_no="BZ-9", state=ParkedState.WAITING, reasons="[]",
                           change=json.dumps({"case_no": "BZ-9", "sealed": sealed}, ensure_ascii=False),
                           created_at=utcnow()))
    with session_factory(paths.ledger_url)() as s:
        assert sealed_under(s, vault.active) == {"waiting_statuses": 1}


def test_an_unreadable_status_row_kept_to_be_read_again_is_counted(paths: Paths) -> None:
    """An HRSS status row with a code not in its table keeps its fields sealed, to be read again once the code is
    added: retiring the key they were sealed under would leave the row unreadable for good."""
    db = FrontendDB(paths.frontend_url)
    db.append_status("BZ-9", "01", "7", at="2026-12-01T09:00:00+08:00")
    assert collect_hrss(db, paths.ledger_url, paths.keys_dir).parked == 1
    with session_factory(paths.ledger_url)() as s:
        assert sealed_under(s, load_ring(paths.keys_dir, VAULT).active) == {"parked_statuses": 1}


def test_a_notice_that_may_still_go_keeps_its_key_and_one_done_with_does_not(paths: Paths) -> None:
    """Invalid notices and ones dead for want of sends go again once the source holds another number, compared
    with the one sealed: they were counted as done, the key could be retired, and the old number could no longer
    be told from another (the notice then went again to the number that had failed). Delivered ones, and dead
    ones that never go again (refused by the person, superseded), are done with."""
    from lianban.domain.sms import EXHAUSTED, MAX_SENDS
    from lianban.ledger.models import SmsNotice

    vault, index = load_ring(paths.keys_dir, VAULT), load_ring(paths.keys_dir, INDEX).active_key()[1]
    fates = [("delivered", 1, None), ("dead", 1, "用户拒收"), ("dead", MAX_SENDS, "养老金已重新核定"),
             ("invalid", 0, "空号"), ("dead", MAX_SENDS, f"{EXHAUSTED}：关机"), ("dead", 1, f"{EXHAUSTED}：关机")]
    with session_factory(paths.ledger_url).begin() as s:
        for n, (state, attempts, reason) in enumerate(fates):
            person = blind_index(index, f"person-{n}")
            plan(s, vault, "retirement_reminder", person, "2027-03", "13912345678", {"retirement_month": "2027年3月"})
            s.execute(update(SmsNotice).where(SmsNotice.person_index == person)
                      .values(state=state, attempts=attempts, reason=reason))
    with session_factory(paths.ledger_url)() as s:
        assert sealed_under(s, vault.active) == {"sms_notices": 2}  # the invalid one and the one out of sends
