"""Stage: extract → validate → route → minimise → seal → outbox, exactly once, nothing in plaintext."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select, text

from connectors.hrss.frontend import FrontendDB, applications
from connectors.hrss.mapping import APPLICATION_COLUMNS as A
from lianban.app.config import Paths
from lianban.domain.catalog import load_catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.validation import problems
from lianban.ledger.db import engine_for, session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, Quarantine
from lianban.pipeline.stage import stage

Seeded = tuple[FrontendDB, list[dict[str, Any]]]


def _valid(apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    catalog = load_catalog()
    return [a for a in apps
            if not problems(RetirementRecord(**{**a, "items": tuple(a["items"].split(","))}), catalog)]


def test_valid_records_staged_invalid_quarantined(seeded: Seeded, paths: Paths, ledger_url: str) -> None:
    db, apps = seeded
    result = stage(db, ledger_url, paths.keys_dir, chunk=17)
    valid = _valid(apps)
    assert result.extracted == 60
    assert result.staged == len(valid) and result.quarantined == 60 - len(valid) > 0
    with session_factory(ledger_url)() as s:
        assert {c.case_no for c in s.scalars(select(Case))} == {a["case_no"] for a in valid}
        chosen = sum(len(a["items"].split(",")) for a in valid)
        assert s.scalar(select(text("count(*)")).select_from(CaseItem)) == chosen
        pushed = sum(1 for a in valid for c in a["items"].split(",") if c in {"11", "12", "13", "14"})
        assert s.scalar(select(text("count(*)")).select_from(Delivery)) == pushed


def test_quarantine_keeps_chinese_reasons_and_masks_values(seeded: Seeded, paths: Paths) -> None:
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        rows = list(s.scalars(select(Quarantine)))
    assert rows
    for row in rows:
        reasons = json.loads(row.reasons)
        assert reasons and all(any("\u4e00" <= ch <= "\u9fff" for ch in r) for r in reasons)
        masked = json.loads(row.masked)
        assert "*" in masked["id_number"] and "*" in masked["name"]
    with db.engine.connect() as conn:
        flags = dict(conn.execute(select(applications.c[A["case_no"]], applications.c[A["sync_flag"]])).all())
    assert {flags[r.case_no] for r in rows} == {"9"}


def test_second_run_takes_nothing(seeded: Seeded, paths: Paths) -> None:
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.extracted, again.staged, again.deliveries) == (0, 0, 0)


class _CrashingSource:
    """Commits to the ledger happen, then flagging the 前置库 fails once: the next run re-reads."""

    def __init__(self, db: FrontendDB) -> None:
        self.db, self.crashed = db, False

    def pull_new(self, limit: int) -> list[RetirementRecord]:
        return self.db.pull_new(limit)

    def mark(self, seqs: Sequence[int], flag: str) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("connection to 前置库 lost")
        self.db.mark(seqs, flag)


def test_crash_between_ledger_and_flag_never_doubles(seeded: Seeded, paths: Paths) -> None:
    db, apps = seeded
    with pytest.raises(RuntimeError):
        stage(_CrashingSource(db), paths.ledger_url, paths.keys_dir)
    rerun = stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        cases = s.scalar(select(text("count(*)")).select_from(Case))
    assert rerun.skipped_known > 0
    assert cases == len(_valid(apps))


def test_ledger_holds_no_plaintext_personal_data(seeded: Seeded, paths: Paths) -> None:
    db, apps = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    engine_for(paths.ledger_url).dispose()
    raw = b"".join(p.read_bytes() for p in paths.home.glob("ledger.db*"))
    for app in apps:
        for field in ("id_number", "phone", "name"):
            value = str(app[field] or "")
            if len(value) >= 2:
                assert value.encode() not in raw, f"{field} of {app['case_no']} stored in plaintext"


def test_a_bad_approval_time_is_quarantined_and_blocks_nothing(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    apps = [a for a in generate_valid(paths, 5)]
    apps[1]["approved_at"] = "2025/01/02 10:00"
    db.insert_applications(apps)
    result = stage(db, paths.ledger_url, paths.keys_dir)
    assert (result.staged, result.quarantined) == (4, 1)
    with session_factory(paths.ledger_url)() as s:
        reasons = json.loads(s.scalars(select(Quarantine.reasons)).one())
    assert any("审批时间" in r for r in reasons)


def test_a_crash_never_quarantines_a_record_twice(seeded: Seeded, paths: Paths) -> None:
    db, apps = seeded
    with pytest.raises(RuntimeError):
        stage(_CrashingSource(db), paths.ledger_url, paths.keys_dir)
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        rows = s.scalar(select(text("count(*)")).select_from(Quarantine))
    assert rows == len(apps) - len(_valid(apps))


def generate_valid(paths: Paths, count: int) -> list[dict[str, Any]]:
    from simulators.people import generate

    return _valid(list(generate(count * 3, seed=99)))[:count]


def test_a_record_fixed_at_the_source_is_released_from_quarantine(paths: Paths) -> None:
    from sqlalchemy import update as sql_update

    db = FrontendDB(paths.frontend_url)
    apps = generate_valid(paths, 3)
    good_phone, apps[0]["phone"] = apps[0]["phone"], "12345"
    db.insert_applications(apps)
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    with db.engine.begin() as conn:  # HRSS fixes the phone and resets 同步标志
        conn.execute(sql_update(applications).where(applications.c[A["case_no"]] == apps[0]["case_no"])
                     .values({A["phone"]: good_phone, A["sync_flag"]: "0"}))
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.extracted, again.staged, again.quarantined) == (1, 1, 0)
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(Quarantine.state)).one() == "released"
