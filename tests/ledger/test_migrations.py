"""The ledger schema is owned by Alembic: up, down and up again, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import inspect

from lianban.app.config import Paths
from lianban.ledger.db import alembic_config, engine_for, upgrade

TABLES = {"cases", "case_items", "deliveries", "status_events", "quarantine", "watermarks", "evidence",
          "evidence_anchor", "parked_statuses", "illegal_transitions", "payment_requests", "supplements",
          "query_attempts", "gateway_nonces", "incidents", "health_checks", "task_failures", "sms_notices",
          "stage_runs", "delivery_keys", "skipped_rows", "alembic_version"}


def test_migrations_go_up_down_and_up_again(ledger_url: str) -> None:
    upgrade(ledger_url)  # idempotent on an up-to-date ledger
    assert set(inspect(engine_for(ledger_url)).get_table_names()) == TABLES
    command.downgrade(alembic_config(ledger_url), "base")
    engine_for(ledger_url).dispose()
    assert set(inspect(engine_for(ledger_url)).get_table_names()) <= {"alembic_version"}
    upgrade(ledger_url)
    engine_for(ledger_url).dispose()
    assert set(inspect(engine_for(ledger_url)).get_table_names()) == TABLES


def test_free_text_kept_before_it_was_masked_is_masked_and_nothing_else_changes(paths: Paths,
                                                                                ledger_url: str) -> None:
    """A ledger of the release before 0020 holds the applicant's ID and mobile numbers in departments' words and
    in a held record's reasons: after the upgrade every such run is masked, the JSON columns still read as
    JSON, and text without one is left exactly as it was."""
    from sqlalchemy import insert, select, text, update

    from connectors.hrss.frontend import FrontendDB
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import CaseItem, Delivery, IllegalTransition, ParkedStatus, Quarantine, StatusEvent
    from lianban.ledger.store import ParkedState, utcnow
    from lianban.pipeline.stage import stage
    from simulators.people import generate

    id_number, phone = "341622195901010012", "13812345678"
    said = f"申请人{id_number}，电话{phone}，材料已收"
    apps = list(generate(6, seed=5))
    apps[0] = {**apps[0], "contribution_months": -1}  # held
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(apps)
    stage(db, ledger_url, paths.keys_dir)
    command.downgrade(alembic_config(ledger_url), "0019")
    with session_factory(ledger_url).begin() as s:
        item = s.scalars(select(CaseItem).order_by(CaseItem.id)).first()
        assert item is not None
        item.reason = said
        s.execute(update(Delivery).values(last_error=f"HTTP 400: {said}"))
        s.add(StatusEvent(case_item_id=item.id, status="受理", source="medical", reason=said, changed_at="x",
                          recorded_at=utcnow(), parked_reason=f"平台拒收：{id_number}"))
        s.add(IllegalTransition(case_item_id=item.id, to_status="受理", source="medical", reason=said,
                                changed_at="x", recorded_at=utcnow()))
        s.execute(insert(ParkedStatus).values(  # the columns of 0019 only (the model's has more since)
            source="hrss", source_seq=1, case_no="BZ1", state=ParkedState.WAITING, reasons="[]",
            change=json.dumps({"reason": said, "seq": 13812345679}, ensure_ascii=False), created_at=utcnow()))
        held = s.scalars(select(Quarantine)).one()
        held.reasons = json.dumps([{"code": "X", "message": said}], ensure_ascii=False)
        held.decision_note = said
        kept = held.masked
    upgrade(ledger_url)
    with engine_for(ledger_url).connect() as conn:
        texts = [v for table, column in (("case_items", "reason"), ("deliveries", "last_error"),
                                         ("status_events", "reason"), ("status_events", "parked_reason"),
                                         ("illegal_transitions", "reason"), ("parked_statuses", "change"),
                                         ("quarantine", "reasons"), ("quarantine", "decision_note"))
                 for v in conn.scalars(text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"))]
        masked = conn.scalar(text("SELECT masked FROM quarantine"))
    assert len(texts) > 8 and not [t for t in texts if id_number in t or phone in t]
    assert "341622********0012" in "".join(texts) and "138****5678" in "".join(texts) and "材料已收" in "".join(texts)
    changed = json.loads(next(t for t in texts if t.startswith("{")))
    assert changed == {"reason": "申请人341622********0012，电话138****5678，材料已收", "seq": 13812345679}
    assert masked == kept  # masked at write already: left exactly as it was


def test_notices_of_the_release_before_0026_count_the_sends_of_their_version(ledger_url: str) -> None:
    """A ledger before 0026 knew only the sends of each notice's version: those are its sends in all after the
    upgrade (the earlier versions' were never kept), and a new notice starts at 0."""
    from sqlalchemy import text

    command.downgrade(alembic_config(ledger_url), "0025")
    row = ("'reminder', 'p1', '2027-01', '{}', 'dead', 3, 1, '2026-12-01 00:00:00', '2026-12-01 00:00:00'")
    with engine_for(ledger_url).begin() as conn:
        conn.execute(text("INSERT INTO sms_notices (kind, person_index, period, sealed, state, attempts, version,"
                          f" not_before, created_at) VALUES ({row})"))
    upgrade(ledger_url)
    with engine_for(ledger_url).begin() as conn:
        conn.execute(text("INSERT INTO sms_notices (kind, person_index, period, sealed, state, attempts, not_before,"
                          " created_at) VALUES ('reminder', 'p2', '2027-01', '{}', 'planned', 0,"
                          " '2026-12-01 00:00:00', '2026-12-01 00:00:00')"))
        assert conn.execute(text("SELECT person_index, sends FROM sms_notices ORDER BY id")).all() == [
            ("p1", 3), ("p2", 0)]
