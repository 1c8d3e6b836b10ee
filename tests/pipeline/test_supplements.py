"""补正 submissions recorded at the HRSS window reach the department that asked, once; HRSS's own are kept; a
submission for a case not staged waits; a department down retries, then dead-letters; nothing is lost."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.domain.identity import SAID_MAX
from lianban.domain.schemas import schema_path
from lianban.ledger import evidence
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Evidence, Supplement
from lianban.ledger.progress import progress
from lianban.ledger.store import SupplementState, utcnow
from lianban.pipeline import supplements as supplements_mod
from lianban.pipeline.deliver import deliver
from lianban.pipeline.stage import stage
from lianban.pipeline.supplements import collect_supplements, forward_supplements
from lianban.wire.contract import Receipt
from lianban.wire.settings import parse_connection

PUSHED = ("medical", "health", "housing_fund")


def _peer(department: str) -> Any:
    return load_department(department, department_settings(department), Paths.from_env().keys_dir)


def _down(department: str) -> Any:
    """The department's connector pointed at a port nobody listens on."""
    settings = department_settings(department)
    conn = {"host": "127.0.0.1", "port": 9, "schema": "http", "login": settings.login, "password": settings.password,
            "extra": {"connect_timeout": 1, "read_timeout": 2, "wsdl": str(schema_path("medical", "medical.wsdl"))}}
    return load_department(department, parse_connection(department, json.dumps(conn)), Paths.from_env().keys_dir)


def _one_item_per_department(url: str) -> dict[str, tuple[str, str]]:
    """department → (办件编号, 事项编码) of one of its case items (HRSS's own included)."""
    with session_factory(url)() as s:
        rows = s.execute(select(CaseItem.department, Case.case_no, CaseItem.item_code)
                         .join(Case, Case.id == CaseItem.case_id).order_by(CaseItem.id)).all()
    chosen: dict[str, tuple[str, str]] = {}
    for department, case_no, item_code in rows:
        chosen.setdefault(department, (case_no, item_code))
    return chosen


def _states(url: str) -> dict[str, int]:
    with session_factory(url)() as s:
        states = list(s.scalars(select(Supplement.state)))
    return {state: states.count(state) for state in set(states)}


def _forward_all(paths: Paths, peers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {d: forward_supplements((peers or {}).get(d) or _peer(d), paths.ledger_url, 50, paths.keys_dir)
            for d in PUSHED}


def _stage_and_deliver(db: FrontendDB, paths: Paths) -> None:
    stage(db, paths.ledger_url, paths.keys_dir)
    for department in PUSHED:
        deliver(_peer(department), paths.ledger_url, 100, paths.keys_dir)


def test_submissions_reach_their_department_once_and_hrss_items_are_kept_not_forwarded(
        seeded: Any, paths: Paths, simulation: Any) -> None:
    db = seeded[0]
    _stage_and_deliver(db, paths)
    chosen = _one_item_per_department(paths.ledger_url)
    for case_no, item_code in chosen.values():
        db.record_supplement(case_no, item_code, ["M01", "M03"])

    collected = collect_supplements(db, paths.ledger_url)
    forwarded = _forward_all(paths)
    again = (collect_supplements(db, paths.ledger_url), _forward_all(paths))

    assert (collected.read, collected.pending, collected.own) == (4, 3, 1)
    assert {d: (r.sent, r.accepted) for d, r in forwarded.items()} == {d: (1, 1) for d in PUSHED}
    assert again[0].read == 0 and all(r.sent == 0 for r in again[1].values())  # nothing new, nothing resent
    assert all(simulation.engines[d].supplement_stats()["supplements"] == 1 for d in PUSHED)
    assert _states(paths.ledger_url) == {SupplementState.ACCEPTED: 3, SupplementState.OWN: 1}
    assert progress(paths.ledger_url).supplements == {"accepted": 3, "own": 1}  # what `lianban status` shows
    assert db.pull_new_supplements(10) == []  # flagged taken in the 前置库
    with session_factory(paths.ledger_url)() as s:
        kinds = list(s.scalars(select(Evidence.department).where(Evidence.kind == "supplement")))
        assert sorted(kinds) == sorted(PUSHED)  # one signed message out per department
        assert evidence.verify_ledger(s, paths.keys_dir).ok


def test_one_run_takes_every_submission_a_page_at_a_time_until_the_budget_is_spent(
        seeded: Any, paths: Paths, simulation: Any) -> None:
    """Submissions past one page are not left for the next run while there is time (pages of 2 here); a run
    whose budget is spent stops after a page, and the next one goes on from there."""
    db = seeded[0]
    _stage_and_deliver(db, paths)
    for case_no, item_code in _one_item_per_department(paths.ledger_url).values():
        db.record_supplement(case_no, item_code, ["M01"])
        db.record_supplement(case_no, item_code, ["M03"])

    first = collect_supplements(db, paths.ledger_url, limit=2, budget=0)
    rest = collect_supplements(db, paths.ledger_url, limit=2)
    assert (first.read, rest.read) == (2, 6)
    assert db.pull_new_supplements(10) == []  # every page flagged taken in the 前置库


def test_a_submission_waits_for_its_case_and_its_delivery_then_is_forwarded(
        seeded: Any, paths: Paths, simulation: Any) -> None:
    db, apps = seeded
    case_no = next(a["case_no"] for a in apps if "14" in a["items"].split(","))
    db.record_supplement(case_no, "14", ["M02"])

    before_stage = collect_supplements(db, paths.ledger_url)
    stage(db, paths.ledger_url, paths.keys_dir)
    before_delivery = collect_supplements(db, paths.ledger_url)
    deliver(_peer("housing_fund"), paths.ledger_url, 100, paths.keys_dir)
    delivered = collect_supplements(db, paths.ledger_url)
    forwarded = forward_supplements(_peer("housing_fund"), paths.ledger_url, 50, paths.keys_dir)

    assert (before_stage.waiting, before_delivery.waiting, delivered.pending) == (1, 1, 1)
    assert forwarded.accepted == 1 and simulation.engines["housing_fund"].supplement_stats()["supplements"] == 1


def test_a_department_down_retries_then_dead_letters_nothing_lost(
        seeded: Any, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supplements_mod, "MAX_ATTEMPTS", 3)
    db = seeded[0]
    _stage_and_deliver(db, paths)
    case_no, item_code = _one_item_per_department(paths.ledger_url)["health"]
    db.record_supplement(case_no, item_code, ["M01"])
    collect_supplements(db, paths.ledger_url)

    down = forward_supplements(_down("health"), paths.ledger_url, 50, paths.keys_dir)
    assert (down.retrying, down.accepted) == (1, 0) and down.stopped_by
    assert _states(paths.ledger_url) == {SupplementState.RETRY: 1}
    for _ in range(2):
        with session_factory(paths.ledger_url).begin() as s:  # the back-off has passed
            s.execute(update(Supplement).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        forward_supplements(_down("health"), paths.ledger_url, 50, paths.keys_dir)

    with session_factory(paths.ledger_url)() as s:
        dead = s.scalars(select(Supplement)).one()
    assert (dead.state, dead.attempts) == (SupplementState.DEAD, 3) and "dept_health" in (dead.last_error or "")
    assert simulation.engines["health"].supplement_stats()["supplements"] == 0


def test_a_departments_huge_refusal_of_a_submission_is_kept_bounded_and_masked(
        seeded: Any, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A department's per-item refusal reason was stored whole (masked, of any length) in last_error: 100 KB
    quoting an ID number went into the row and every listing of it."""
    db = seeded[0]
    _stage_and_deliver(db, paths)
    case_no, item_code = _one_item_per_department(paths.ledger_url)["health"]
    db.record_supplement(case_no, item_code, ["M01"])
    collect_supplements(db, paths.ledger_url)
    peer = _peer("health")
    words = "材料不符：身份证号 341602195501010012 有误" + "。" * 100_000
    monkeypatch.setattr(peer.connector, "supplement", lambda batch, seal: [
        Receipt(s.supplement_id, accepted=False, department_code="CLBF", reason=words) for s in batch])

    refused = forward_supplements(peer, paths.ledger_url, 50, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        row = s.scalars(select(Supplement)).one()
    assert refused.refused == 1 and row.state == SupplementState.REFUSED and row.last_error
    assert row.last_error.startswith("CLBF: 材料不符：身份证号 341602********0012 有误")
    assert "19550101" not in row.last_error
    assert len(row.last_error) <= SAID_MAX and row.last_error.endswith("…（已截断）")


def test_a_submission_naming_an_unknown_material_is_parked_with_a_chinese_reason(
        seeded: Any, paths: Paths) -> None:
    db, apps = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    db.record_supplement(apps[0]["case_no"], "01", ["M01", "M99"])

    collected = collect_supplements(db, paths.ledger_url)

    with session_factory(paths.ledger_url)() as s:
        parked = s.scalars(select(Supplement)).one()
    assert collected.parked == 1 and parked.state == SupplementState.PARKED
    assert "M99" in (parked.last_error or "") and "材料目录" in (parked.last_error or "")
    assert db.pull_new_supplements(10) == []  # flagged quarantined, not left for the next run


def test_the_job_isolates_a_misconfigured_department_and_forwards_the_others(
        seeded: Any, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from lianban.app import jobs
    from lianban.app.config import conn_env_name

    db = seeded[0]
    _stage_and_deliver(db, paths)
    for case_no, item_code in _one_item_per_department(paths.ledger_url).values():
        db.record_supplement(case_no, item_code, ["M05"])
    monkeypatch.setenv(conn_env_name("health"), _with_password(conn_env_name("health"), "not-the-secret"))

    results = jobs.supplements()

    assert "error" in results["health"] and "not-the-secret" not in results["health"]["error"]
    assert results["medical"]["accepted"] == results["housing_fund"]["accepted"] == 1
    assert results["hrss"]["own"] == 1
    assert _states(paths.ledger_url)[SupplementState.PENDING] == 1  # health's: still due, not lost


def _with_password(env_name: str, password: str) -> str:
    conn = json.loads(os.environ[env_name])
    conn["password"] = password
    return json.dumps(conn)


def test_a_submission_past_a_missing_number_waits_for_it_and_is_not_flagged_taken(paths: Paths) -> None:
    """序号 2 is not committed yet (a sequence hands numbers out before their rows commit): 3 is neither kept nor
    flagged; once 2 is there, both are taken, in order."""
    from connectors.hrss.frontend import supplements as table
    from connectors.hrss.mapping import SUPPLEMENT_COLUMNS as B

    db = FrontendDB(paths.frontend_url)

    def submit(seq: int) -> None:
        with db.engine.begin() as conn:
            conn.execute(insert(table), [{B["seq"]: seq, B["case_no"]: f"BZ2026{seq:06d}", B["item_code"]: "14",
                                          B["materials"]: "M01", B["supplied_at"]: "2026-12-01T09:00:00+08:00"}])

    submit(1)
    submit(3)
    assert collect_supplements(db, paths.ledger_url).read == 1
    assert [r.seq for r in db.pull_new_supplements(10)] == [3]
    submit(2)
    assert collect_supplements(db, paths.ledger_url).read == 2
    with session_factory(paths.ledger_url)() as s:
        assert list(s.scalars(select(Supplement.source_seq).order_by(Supplement.id))) == [1, 2, 3]


def test_a_submission_for_a_held_case_an_operator_refused_is_refused_not_left_waiting(paths: Paths) -> None:
    """A held case's pushed item never delivered: its 补正 submission waits for the correction; once an operator
    refuses the application (every item 不予受理) nothing will ever be delivered, so it is refused with the reason
    instead of being placed again every run for good."""
    from lianban.pipeline.notices import refuse
    from simulators.people import generate

    app = next(a for a in generate(40, seed=3) if "11" in a["items"].split(","))
    app = {**app, "id_number": app["id_number"][:17] + ("0" if app["id_number"][17] != "0" else "1")}
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    stage(db, paths.ledger_url, paths.keys_dir)
    db.record_supplement(app["case_no"], "11", ["M01"])
    assert collect_supplements(db, paths.ledger_url).waiting == 1

    with session_factory(paths.ledger_url).begin() as s:
        assert refuse(s, app["case_no"], "申请人撤回申请") > 0
    again = collect_supplements(db, paths.ledger_url)
    assert (again.waiting, again.refused) == (0, 1)
    with session_factory(paths.ledger_url)() as s:
        row = s.scalars(select(Supplement)).one()
    assert row.state == SupplementState.REFUSED and row.last_error and "不予受理" in row.last_error


def test_a_submission_refused_for_a_dead_delivery_requeued_goes_once_that_delivery_has(
        seeded: Any, paths: Paths, simulation: Any) -> None:
    """Its item's delivery a dead letter, the submission is refused (nothing to forward to) with no supplement id.
    The operator requeues the delivery, then the supplements: the submission waits for the delivery and is then
    forwarded, once. It was made due as it was: forwarding raised AssertionError for want of its supplement id,
    and every later run of that department's supplements failed on it."""
    from lianban.ledger.models import Delivery
    from lianban.pipeline.dead_letters import requeue, requeue_supplements

    db, apps = seeded
    case_no = next(a["case_no"] for a in apps if "14" in a["items"].split(","))
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(Delivery).where(Delivery.department == "housing_fund").values(state="dead"))
    db.record_supplement(case_no, "14", ["M02"])
    assert collect_supplements(db, paths.ledger_url).refused == 1

    requeue(paths.ledger_url, "housing_fund")
    assert requeue_supplements(paths.ledger_url) == 1
    early = forward_supplements(_peer("housing_fund"), paths.ledger_url, 50, paths.keys_dir)
    deliver(_peer("housing_fund"), paths.ledger_url, 100, paths.keys_dir)
    placed = collect_supplements(db, paths.ledger_url)
    forwarded = forward_supplements(_peer("housing_fund"), paths.ledger_url, 50, paths.keys_dir)

    assert (early.sent, placed.pending, forwarded.accepted) == (0, 1, 1)
    assert simulation.engines["housing_fund"].supplement_stats()["supplements"] == 1


def test_a_parked_submission_hrss_corrects_in_place_is_read_again(seeded: Any, paths: Paths) -> None:
    """The runbook's remedy for an unreadable submission: HRSS corrects the row in its 前置库 and flags it new. The
    hub reads it again in place of the parked one (still one row in the ledger); a correction behind the
    watermark was never read, and the applicant's materials stayed parked for good."""
    from connectors.hrss.frontend import supplements as table
    from connectors.hrss.mapping import SUPPLEMENT_COLUMNS as B

    db, apps = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    seq = db.record_supplement(apps[0]["case_no"], "01", ["M01", "M99"])
    assert collect_supplements(db, paths.ledger_url).parked == 1
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c[B["seq"]] == seq).values({B["materials"]: "M01,M09",
                                                                            B["sync_flag"]: "0"}))

    again = collect_supplements(db, paths.ledger_url)
    assert (again.read, again.own, again.parked) == (1, 1, 0)
    with session_factory(paths.ledger_url)() as s:
        row = s.scalars(select(Supplement)).one()
    assert (row.state, json.loads(row.materials), row.last_error) == (SupplementState.OWN, ["M01", "M09"], None)
    assert db.pull_new_supplements(10) == []  # flagged taken
    assert collect_supplements(db, paths.ledger_url).read == 0


def test_rows_kept_but_never_flagged_do_not_hide_a_corrected_one(seeded: Any, paths: Paths) -> None:
    """Rows the ledger holds whose flagging did not happen (the 前置库 unreachable right after the ledger's commit)
    stay flagged new behind the watermark. They were passed over at every run and never flagged, so once a page of
    them stood first among the rows flagged new, no row HRSS corrected was ever read again."""
    from connectors.hrss.frontend import supplements as table
    from connectors.hrss.mapping import SUPPLEMENT_COLUMNS as B

    db, apps = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    kept = [db.record_supplement(apps[n]["case_no"], "01", ["M01"]) for n in (0, 1)]
    assert collect_supplements(db, paths.ledger_url, limit=2).own == 2
    seq = db.record_supplement(apps[2]["case_no"], "01", ["M01", "M99"])
    assert collect_supplements(db, paths.ledger_url, limit=2).parked == 1
    with db.engine.begin() as conn:  # the two never flagged; HRSS corrects the third and flags it new
        conn.execute(update(table).where(table.c[B["seq"]].in_(kept)).values({B["sync_flag"]: "0"}))
        conn.execute(update(table).where(table.c[B["seq"]] == seq).values({B["materials"]: "M01,M09",
                                                                            B["sync_flag"]: "0"}))
    read = [collect_supplements(db, paths.ledger_url, limit=2).read for _ in range(2)]
    assert read == [0, 1] and db.pull_new_supplements(10) == []
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(Supplement.state).where(Supplement.source_seq == seq)).one() == SupplementState.OWN


def test_a_submission_hrss_corrects_in_place_before_it_was_forwarded_is_read_again(seeded: Any, paths: Paths) -> None:
    """A submission typed under a wrong 办件编号 waits for a case that never comes, one under an item the case did
    not choose is refused: neither was ever forwarded. HRSS corrects each in its 前置库 and flags it new; each is
    read again in its place. The correction was flagged taken unread (only a parked row was read again), so the
    applicant's materials never reached the department."""
    from connectors.hrss.frontend import supplements as table
    from connectors.hrss.mapping import SUPPLEMENT_COLUMNS as B

    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    case_no, item_code = _one_item_per_department(paths.ledger_url)["hrss"]
    wrong_case = db.record_supplement("BZ-NO-SUCH-CASE", item_code, ["M01"])
    wrong_item = db.record_supplement(case_no, "99", ["M01"])
    first = collect_supplements(db, paths.ledger_url)
    assert (first.waiting, first.refused) == (1, 1)
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c[B["seq"]] == wrong_case).values({B["case_no"]: case_no,
                                                                                 B["sync_flag"]: "0"}))
        conn.execute(update(table).where(table.c[B["seq"]] == wrong_item).values({B["item_code"]: item_code,
                                                                                 B["sync_flag"]: "0"}))
    again = collect_supplements(db, paths.ledger_url)
    assert (again.read, again.own) == (2, 2) and db.pull_new_supplements(10) == []
    assert _states(paths.ledger_url) == {SupplementState.OWN: 2}


@pytest.mark.parametrize("item_code", ["王华", "11111"])
def test_a_submission_whose_item_code_is_no_code_is_parked_with_why(seeded: Any, paths: Paths, item_code: str) -> None:
    """事项编码 holding a name (columns swapped at the source) or too long for any code: parked with a reason HRSS
    can act on, the text kept nowhere; it was kept cut to four characters (the name in the clear, 11111 as
    1111) and refused as an item the case did not choose."""
    db, apps = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    db.record_supplement(apps[0]["case_no"], item_code, ["M01"])
    assert collect_supplements(db, paths.ledger_url).parked == 1
    with session_factory(paths.ledger_url)() as s:
        row = s.scalars(select(Supplement)).one()
    assert row.item_code is None and "事项编码" in (row.last_error or "")
    assert item_code[:4] not in (row.last_error or "") + row.case_no
