"""一体反馈: statuses collected from HRSS's log and by polling, then reported in order to 皖事通办."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from typing import Any

import pytest
import requests
from exchange_kit import one_round, sqlite_ledger, world, write_lock_free
from sqlalchemy import delete, event, func, select

from connectors.hrss.frontend import applications, status_log
from connectors.hrss.mapping import APPLICATION_COLUMNS as A
from connectors.hrss.mapping import STATUS_COLUMNS as S
from connectors.hrss.statuses import CODES
from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department, load_sink
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.keys import keysets
from lianban.keys.names import VAULT
from lianban.keys.rings import load_ring
from lianban.ledger import evidence
from lianban.ledger.db import engine_for, session_factory
from lianban.ledger.models import (
    Case,
    CaseItem,
    Delivery,
    Evidence,
    ParkedStatus,
    PaymentRequest,
    StatusEvent,
    Supplement,
)
from lianban.ledger.progress import progress
from lianban.ledger.results import result_summary, seal_result
from lianban.ledger.store import get_watermark
from lianban.pipeline.deliver import deliver
from lianban.pipeline.feedback import open_page, poll_department
from lianban.pipeline.notices import HOLD_CODE
from lianban.pipeline.report import report
from lianban.pipeline.stage import stage
from lianban.pipeline.status_log import HRSS_WATERMARK, collect_hrss
from simulators.hrss_backoffice import HrssBackOffice

PUSHED = ("medical", "health", "housing_fund")


def _connector(name: str) -> Any:
    keys_dir = Paths.from_env().keys_dir
    if name == "wanshi_tong":
        return load_sink(department_settings(name), keys_dir)
    return load_department(name, department_settings(name), keys_dir)


def test_statuses_reach_wanshi_tong_final_and_in_order(seeded: Any, paths: Paths, simulation: Any,
                                                        ledger_url: str) -> None:
    """On SQLite and on PostgreSQL, with the evidence chain intact at the end; every 补正 item completes once
    its applicant has brought the materials to the HRSS window."""
    db, _ = seeded
    stage(db, ledger_url, paths.keys_dir)
    for name in PUSHED:
        deliver(_connector(name), ledger_url, 100, paths.keys_dir)
    w = world(db, simulation)
    for _ in range(20):  # HRSS works its items (and corrects what was held); departments step every 0.2 s
        one_round(w, ledger_url, paths.keys_dir)  # item 13: health approves → HRSS pays → 已办结
        if progress(ledger_url).done:
            break
        time.sleep(0.25)
    state = progress(ledger_url)
    assert state.done, state
    assert state.held_cases == 0 and state.corrected == state.ever_quarantined > 0  # told, corrected, then done
    assert state.quarantined == 0  # nothing held any more
    with session_factory(ledger_url)() as s:
        assert evidence.verify_ledger(s, paths.keys_dir).ok
    stats = requests.get(f"{simulation.urls['wanshi_tong']}/_sim/stats", timeout=5).json()
    assert stats["items"] == state.case_items
    assert stats["duplicates"] == 0
    final = {s.value for s in Status if s.is_terminal()}
    assert set(stats["items_by_status"]) <= final
    _results_came_back_sealed(ledger_url, paths)
    with session_factory(ledger_url)() as s:
        asked = set(s.scalars(select(StatusEvent.case_item_id).where(  # held applications are fixed at the source
            StatusEvent.status == Status.SUPPLEMENT, StatusEvent.department_code.is_distinct_from(HOLD_CODE))))
        supplied = set(s.scalars(select(Supplement.case_item_id)))
    assert asked and asked <= supplied  # every 补正 was answered at the window, and completed since


def _final_events(ledger_url: str) -> list[tuple[str, str, str, str | None, str]]:
    """(item code, status, source, sealed result, 办件编号) of every item's last event."""
    with session_factory(ledger_url)() as s:
        rows = s.execute(select(StatusEvent.case_item_id, CaseItem.item_code, StatusEvent.status,
                                StatusEvent.source, StatusEvent.result, Case.case_no)
                         .join(CaseItem, StatusEvent.case_item_id == CaseItem.id).join(Case)
                         .order_by(StatusEvent.id)).all()
    return list({row[0]: tuple(row[1:]) for row in rows}.values())  # type: ignore[arg-type]


def _results_came_back_sealed(ledger_url: str, paths: Paths) -> None:
    """Items 12 and 14 completed with their result, item 13 completed by HRSS's payment (never by health), each
    result sealed at rest and read back as the sentence the applicant sees."""
    vault = load_ring(paths.keys_dir, VAULT)
    done = [e for e in _final_events(ledger_url) if e[1] == Status.COMPLETED.value and e[0] in ("12", "13", "14")]
    assert {code for code, *_ in done} == {"12", "13", "14"}, "some item with a result never completed"
    for code, _status, source, sealed, case_no in done:
        assert source == ("hrss" if code == "13" else load_catalog().items[code].department)
        assert sealed is not None and '"ct"' in sealed and "amount" not in sealed  # sealed, not readable
        sentence = result_summary(vault, case_no, code, sealed)
        assert sentence and {"12": "医保累计缴费年限", "13": "一次性奖励", "14": "住房公积金提取"}[code] in sentence
    with session_factory(ledger_url)() as s:
        approved_13 = s.scalars(select(CaseItem.id).join(StatusEvent).where(
            CaseItem.item_code == "13", StatusEvent.status == Status.APPROVED.value)).all()
        paid = s.scalars(select(PaymentRequest.case_item_id)).all()
    assert approved_13 and sorted(set(approved_13)) == sorted(paid)  # every approval asked once, no more


def test_hrss_log_is_read_once_and_a_row_for_an_unstaged_case_waits_without_stalling(
        seeded: Any, paths: Paths) -> None:
    db, apps = seeded
    late = apps.pop()  # an application HRSS has not written to the 前置库 yet
    with db.engine.begin() as conn:
        conn.execute(delete(applications).where(applications.c[A["case_no"]] == late["case_no"]))
    stage(db, paths.ledger_url, paths.keys_dir)
    office = HrssBackOffice(db, step_seconds=0)
    db.append_status(late["case_no"], "01", CODES[Status.ACCEPTED])  # its status arrives first
    office.tick()
    first = collect_hrss(db, paths.ledger_url, paths.keys_dir)
    assert first.read > 0 and first.waiting >= 1 and first.stopped_by is None
    assert first.changed == first.read - first.waiting - first.skipped
    assert collect_hrss(db, paths.ledger_url, paths.keys_dir).read == 0  # read once, the watermark moved past every row
    db.insert_applications([late])
    stage(db, paths.ledger_url, paths.keys_dir)
    applied = collect_hrss(db, paths.ledger_url, paths.keys_dir)
    assert applied.read == 0 and applied.changed == 1
    with session_factory(paths.ledger_url)() as s:
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == late["case_no"],
                                                           CaseItem.item_code == "01")).one()
        assert item.status == Status.ACCEPTED.value
        assert get_watermark(s, HRSS_WATERMARK) > 0


def test_one_run_drains_a_backlog_page_by_page_unless_its_time_budget_is_spent(seeded: Any, paths: Paths) -> None:
    db, _ = seeded
    with db.engine.begin() as conn:  # 250 status rows of cases not staged yet: read, kept waiting
        conn.execute(status_log.insert(), [{S["case_no"]: f"BZTX2026129{n:05d}", S["item_code"]: "01",
                                            S["status_code"]: CODES[Status.ACCEPTED],
                                            S["changed_at"]: "2026-12-01T09:00:00+08:00"} for n in range(250)])
    drained = collect_hrss(db, paths.ledger_url, paths.keys_dir, limit=100)
    assert (drained.read, drained.waiting, drained.stopped_by) == (250, 250, None)  # three pages, one run
    db.append_status("BZTX202612999999", "01", CODES[Status.ACCEPTED])
    db.append_status("BZTX202612999998", "01", CODES[Status.ACCEPTED])
    spent = collect_hrss(db, paths.ledger_url, paths.keys_dir, limit=1, budget=0)
    assert spent.read == 1 and "时间预算" in (spent.stopped_by or "")
    assert collect_hrss(db, paths.ledger_url, paths.keys_dir).read == 1  # the rest next run, nothing lost


def test_a_page_of_the_hrss_log_costs_the_same_few_queries_however_many_rows_it_holds(
        seeded: Any, paths: Paths) -> None:
    """The status sweep reads 100,000 items' changes: a query (and a flush) per row made HRSS's log the slowest
    part of it (issue 12 §4)."""
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    office = HrssBackOffice(db, step_seconds=0)
    office.tick()
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = engine_for(paths.ledger_url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        few = collect_hrss(db, paths.ledger_url, paths.keys_dir, limit=3, budget=0)  # one page of 3 rows
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        statements.clear()
        for _ in range(3):
            office.tick()
        many = collect_hrss(db, paths.ledger_url, paths.keys_dir, limit=10_000)  # one page of them all
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert few.read == 3 and many.read > 100 and many.changed > 0
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= len(reads) + 2


def test_report_stops_when_wanshi_tong_is_down_and_resumes(seeded: Any, paths: Paths, simulation: Any,
                                                           monkeypatch: Any) -> None:
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    HrssBackOffice(db, step_seconds=0).tick()
    collect_hrss(db, paths.ledger_url, paths.keys_dir)
    pending = progress(paths.ledger_url).unreported_events
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_WANSHI_TONG",
                       '{"host": "127.0.0.1", "port": 9, "login": "x", "password": "y", '
                       '"extra": {"connect_timeout": 1}}')
    down = report(_connector("wanshi_tong"), paths.ledger_url, paths.keys_dir)
    assert down.stopped_by and progress(paths.ledger_url).unreported_events == pending
    monkeypatch.undo()
    from lianban.app.demo import connections

    for name, value in connections(simulation.urls, paths.home).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIANBAN_HOME", str(paths.home))
    back = report(_connector("wanshi_tong"), paths.ledger_url, paths.keys_dir)
    assert back.changed == pending and progress(paths.ledger_url).unreported_events == 0


def test_an_unknown_hrss_code_is_parked_with_a_sentence_and_the_rows_behind_it_flow(
        seeded: Any, paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    db.append_status("BZ-ANY", "01", "7")
    HrssBackOffice(db, step_seconds=0).tick()
    result = collect_hrss(db, paths.ledger_url, paths.keys_dir)
    assert result.parked == 1 and result.changed > 0 and result.stopped_by is None
    with session_factory(paths.ledger_url)() as s:
        parked = s.scalars(select(ParkedStatus).where(ParkedStatus.state == "parked")).one()
    assert "'7'" in parked.reasons and "connectors/hrss/statuses.py" in parked.reasons
    assert any("告警" in r.getMessage() and "搁置" in r.getMessage() for r in caplog.records)


def test_a_status_for_an_unchosen_item_is_skipped_not_blocking(seeded: Any, paths: Paths) -> None:
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    with db.engine.connect() as conn:
        case_no, items = conn.execute(select(applications.c[A["case_no"]], applications.c[A["items"]])
                                      .where(applications.c[A["sync_flag"]] == "1")).first()  # type: ignore[misc]
    unchosen = next(c for c in ("02", "03", "04", "05", "06", "07", "08", "09") if c not in items.split(","))
    db.append_status(case_no, unchosen, CODES[Status.ACCEPTED])
    db.append_status(case_no, "01", CODES[Status.UNDER_REVIEW])
    result = collect_hrss(db, paths.ledger_url, paths.keys_dir)
    assert result.stopped_by is None and result.skipped == 1 and result.changed == 1


@pytest.mark.parametrize("lanes", [1, 2])
def test_every_polled_page_and_every_pushed_chunk_leaves_its_own_signed_evidence(
        seeded: Any, paths: Paths, simulation: Any, lanes: int) -> None:
    """One verified evidence entry per wire exchange: a poll that pages and a push sent in chunks record
    every answer's signature and wire digest, not just the last one; with lanes, each its own answers'."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    deliver(_connector("housing_fund"), paths.ledger_url, 100, paths.keys_dir)
    (poller, *more), sink = [_connector("housing_fund") for _ in range(lanes)], _connector("wanshi_tong")
    for peer in (poller, *more):
        peer.connector.page_size = 4
    sink.connector.batch_size = 9
    polled = poll_department(poller, paths.ledger_url, paths.keys_dir, lanes=more)
    with session_factory(paths.ledger_url)() as s:
        events = len(s.scalars(select(StatusEvent.id).where(StatusEvent.reported_at.is_(None))).all())
    report(sink, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        answers = {kind: list(s.scalars(select(Evidence).where(Evidence.direction == "in", Evidence.kind == kind)
                                        .order_by(Evidence.id))) for kind in ("status", "ack")}
        assert evidence.verify_ledger(s, paths.keys_dir).ok
    assert polled.read >= 8 and len(answers["status"]) == math.ceil(polled.read / 4)
    assert events > 9 and len(answers["ack"]) == math.ceil(events / 9)
    for kind, party in (("status", "housing_fund"), ("ack", "wanshi_tong")):
        kid = keysets.load(paths.keys_dir, f"{party}-signing", public_only=True).active
        assert all(e.signature and e.key_id == kid and f"kid={kid}" in e.signature for e in answers[kind])
        assert len({e.signature for e in answers[kind]}) == len(answers[kind])  # each answer's own signature
    assert len({e.digest for e in answers["status"]}) == len(answers["status"])  # each page's own wire bytes


def test_an_hrss_supplement_naming_an_unknown_material_is_parked_not_applied(seeded: Any, paths: Paths) -> None:
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        case_no = s.scalars(select(Case.case_no).join(CaseItem).where(CaseItem.item_code == "01")).first()
    assert case_no is not None
    db.append_status(case_no, "01", CODES[Status.SUPPLEMENT], "请补正", materials=("M01", "M99"))
    db.append_status(case_no, "01", CODES[Status.SUPPLEMENT], "请补正", materials=("M01",))

    result = collect_hrss(db, paths.ledger_url, paths.keys_dir)

    with session_factory(paths.ledger_url)() as s:
        parked = s.scalars(select(ParkedStatus)).one()
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == case_no, CaseItem.item_code == "01")).one()
    assert (result.parked, result.changed) == (1, 1)
    assert any("M99" in r and "材料目录" in r for r in json.loads(parked.reasons))
    assert (item.status, item.materials) == ("补正资料", '["M01"]')  # the readable row behind it still applies


def test_a_poll_pages_through_the_open_items_and_asks_for_each_once(seeded: Any, paths: Paths,
                                                                     simulation: Any) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    deliver(_connector("housing_fund"), paths.ledger_url, 100, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        open_items = len(s.scalars(select(Delivery.id).join(CaseItem, Delivery.case_item_id == CaseItem.id)
                                   .where(Delivery.department == "housing_fund", CaseItem.final.is_(False))).all())
    polled = poll_department(_connector("housing_fund"), paths.ledger_url, paths.keys_dir, batch=3)
    with session_factory(paths.ledger_url)() as s:
        asked = s.scalars(select(Evidence).where(Evidence.direction == "out", Evidence.kind == "poll")).all()
    assert open_items > 6 and polled.read == open_items  # every open item answered for, once
    assert len(asked) == math.ceil(open_items / 3)  # a page of three at a time


def test_a_poll_page_reads_only_its_own_rows_in_delivery_order(paths: Paths) -> None:
    """A page is found through the (department, state, id) index from where the last one ended: no page reads
    and sorts every delivery the department has taken (which made a poll grow with the square of its backlog:
    60 ms a page at 37,713 taken, seconds a page at a million)."""
    query = open_page("medical", 12_345, 1000).compile(engine_for(paths.ledger_url))
    with engine_for(paths.ledger_url).connect() as conn:
        binds = tuple(query.params[name] for name in query.positiontup or ())
        plan = " / ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", binds))
    assert "ix_deliveries_by_id (department=? AND state=? AND id>?)" in plan and "TEMP B-TREE" not in plan, plan


def test_two_lanes_ask_their_pages_at_once_and_record_every_status_once(seeded: Any, paths: Paths,
                                                                         simulation: Any) -> None:
    """With a second lane, one page is asked while another is recorded: each lane's first ask waits until the
    other's is under way (a run asking one page after another would never get past it)."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    deliver(_connector("housing_fund"), paths.ledger_url, 100, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        items = set(s.scalars(select(CaseItem.id).join(Delivery, Delivery.case_item_id == CaseItem.id)
                              .where(Delivery.department == "housing_fund", Delivery.state == "accepted",
                                     CaseItem.final.is_(False))))
        before = s.scalar(select(func.max(StatusEvent.id)))
    time.sleep(0.5)  # two of the department's 0.2 s steps: every item has moved on from 受理 (a fast poll saw none)
    both, lanes = threading.Barrier(2, timeout=20), [_connector("housing_fund") for _ in range(2)]
    for peer in lanes:
        peer.connector.poll = _meeting(both, peer.connector.poll)
    polled = poll_department(lanes[0], paths.ledger_url, paths.keys_dir, batch=3, lanes=lanes[1:])
    with session_factory(paths.ledger_url)() as s:
        asked = s.scalars(select(Evidence).where(Evidence.direction == "out", Evidence.kind == "poll")).all()
        events = s.scalars(select(StatusEvent.case_item_id).where(StatusEvent.id > before)).all()
    assert not both.broken and polled.stopped_by is None
    assert polled.read == len(items) > 6 and len(asked) == math.ceil(len(items) / 3)  # each item asked once
    assert polled.changed == len(events) > 0 and set(events) <= items


def _meeting(both: threading.Barrier, ask: Any) -> Any:
    """`ask`, whose first call waits at `both` for the other lane's."""
    first = [True]

    def meeting(keys: Any) -> Any:
        if first.pop() if first else False:
            both.wait()
        return ask(keys)
    return meeting


class _Answers(requests.adapters.BaseAdapter):
    """Housing fund's status endpoint answering 审核中 for every key asked, except the rows `bad` replaces."""

    def __init__(self, bad: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.bad = bad

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        asked = json.loads(request.body or b"{}")["keys"]
        rows = [{"idempotency_key": k, "code": "20", "reason": None, "changed_at": "2026-12-01T10:00:00+08:00",
                 **self.bad.get(k, {})} for k in asked]
        resp = requests.Response()
        resp.status_code, resp.url, resp.request = 200, request.url or "", request
        resp._content = json.dumps({"statuses": rows, "page": 1, "page_size": 500, "total": len(rows)}).encode()
        return resp

    def close(self) -> None:
        pass


def test_unreadable_poll_rows_are_set_aside_and_every_other_item_gets_its_status_on_every_run(
        seeded: Any, paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    """A middle page holds an unknown material code, a result that is no object and a changed_at that is not ISO
    8601: those three are set aside (counted, their keys logged, one alert a run); the rest of that page and the
    pages after it are recorded, and the next run does not stop at them either."""
    from connectors.housing_fund.connector import HousingFundConnector
    from lianban.wire.contract import NoProofs, Peer

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(Delivery.__table__.update().where(Delivery.department == "housing_fund").values(state="accepted"))
        keys = list(s.scalars(select(Delivery.idempotency_key).where(Delivery.department == "housing_fund")
                              .order_by(Delivery.id)))
    bad = dict(zip(keys[4:7], [{"code": "30", "materials": ["M99"]}, {"result": "3000"},
                               {"code": "30", "materials": ["M01"], "changed_at": "2026/12/01 10:00"}], strict=True))
    session = requests.Session()
    session.mount("http://stub.invalid", _Answers(bad))
    peer = Peer(HousingFundConnector("http://stub.invalid", session), NoProofs())
    assert len(keys) > 12  # the bad rows sit on the second of several pages of four
    for _ in range(2):
        caplog.clear()
        polled = poll_department(peer, paths.ledger_url, paths.keys_dir, batch=4)
        alerts = [r.getMessage() for r in caplog.records if r.name == "lianban.alerts"]
        assert (polled.parked, polled.read, polled.stopped_by) == (3, len(keys) - 3, None)
        assert len(alerts) == 1 and "housing_fund" in alerts[0] and "3 条" in alerts[0], alerts
        assert all(k in caplog.text for k in bad) and "M99" in caplog.text
    with session_factory(paths.ledger_url)() as s:
        statuses = dict(s.execute(select(Delivery.idempotency_key, CaseItem.status)
                                  .join(CaseItem, Delivery.case_item_id == CaseItem.id)
                                  .where(Delivery.department == "housing_fund")).all())
    assert {k: v for k, v in statuses.items() if k not in bad} == {k: "审核中" for k in keys if k not in bad}
    assert [statuses[k] for k in bad] == [None, None, None]


def test_a_status_code_missing_from_the_table_is_set_aside_then_the_run_fails_naming_it(
        seeded: Any, paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    """The department starts answering a code its connector's table lacks for one item on an early page: every
    other item's status is recorded first, then the run fails naming the code and statuses.py (the task fails,
    an incident opens); once the table has the code, that item's status is recorded on the next run."""
    from connectors.housing_fund.connector import HousingFundConnector
    from lianban.wire.contract import NoProofs, Peer, UnknownStatusCode

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(Delivery.__table__.update().where(Delivery.department == "housing_fund").values(state="accepted"))
        keys = list(s.scalars(select(Delivery.idempotency_key).where(Delivery.department == "housing_fund")
                              .order_by(Delivery.id)))
    session = requests.Session()
    session.mount("http://stub.invalid", _Answers({keys[1]: {"code": "77"}}))
    peer = Peer(HousingFundConnector("http://stub.invalid", session), NoProofs())
    with pytest.raises(UnknownStatusCode, match=r"housing_fund：1 条状态记录的状态码不在映射表中.*'77'.*statuses\.py"):
        poll_department(peer, paths.ledger_url, paths.keys_dir, batch=4)
    assert _housing_fund_statuses(paths) == {k: None if k == keys[1] else "审核中" for k in keys}
    extended = HousingFundConnector("http://stub.invalid", session)
    extended.statuses = {**extended.statuses, "77": Status.UNDER_REVIEW}
    assert poll_department(Peer(extended, NoProofs()), paths.ledger_url, paths.keys_dir).changed == 1
    assert set(_housing_fund_statuses(paths).values()) == {"审核中"}


def test_a_name_sent_as_a_status_code_is_not_repeated_in_the_error_or_the_log(
        seeded: Any, paths: Paths, record: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The department's fields slipped (the applicant's name where its status code belongs): the row is set
    aside and the run fails as for any unknown code, but neither the task's error (Airflow's log, the duty desk's
    alert, ``lianban run collect``) nor the log line repeats the name: a code is quoted only when it looks like
    one, as HRSS's are (lianban.domain.identity.quoted_code)."""
    from connectors.housing_fund.connector import HousingFundConnector
    from lianban.wire.contract import NoProofs, Peer, UnknownStatusCode

    caplog.set_level(logging.DEBUG)  # no log line, at any level
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(Delivery.__table__.update().where(Delivery.department == "housing_fund").values(state="accepted"))
        key = s.scalars(select(Delivery.idempotency_key).where(Delivery.department == "housing_fund")).first()
    session = requests.Session()
    session.mount("http://stub.invalid", _Answers({key: {"code": record.name}}))
    peer = Peer(HousingFundConnector("http://stub.invalid", session), NoProofs())
    with pytest.raises(UnknownStatusCode, match="statuses\\.py") as failed:
        poll_department(peer, paths.ledger_url, paths.keys_dir, batch=4)
    assert record.name not in str(failed.value) and record.name not in caplog.text


def _housing_fund_statuses(paths: Paths) -> dict[str, str | None]:
    with session_factory(paths.ledger_url)() as s:
        return dict(s.execute(select(Delivery.idempotency_key, CaseItem.status)  # type: ignore[arg-type]
                              .join(CaseItem, Delivery.case_item_id == CaseItem.id)
                              .where(Delivery.department == "housing_fund")).all())


def test_a_polls_results_are_sealed_before_the_ledgers_write_lock_is_taken(seeded: Any, paths: Paths,
                                                                          simulation: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Sealing results under the write lock was a quarter of the time a poll held it, while the other polls and
    HRSS's log waited: each result is sealed with the lock free, and still kept with its status."""
    from lianban.pipeline import feedback

    database, lock_free = sqlite_ledger(paths.ledger_url), []

    def probing(*args: Any) -> str | None:
        lock_free.append(write_lock_free(database))
        return seal_result(*args)

    monkeypatch.setattr(feedback, "seal_result", probing)
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    deliver(_connector("housing_fund"), paths.ledger_url, 100, paths.keys_dir)
    deadline = time.monotonic() + 30
    while not lock_free and time.monotonic() < deadline:  # the department completes item 14 with its result
        poll_department(_connector("housing_fund"), paths.ledger_url, paths.keys_dir, batch=5)
        time.sleep(0.2)
    assert lock_free and all(lock_free)
    with session_factory(paths.ledger_url)() as s:
        kept = s.scalars(select(StatusEvent.result).where(StatusEvent.source == "housing_fund",
                                                          StatusEvent.result.is_not(None))).all()
    assert len(kept) == len(lock_free) and all('"ct"' in (sealed or "") for sealed in kept)
