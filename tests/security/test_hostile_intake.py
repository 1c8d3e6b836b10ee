"""The hostile-input suite: generated rows written straight into the 前置库 and its status log, mixed with valid
ones, never crash a run. Every row's fate is accounted for (extracted = staged + skipped + quarantined, every
row flagged), every valid row is delivered exactly once, and no valid person's name, ID number or phone is in
a log line or in the ledger in plaintext.

Hypothesis draws each example: 120 rows (a third valid, the rest valid rows with one to three columns
replaced by anything SQLite can hold, near-duplicates of valid rows, and junk), so a run of ten examples
stages 1,200 generated rows; plus 2 × 150 status-log rows of the same kind.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import random
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from connectors.hrss.frontend import FrontendDB, applications, status_log
from connectors.hrss.mapping import APPLICATION_COLUMNS as A
from connectors.hrss.mapping import STATUS_COLUMNS as S
from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.domain.catalog import load_catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.validation import problems
from lianban.ledger.db import engine_for, session_factory, upgrade
from lianban.ledger.models import Case, CaseItem, Delivery, Quarantine
from lianban.pipeline.deliver import deliver
from lianban.pipeline.stage import stage
from lianban.pipeline.status_log import collect_hrss
from simulators.people import synthetic_application

COLUMNS = ("case_no", "name", "id_number", "employer_name", "employer_uscc", "contribution_months",
           "pension_start", "phone", "items", "approved_at")
_examples = itertools.count(1)
_homes = itertools.count(1)

#: anything SQLite will hold in any column (no lone surrogates: the driver cannot even write those)
ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False), st.text(st.characters(exclude_categories=("Cs",)), max_size=90),
    st.binary(max_size=40),
    st.sampled_from(["", " ", "\x00", "三百", "９９", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
                     "01,01", "11,\x0012", "A" * 80, "34162219650115003x", "１３８１２３４５６７８"]),
)


def _valid(rng: random.Random, seq: int, prefix: str) -> dict[str, Any]:
    catalog = load_catalog()
    while True:
        app = synthetic_application(rng, seq)
        app["case_no"] = f"{prefix}{seq:06d}"
        record = RetirementRecord(**{**app, "items": tuple(app["items"].split(","))})
        if not problems(record, catalog):
            return app


def _variant(case_no: str, how: int) -> str:
    return [case_no.lower(), f" {case_no} ", case_no.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})][how]


@st.composite
def front_end_rows(draw: st.DrawFn, count: int = 120) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(valid applications, hostile rows); every row a dict by domain key."""
    prefix = f"HX{next(_examples):03d}"
    rng = random.Random(draw(st.integers(0, 2**32)))
    valid = [_valid(rng, n, prefix) for n in range(1, count // 3 + 1)]
    hostile: list[dict[str, Any]] = []
    for n in range(len(valid), count):
        kind = draw(st.sampled_from(("broken", "broken", "near_duplicate", "junk")))
        base = {**_valid(rng, 100_000 + n, prefix)}
        if kind == "near_duplicate":  # same case, spelt otherwise, perhaps with other content
            source = valid[draw(st.integers(0, len(valid) - 1))]
            base = {**(source if draw(st.booleans()) else base),
                    "case_no": _variant(source["case_no"], draw(st.integers(0, 2)))}
        columns = COLUMNS if kind == "junk" else draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=3))
        hostile.append({**base, **{c: draw(ANYTHING) for c in columns}})
    return valid, hostile


def _write(db: FrontendDB, rows: list[dict[str, Any]], table: Table = applications,
           columns: Mapping[str, str] = A) -> int:
    """Insert rows one by one as a careless writer would; the 前置库's own constraints may refuse some."""
    written = 0
    for row in rows:
        try:
            with db.engine.begin() as conn:
                conn.execute(insert(table).values({columns[k]: v for k, v in row.items()}))
            written += 1
        except IntegrityError:  # NOT NULL / UNIQUE of HRSS's own table: the row never existed
            pass
    return written


@pytest.fixture
def example_paths(paths: Paths, tmp_path: Path) -> Any:
    """Per example: a fresh ledger and 前置库, and a copy of the simulation's keys (its departments can open)."""

    def fresh() -> tuple[str, FrontendDB, Path]:
        n = next(_homes)  # not random: Hypothesis seeds the random module alike for every example
        ledger_url = f"sqlite:///{tmp_path / f'ledger-{n}.db'}"
        upgrade(ledger_url)
        db = FrontendDB(f"sqlite:///{tmp_path / f'front-{n}.db'}")
        db.create()
        keys = tmp_path / f"keys-{n}"  # the same keys, but this ledger's own evidence head file
        shutil.copytree(paths.keys_dir, keys, ignore=shutil.ignore_patterns("evidence-head*"))
        return ledger_url, db, keys

    return fresh


def _delivered(ledger_url: str, keys: Path, departments: list[str]) -> dict[str, int]:
    accepted = {}
    for department in departments:
        peer = load_department(department, department_settings(department), keys)
        accepted[department] = deliver(peer, ledger_url, 100, keys).accepted
    return accepted


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(rows=front_end_rows())
def test_generated_hostile_rows_never_crash_and_every_row_is_accounted_for(
        rows: tuple[list[dict[str, Any]], list[dict[str, Any]]], paths: Paths, simulation: Any,
        example_paths: Any, caplog: pytest.LogCaptureFixture) -> None:
    valid, hostile = rows
    ledger_url, db, keys = example_paths()
    mixed = [*hostile, *valid]
    random.Random(len(mixed)).shuffle(mixed)
    written = _write(db, mixed)
    caplog.set_level(logging.DEBUG)
    result = stage(db, ledger_url, keys, chunk=97)
    assert result.extracted == written == result.staged + result.skipped_known + result.quarantined
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(applications)
                            .where(applications.c[A["sync_flag"]] == "0")).scalar_one() == 0
    with session_factory(ledger_url)() as s:
        staged = set(s.scalars(select(Case.case_no)))
        held_for_another = {q.case_no for q in s.scalars(select(Quarantine))
                            if "已入账" in q.reasons or "在办办件" in q.reasons}
        pushed = s.execute(select(Delivery.department, func.count()).group_by(Delivery.department)).all()
    # a valid row is staged, unless a row under the same 办件编号, or for the same person, came first (held)
    assert {a["case_no"] for a in valid} <= staged | held_for_another
    before = {d: simulation.engines[d].stats() for d, _ in pushed}
    accepted = _delivered(ledger_url, keys, [d for d, _ in pushed])
    for department, count in pushed:
        after = simulation.engines[department].stats()
        received = sum(after[k] - before[department][k] for k in ("unique", "duplicates"))
        assert accepted[department] + _refused(ledger_url, department) == count  # every delivery settled
        assert received == accepted[department]  # each accepted delivery reached the department once
    assert _valid_deliveries_accepted(ledger_url, {a["case_no"] for a in valid} & staged)
    _assert_no_plaintext(ledger_url, caplog, valid)


def _valid_deliveries_accepted(ledger_url: str, case_nos: set[str]) -> bool:
    with session_factory(ledger_url)() as s:
        states = s.execute(select(Delivery.state).join(CaseItem, Delivery.case_item_id == CaseItem.id)
                           .join(Case).where(Case.case_no.in_(case_nos))).scalars().all()
    return bool(states) and set(states) <= {"accepted", "refused"}


def _refused(ledger_url: str, department: str) -> int:
    with session_factory(ledger_url)() as s:
        return int(s.execute(select(func.count()).select_from(Delivery).where(
            Delivery.department == department, Delivery.state.in_(("refused", "dead")))).scalar_one())


def _assert_no_plaintext(ledger_url: str, caplog: pytest.LogCaptureFixture, valid: list[dict[str, Any]]) -> None:
    engine_for(ledger_url).dispose()
    path = Path(ledger_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for app in valid:
        for key in ("name", "id_number", "phone"):
            for form in {str(app[key]), json.dumps(str(app[key]))[1:-1]}:  # as JSON escapes a name, too
                assert form.encode() not in raw, f"{key} of {app['case_no']} in the ledger"
            assert str(app[key]) not in logged, f"{key} of {app['case_no']} in a log line"


STATUS_ANYTHING = st.one_of(ANYTHING, st.sampled_from(["1", "2", "3", "4", "5", "6", "9", "01", "11", "7"]))


@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(st.fixed_dictionaries({"case_no": STATUS_ANYTHING, "item_code": STATUS_ANYTHING,
                                            "status_code": STATUS_ANYTHING, "reason": ANYTHING,
                                            "changed_at": st.one_of(ANYTHING, st.just("2025-03-01T10:00:00+08:00"))}),
                     min_size=150, max_size=150))
def test_generated_hostile_status_rows_never_stall_the_log(rows: list[dict[str, Any]], paths: Paths,
                                                          example_paths: Any) -> None:
    ledger_url, db, _keys = example_paths()
    written = _write(db, rows, status_log, S)
    result = collect_hrss(db, ledger_url, _keys, limit=37)
    total = result.read
    while (more := collect_hrss(db, ledger_url, _keys, limit=37)).read:
        total += more.read
    assert total == written and result.stopped_by is None
    assert result.parked + result.waiting + result.changed + result.skipped <= result.read
    assert math.isfinite(total)
