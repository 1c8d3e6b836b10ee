"""Stage: extract → validate → route → minimise → seal → outbox, exactly once, nothing in plaintext."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import select, text

from connectors.hrss.frontend import FrontendDB, applications
from connectors.hrss.mapping import APPLICATION_COLUMNS as A
from lianban.app.config import Paths
from lianban.domain.catalog import load_catalog
from lianban.domain.intake import SourceRow
from lianban.domain.record import RetirementRecord
from lianban.domain.validation import problems
from lianban.ledger.db import engine_for, session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, Quarantine, StatusEvent
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
        assert {c.case_no for c in s.scalars(select(Case).where(Case.held.is_(False)))} == {a["case_no"] for a in valid}
        held = {c.case_no for c in s.scalars(select(Case).where(Case.held.is_(True)))}
        assert held == {a["case_no"] for a in apps} - {a["case_no"] for a in valid}  # told, never delivered
        chosen = sum(len(a["items"].split(",")) for a in apps)
        assert s.scalar(select(text("count(*)")).select_from(CaseItem)) == chosen
        pushed = sum(1 for a in valid for c in a["items"].split(",") if c in {"11", "12", "13", "14"})
        assert s.scalar(select(text("count(*)")).select_from(Delivery)) == pushed


def test_a_long_run_tells_its_progress_after_each_transaction(seeded: Seeded, paths: Paths) -> None:
    db, _ = seeded
    told: list[tuple[int, int | None]] = []
    result = stage(db, paths.ledger_url, paths.keys_dir, chunk=17, progress=lambda d, t: told.append((d, t)))
    assert [d for d, _ in told] == [17, 34, 51, 60] == sorted({d for d, _ in told})
    assert told[-1] == (result.extracted, None)


def test_quarantine_keeps_chinese_reasons_and_masks_values(seeded: Seeded, paths: Paths) -> None:
    db, apps = seeded
    typed = {a["case_no"]: a for a in apps}
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        rows = list(s.scalars(select(Quarantine)))
    assert rows
    catalog = load_catalog()
    for row in rows:
        reasons = json.loads(row.reasons)
        assert reasons and all(any("\u4e00" <= ch <= "\u9fff" for ch in r["message"]) for r in reasons)
        record = RetirementRecord(**{**typed[row.case_no], "items": tuple(typed[row.case_no]["items"].split(","))})
        assert [r["code"] for r in reasons] == [r.code for r in problems(record, catalog)]  # its own, as the rules say
        assert all(re.fullmatch("[A-Z][A-Z0-9_]+", r["code"]) for r in reasons)
        masked, app = json.loads(row.masked), typed[row.case_no]
        assert "*" in masked["id_number"] and "*" in masked["name"]
        id_number, name = app["id_number"], app["name"]  # area code and last four kept, the surname's first
        assert masked["id_number"] == id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]
        assert masked["name"] == name[:1] + "*" * (len(name) - 1)
    with db.engine.connect() as conn:
        flags = dict(conn.execute(select(applications.c[A["case_no"]], applications.c[A["sync_flag"]])).all())
    assert {flags[r.case_no] for r in rows} == {"9"}


def test_second_run_takes_nothing(seeded: Seeded, paths: Paths) -> None:
    db, _ = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.extracted, again.staged, again.deliveries) == (0, 0, 0)


class _Source:
    """The 前置库 as staging reads it, each call passed to `db`: a test's source changes one of them."""

    def __init__(self, db: FrontendDB) -> None:
        self.db = db

    def pull_new(self, limit: int, after: int | None = None) -> list[SourceRow]:
        return self.db.pull_new(limit, after)

    def mark(self, rows: Sequence[SourceRow], flag: str) -> list[int]:
        return self.db.mark(rows, flag)


class _CrashingSource(_Source):
    """Commits to the ledger happen, then flagging the 前置库 fails once: the next run re-reads."""

    def __init__(self, db: FrontendDB) -> None:
        super().__init__(db)
        self.crashed = False

    def mark(self, rows: Sequence[SourceRow], flag: str) -> list[int]:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("connection to 前置库 lost")
        return self.db.mark(rows, flag)


def test_crash_between_ledger_and_flag_never_doubles(seeded: Seeded, paths: Paths) -> None:
    db, apps = seeded
    with pytest.raises(RuntimeError):
        stage(_CrashingSource(db), paths.ledger_url, paths.keys_dir)
    rerun = stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        cases = s.scalar(select(text("count(*)")).select_from(Case).where(Case.held.is_(False)))
        held_items = s.scalar(select(text("count(*)")).select_from(CaseItem).join(Case).where(Case.held.is_(True)))
        notices = s.scalar(select(text("count(*)")).select_from(StatusEvent))
    assert rerun.skipped_known > 0
    assert cases == len(_valid(apps))
    assert notices == held_items > 0  # each held item told once, however often its row was read


def test_ledger_holds_no_plaintext_personal_data(seeded: Seeded, paths: Paths) -> None:
    db, apps = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    engine_for(paths.ledger_url).dispose()
    raw = b"".join(p.read_bytes() for p in paths.home.glob("ledger.db*"))
    for app in apps:
        for field in ("id_number", "phone", "name"):
            value = str(app[field] or "")
            if len(value) >= 2:  # as typed, and as JSON escapes a name (``\u5f20\u4e09``) unless told not to
                for form in {value, json.dumps(value)[1:-1]}:
                    assert form.encode() not in raw, f"{field} of {app['case_no']} stored in plaintext"


def test_a_bad_approval_time_is_quarantined_and_blocks_nothing(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    apps = [a for a in generate_valid(paths, 5)]
    apps[1]["approved_at"] = "2025/01/02 10:00"
    db.insert_applications(apps)
    result = stage(db, paths.ledger_url, paths.keys_dir)
    assert (result.staged, result.quarantined) == (4, 1)
    with session_factory(paths.ledger_url)() as s:
        reasons = json.loads(s.scalars(select(Quarantine.reasons)).one())
    assert [r["code"] for r in reasons] == ["APPROVED_AT_FORMAT"] and "审批时间" in reasons[0]["message"]


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


def _insert_raw(db: FrontendDB, rows: list[dict[str, Any]]) -> None:
    """Write rows as a careless writer would: any value into any column (SQLite keeps what it is given)."""
    with db.engine.begin() as conn:
        for r in rows:
            conn.execute(applications.insert().values({A[k]: v for k, v in r.items()}))


class _CorrectingSource(_Source):
    """HRSS corrects row `seq` at the source (a good phone) as the run pulls for the third time."""

    def __init__(self, db: FrontendDB, seq: int, phone: str) -> None:
        super().__init__(db)
        self.seq, self.phone, self.pulls = seq, phone, 0

    def pull_new(self, limit: int, after: int | None = None) -> list[SourceRow]:
        self.pulls += 1
        if self.pulls == 3:
            self.db.correct(self.seq, {"phone": self.phone})
        return self.db.pull_new(limit, after)


def test_a_row_corrected_at_the_source_during_a_run_behind_its_reading_is_taken_by_the_next_run(
        paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    apps = generate_valid(paths, 6)
    good_phone, apps[0]["phone"] = apps[0]["phone"], "12345"
    db.insert_applications(apps)
    first = stage(_CorrectingSource(db, 1, good_phone), paths.ledger_url, paths.keys_dir, chunk=2, read_ahead=2)
    assert (first.extracted, first.staged, first.quarantined) == (6, 5, 1)  # read before it was corrected
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.extracted, again.staged, again.quarantined) == (1, 1, 0)
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(Quarantine.state)).one() == "released"


class _CountingSource(_Source):
    """Remembers, at each pull, how many rows had been flagged (staged or held) before it."""

    def __init__(self, db: FrontendDB) -> None:
        super().__init__(db)
        self.flagged, self.flagged_at_pulls = 0, list[int]()

    def pull_new(self, limit: int, after: int | None = None) -> list[SourceRow]:
        self.flagged_at_pulls.append(self.flagged)
        return self.db.pull_new(limit, after)

    def mark(self, rows: Sequence[SourceRow], flag: str) -> list[int]:
        self.flagged += len(rows)
        return self.db.mark(rows, flag)


def test_the_second_read_is_pulled_while_the_first_waits_for_its_verdicts_and_each_row_is_staged_once(
        paths: Paths) -> None:
    """A full first read is followed at once by the next (staging would only wait for the suite's first
    verdicts), the reads after it as before: a few chunks before the end of the rows before them."""
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(generate_valid(paths, 12))
    source = _CountingSource(db)
    result = stage(source, paths.ledger_url, paths.keys_dir, chunk=1, read_ahead=5)
    assert (result.extracted, result.staged, result.quarantined) == (12, 12, 0)
    assert source.flagged_at_pulls[:3] == [0, 0, 7]  # rows 1-5, 6-10 at once; 11-12 three chunks before 10's end
    assert stage(db, paths.ledger_url, paths.keys_dir).extracted == 0


class _EditingSource(_Source):
    """HRSS changes row `seq` at the source (`values`) after the run read it, just before its chunk is flagged."""

    def __init__(self, db: FrontendDB, seq: int, values: dict[str, Any]) -> None:
        super().__init__(db)
        self.seq, self.values, self.edited = seq, values, False

    def mark(self, rows: Sequence[SourceRow], flag: str) -> list[int]:
        if not self.edited and any(row.seq == self.seq for row in rows):
            self.edited = True
            self.db.correct(self.seq, self.values)
        return self.db.mark(rows, flag)


def test_a_row_hrss_corrects_while_it_is_being_staged_is_not_flagged_and_the_next_run_reads_the_correction(
        paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    db = FrontendDB(paths.frontend_url)
    apps = generate_valid(paths, 4)
    good_phone, apps[1]["phone"] = apps[1]["phone"], "12345"
    db.insert_applications(apps)
    first = stage(_EditingSource(db, 2, {"phone": good_phone}), paths.ledger_url, paths.keys_dir)
    assert (first.extracted, first.staged, first.quarantined) == (4, 3, 1)  # judged as read: a bad phone
    assert "1 行在读取后被人社修改" in caplog.text and good_phone not in caplog.text
    again = stage(db, paths.ledger_url, paths.keys_dir)  # the correction was not flagged away: read now
    assert (again.extracted, again.staged, again.quarantined) == (1, 1, 0)
    assert stage(db, paths.ledger_url, paths.keys_dir).extracted == 0


def test_a_staged_row_hrss_changes_while_it_is_being_staged_comes_back_to_the_operator(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    apps = generate_valid(paths, 3)
    db.insert_applications(apps)
    first = stage(_EditingSource(db, 3, {"employer_name": "亳州市另一家单位有限公司"}), paths.ledger_url,
                  paths.keys_dir)
    assert (first.extracted, first.staged, first.quarantined) == (3, 3, 0)  # staged as read
    again = stage(db, paths.ledger_url, paths.keys_dir)  # the change is not lost: held for the operator
    assert (again.extracted, again.staged, again.quarantined) == (1, 0, 1)
    with session_factory(paths.ledger_url)() as session:
        held = session.scalars(select(Quarantine)).one()
    assert held.source_seq == 3 and "已入账" in held.reasons


def test_hostile_rows_are_quarantined_with_the_column_named_and_block_nothing(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    good = generate_valid(paths, 4)
    bad = [{**good[0], "case_no": "BAD1", "contribution_months": "三百个月"},
           {**good[1], "case_no": "BAD2", "approved_at": "9999-12-31T23:59:59-23:59"},
           {**good[2], "case_no": "\x00BAD3"},
           {**good[3], "case_no": "A" * 80}]
    _insert_raw(db, [bad[0], bad[1], good[0], bad[2], bad[3], good[1]])
    result = stage(db, paths.ledger_url, paths.keys_dir)
    assert (result.extracted, result.staged, result.quarantined) == (6, 2, 4)
    with session_factory(paths.ledger_url)() as s:
        reasons = {q.source_seq: json.loads(q.reasons) for q in s.scalars(select(Quarantine))}
    messages = {seq: [r["message"] for r in rs] for seq, rs in reasons.items()}
    assert any("养老保险缴费月数" in r for r in messages[1]) and any("审批时间" in r for r in messages[2])
    assert any("办件编号含有控制字符" in r for r in messages[4]) and any("超过40个字符" in r for r in messages[5])
    assert [r["code"] for r in reasons[1]] == ["CONTRIBUTION_FORMAT"]
    assert [r["code"] for r in reasons[4]] == ["UNREADABLE_CASE_NO"]


def test_near_duplicate_case_numbers_are_one_case_and_a_different_row_under_one_is_held(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    app, other = generate_valid(paths, 2)
    fullwidth = app["case_no"].translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}).lower()
    _insert_raw(db, [app, {**app, "case_no": f" {app['case_no'].lower()} "}, {**app, "case_no": fullwidth},
                     {**other, "case_no": app["case_no"] + " "}])
    result = stage(db, paths.ledger_url, paths.keys_dir)
    assert (result.staged, result.skipped_known, result.quarantined) == (1, 2, 1)
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(Case.case_no)).all() == [app["case_no"]]
        held = s.scalars(select(Quarantine)).one()
    assert held.source_seq == 4 and "内容与已入账办件不同" in held.reasons


def test_the_same_person_in_two_open_cases_is_held_for_the_operator(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    app, other = generate_valid(paths, 2)
    again = {**app, "case_no": other["case_no"]}  # the same person applies again under another 办件编号
    db.insert_applications([app, again])
    result = stage(db, paths.ledger_url, paths.keys_dir)
    assert (result.staged, result.quarantined) == (1, 1)
    with session_factory(paths.ledger_url)() as s:
        held = s.scalars(select(Quarantine)).one()
    assert held.case_no == other["case_no"] and app["case_no"] in held.reasons and "在办办件" in held.reasons
    assert [r["code"] for r in json.loads(held.reasons)] == ["DUPLICATE_PERSON"]


def test_a_person_with_an_open_case_from_an_earlier_run_is_held_by_the_suite(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    app, other = generate_valid(paths, 2)
    db.insert_applications([app])
    stage(db, paths.ledger_url, paths.keys_dir)
    db.insert_applications([{**app, "case_no": other["case_no"]}])
    result = stage(db, paths.ledger_url, paths.keys_dir)
    assert (result.quarantined, result.notified) == (1, 0)  # the operator decides; the applicant is not told yet
    with session_factory(paths.ledger_url)() as s:
        held = s.scalars(select(Quarantine)).one()
        assert s.scalars(select(Case.case_no)).all() == [app["case_no"]]
    assert [r["code"] for r in json.loads(held.reasons)] == ["DUPLICATE_PERSON"]


def test_personal_data_typed_into_free_text_is_masked_in_quarantine(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    (app,) = generate_valid(paths, 1)
    db.insert_applications([{**app, "employer_name": f"联系人{app['phone']}身份证{app['id_number']}",
                             "contribution_months": None}])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    with session_factory(paths.ledger_url)() as s:
        held = s.scalars(select(Quarantine)).one()
    assert app["phone"] not in held.masked and app["id_number"] not in held.masked
    assert "****" in json.loads(held.masked)["employer_name"]


def test_the_query_password_is_kept_only_as_a_hash_and_never_in_quarantine(paths: Paths) -> None:
    from lianban.crypto.passwords import Verdict, verify_password
    from lianban.keys.names import QUERY
    from lianban.keys.rings import load_ring
    from simulators.people import generate

    db = FrontendDB(paths.frontend_url)
    apps = [{**a, "password": f"Pw{i}Zq8Only"} for i, a in enumerate(generate(8, seed=3))]
    apps[0]["phone"] = "123"  # held for correction: its case can be queried too
    db.insert_applications(apps)
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        hashes = dict(s.execute(select(Case.case_no, Case.password_hash)).all())
        masked = " ".join(q.masked for q in s.scalars(select(Quarantine)))
    keys = load_ring(paths.keys_dir, QUERY).keys
    assert all(verify_password(a["password"], a["case_no"], hashes[a["case_no"]], keys.get) is Verdict.YES
               for a in apps)
    assert "Zq8Only" not in masked
    engine_for(paths.ledger_url).dispose()
    raw = b"".join(p.read_bytes() for p in paths.home.glob("ledger.db*"))
    assert b"Zq8Only" not in raw


def test_work_done_ahead_of_the_verdicts_skips_a_row_that_cannot_route(paths: Paths) -> None:
    """While the suite's worker starts, staging prepares rows it has not judged yet: one with an unknown item
    cannot be routed, and must neither stop that work nor be prepared (it is held in its own turn)."""
    from concurrent.futures import Future
    from dataclasses import replace

    from lianban.pipeline.prepare import load_keys
    from lianban.pipeline.stage import _prepare_meanwhile, _Verdicts

    good, bad = (RetirementRecord(**{**a, "items": tuple(a["items"].split(","))})
                 for a in generate_valid(paths, 2))
    bad = replace(bad, items=("-8069750",))
    rows = [SourceRow(seq=n, values={}) for n in (1, 2)]
    waiting: Future[list[list[Any]]] = Future()  # the first verdicts not in yet
    prepared = _prepare_meanwhile(rows, [bad, good], load_catalog(), load_keys(paths.keys_dir),
                                  _Verdicts([bad, good], waiting))
    assert list(prepared) == [2] and prepared[2].items


def _release_as_it_was(paths: Paths, db: FrontendDB, case_no: str) -> None:
    """What `lianban quarantine release` did before it refused unknown item codes: the hold overridden and its
    row flagged new again."""
    with session_factory(paths.ledger_url).begin() as s:
        q = s.scalars(select(Quarantine).where(Quarantine.case_no == case_no)).one()
        q.state, seq = "overridden", q.source_seq
    db.correct(seq, {})


def test_a_phone_typed_into_the_items_is_held_masked_and_a_release_of_it_stops_nothing(paths: Paths) -> None:
    """办理事项 holding a phone number: held for the unknown code, shown masked; released as it was all the
    same (or an item taken out of the catalog since), the row is held again and the rows behind it are staged."""
    db = FrontendDB(paths.frontend_url)
    app, *rest = generate_valid(paths, 6)
    db.insert_applications([{**app, "items": f"01,11,{app['phone']}"}, *rest[:2]])
    assert (stage(db, paths.ledger_url, paths.keys_dir).quarantined) == 1
    _release_as_it_was(paths, db, app["case_no"])
    db.insert_applications(rest[2:])
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.staged, again.quarantined) == (3, 1), again
    with session_factory(paths.ledger_url)() as s:
        holds = s.scalars(select(Quarantine).order_by(Quarantine.id)).all()
        staged = set(s.scalars(select(Case.case_no).join(CaseItem).join(Delivery)))
    assert staged == {a["case_no"] for a in rest} and [q.state for q in holds] == ["overridden", "open"]
    assert all([r["code"] for r in json.loads(q.reasons)] == ["ITEMS_UNKNOWN"] for q in holds)
    assert all(app["phone"] not in q.masked + q.reasons for q in holds)
    assert all(app["phone"][:8] not in q.reasons for q in holds) and "****" in holds[1].reasons
    assert db.pull_new(10) == []  # every row taken: none left to stop the next run


@pytest.mark.parametrize("typed, shown", [
    ("id_number", lambda v: v[:6] + "********" + v[-4:]),  # refused for being an ID number: kept masked
    ("name", lambda v: "*" * len(v)),  # columns swapped at the source: kept as what can be shown of it
])
def test_personal_data_typed_into_the_case_number_is_kept_nowhere(paths: Paths, typed: str,
                                                                  shown: Callable[[str], str]) -> None:
    """The 办件编号 column holding the applicant's ID number or name: the held row is kept under what can be shown
    of it, and its masked values show the 办件编号 as that too (they held the name)."""
    db = FrontendDB(paths.frontend_url)
    (app,) = generate_valid(paths, 1)
    _insert_raw(db, [{**app, "case_no": app[typed]}])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    with session_factory(paths.ledger_url)() as s:
        held = s.scalars(select(Quarantine)).one()
    assert app[typed] not in held.case_no + held.masked + held.reasons
    assert json.loads(held.masked)["case_no"] == held.case_no == shown(app[typed])


def _open_holds(paths: Paths) -> list[int]:
    with session_factory(paths.ledger_url)() as s:
        return list(s.scalars(select(Quarantine.source_seq).where(Quarantine.state == "open")))


def test_a_changed_row_hrss_puts_back_as_staged_leaves_no_open_hold(paths: Paths) -> None:
    """A staged row HRSS changed is held (CASE_CHANGED); put back as it was staged and flagged new, it is taken
    (nothing to send again) and its hold is released, not left open for good."""
    db = FrontendDB(paths.frontend_url)
    apps = generate_valid(paths, 3)
    db.insert_applications(apps)
    stage(db, paths.ledger_url, paths.keys_dir)
    db.correct(3, {"employer_name": "亳州市另一家单位有限公司"})
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1 and _open_holds(paths) == [3]
    db.correct(3, {"employer_name": apps[2]["employer_name"]})
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.extracted, again.skipped_known, again.quarantined) == (1, 1, 0)
    assert _open_holds(paths) == []


def test_a_row_whose_case_number_hrss_corrects_releases_the_hold_of_what_it_said(paths: Paths) -> None:
    """An unreadable 办件编号 is held under what could be shown of it; once HRSS corrects the 办件编号 the row is
    staged and its hold released (it was left open: the release looked for the corrected 办件编号 only)."""
    from sqlalchemy import update as sql_update

    db = FrontendDB(paths.frontend_url)
    (app,) = generate_valid(paths, 1)
    _insert_raw(db, [{**app, "case_no": app["case_no"] + "/1"}])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1 and _open_holds(paths) == [1]
    with db.engine.begin() as conn:
        conn.execute(sql_update(applications).where(applications.c[A["seq"]] == 1)
                     .values({A["case_no"]: app["case_no"], A["sync_flag"]: "0"}))
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.extracted, again.staged, again.quarantined) == (1, 1, 0)
    assert _open_holds(paths) == []


def test_a_name_typed_among_the_chosen_items_is_kept_nowhere(paths: Paths) -> None:
    """办理事项 holding the applicant's name beside a real item: held for the unknown code, the applicant told
    补正资料 for the real item; the name is in neither the quarantine row nor what the applicant is told."""
    db = FrontendDB(paths.frontend_url)
    (app,) = generate_valid(paths, 1)
    db.insert_applications([{**app, "items": f"01,11,{app['name']}"}])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    with session_factory(paths.ledger_url)() as s:
        held = s.scalars(select(Quarantine)).one()
        told = list(s.scalars(select(StatusEvent.reason)))
    assert "ITEMS_UNKNOWN" in held.reasons and told
    assert all(app["name"] not in text for text in [held.masked, held.reasons, *told])
