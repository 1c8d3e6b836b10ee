"""What an operator is shown of a held row (:func:`lianban.pipeline.quarantine.masked`), and their decisions
on it logged."""

from __future__ import annotations

from typing import Any

from lianban.app.config import Paths
from lianban.pipeline.quarantine import SHOWN_MAX, masked

ID = "341621196501010014"  # synthetic: a valid check character, no real person
PHONE = "13912345678"


def test_a_phone_typed_among_the_chosen_items_is_masked() -> None:
    shown = masked({"items": ("01", "11", PHONE)})
    assert shown["items"] == ["01", "11", "139****5678"]


def test_an_id_number_across_the_cut_is_masked_before_the_value_is_cut() -> None:
    employer = "某" * (SHOWN_MAX - 10) + ID
    shown = masked({"employer_name": employer})["employer_name"]
    assert len(shown) == SHOWN_MAX and ID[:10] not in shown and shown.endswith("341621****")


def test_an_operators_release_and_refusal_are_each_logged_on_either_database(
        seeded: tuple[Any, list[dict[str, Any]]], paths: Paths, ledger_url: str) -> None:
    """Their evidence kinds (``quarantine-overridden``: 21 characters) fit the log's column on PostgreSQL too."""
    from sqlalchemy import select

    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Evidence, Quarantine
    from lianban.pipeline import decisions
    from lianban.pipeline.stage import stage

    stage(seeded[0], ledger_url, paths.keys_dir)
    with session_factory(ledger_url)() as s:
        readable = list(s.scalars(select(Quarantine.id).where(Quarantine.fingerprint.is_not(None))
                                  .order_by(Quarantine.id)))
    decisions.release(ledger_url, paths.keys_dir, readable[0], "经核实，准予办理", "王敏")
    decisions.reject(ledger_url, paths.keys_dir, readable[1], "材料不符，不予受理", "王敏")
    with session_factory(ledger_url)() as s:
        kinds = sorted(s.scalars(select(Evidence.kind).where(Evidence.department == "operator")))
    assert kinds == ["quarantine-overridden", "quarantine-rejected"]


def test_two_operators_deciding_the_same_row_at_once_leave_one_decision(
        seeded: tuple[Any, list[dict[str, Any]]], paths: Paths) -> None:
    """One operator rejects a row while another releases it: the second waits for the first and is told the row
    is decided; the first decision stands, alone in the ledger and the evidence log."""
    import threading

    import pytest
    from sqlalchemy import select

    from lianban.errors import ConfigError
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Evidence, Quarantine
    from lianban.ledger.store import QuarantineState
    from lianban.pipeline import decisions, quarantine
    from lianban.pipeline.stage import stage

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    sessions = session_factory(paths.ledger_url)
    with sessions() as s:
        held = s.scalars(select(Quarantine.id).where(Quarantine.fingerprint.is_not(None))).first()
    assert held is not None
    second: list[Exception] = []

    def release() -> None:
        try:
            decisions.release(paths.ledger_url, paths.keys_dir, held, "经核实，准予办理", "李强")
        except ConfigError as exc:
            second.append(exc)

    with sessions.begin() as first:
        quarantine.decide(first, held, QuarantineState.REJECTED, "材料不符，不予受理", "王敏")
        other = threading.Thread(target=release)
        other.start()
        other.join(timeout=0.5)
        assert other.is_alive()  # the second operator waits for the first's decision
    other.join(timeout=30)
    assert len(second) == 1 and "已处理" in str(second[0])
    with sessions() as s:
        row = s.get(Quarantine, held)
        assert row is not None and (row.state, row.decided_by) == ("rejected", "王敏")
        assert list(s.scalars(select(Evidence.kind).where(Evidence.department == "operator"))) == []
    with pytest.raises(ConfigError):
        decisions.release(paths.ledger_url, paths.keys_dir, held, "再次放行", "李强")


def test_a_row_of_a_refused_case_corrected_at_the_source_is_held_not_delivered(paths: Paths) -> None:
    """The applicant was told 不予受理 when an operator rejected the held row; HRSS then corrects the row anyway.
    The corrected row is held with why (and cannot be released): no delivery goes out for an application its
    applicant was told is refused, and the refused items stay as they were."""
    import pytest
    from sqlalchemy import func, select

    from connectors.hrss.frontend import FrontendDB
    from lianban.errors import ConfigError
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import CaseItem, Delivery, IllegalTransition, Quarantine
    from lianban.pipeline import decisions
    from lianban.pipeline.stage import stage
    from simulators.people import generate

    app = next(iter(generate(1, seed=7)))
    wrong = app["id_number"][:17] + ("0" if app["id_number"][17] != "0" else "1")
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([{**app, "id_number": wrong}])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    with session_factory(paths.ledger_url)() as s:
        held = s.scalars(select(Quarantine.id)).one()
    decisions.reject(paths.ledger_url, paths.keys_dir, held, "材料不符，不予受理", "王敏")
    db.correct(1, {"id_number": app["id_number"]})
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.staged, again.quarantined, again.deliveries) == (0, 1, 0)
    with session_factory(paths.ledger_url)() as s:
        statuses = set(s.scalars(select(CaseItem.status)))
        deliveries = s.scalar(select(func.count()).select_from(Delivery))
        illegal = s.scalar(select(func.count()).select_from(IllegalTransition))
        row = s.scalars(select(Quarantine).where(Quarantine.state == "open")).one()
    assert statuses == {"不予受理"} and deliveries == 0 and illegal == 0
    assert "CASE_REFUSED" in row.reasons and "已被退回（不予受理）" in row.reasons
    with pytest.raises(ConfigError, match="所属办件已被退回"):
        decisions.release(paths.ledger_url, paths.keys_dir, row.id, "经核实，准予办理", "王敏")


def test_a_row_differing_from_its_staged_case_cannot_be_released_as_it_is(paths: Paths) -> None:
    """A staged row HRSS changed is held (CASE_CHANGED): the hub never sends a staged case again, so a release
    would only hold the row anew at the next run; it is refused in one sentence and the hold stays open."""
    import pytest
    from sqlalchemy import select

    from connectors.hrss.frontend import FrontendDB
    from lianban.domain.catalog import load_catalog
    from lianban.domain.record import RetirementRecord
    from lianban.domain.validation import problems
    from lianban.errors import ConfigError
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Quarantine
    from lianban.pipeline import decisions
    from lianban.pipeline.stage import stage
    from simulators.people import generate

    app = next(a for a in generate(40, seed=5)
               if not problems(RetirementRecord(**{**a, "items": tuple(a["items"].split(","))}), load_catalog()))
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    stage(db, paths.ledger_url, paths.keys_dir)
    db.correct(1, {"employer_name": "亳州市另一家单位有限公司"})
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    with session_factory(paths.ledger_url)() as s:
        held, reasons = s.execute(select(Quarantine.id, Quarantine.reasons)).one()
    assert "CASE_CHANGED" in reasons
    with pytest.raises(ConfigError, match="已入账"):
        decisions.release(paths.ledger_url, paths.keys_dir, held, "经核实，准予办理", "王敏")
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(Quarantine.state)).all() == ["open"]
