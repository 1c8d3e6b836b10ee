"""待遇告知: one SMS per approved pension, once — across reruns and a crash between the ledger's commit and the
前置库's flag; an unreadable award is flagged, never sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import requests
from sqlalchemy import select, update

from connectors.hrss.frontend import FrontendDB
from connectors.hrss.mapping import SYNC_FLAGS
from connectors.hrss.register import AWARD_COLUMNS, awards
from connectors.sms.connector import SmsConnector
from lianban.app.config import Paths
from lianban.domain.identity import phone_problem
from lianban.domain.sms import load_templates
from lianban.ledger.db import session_factory
from lianban.ledger.models import SmsNotice
from lianban.pipeline.pensions import plan_pension_notices
from lianban.pipeline.sms_notices import MAX_SENDS, collect_receipts, send_due
from lianban.wire.gateway import GatewayAuth
from lianban.wire.settings import TransportSettings
from lianban.wire.transport import make_session
from simulators.register import generate_awards
from simulators.rest_department import serve_in_background
from simulators.sms import GatewayConfig, create_app

NOON = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


def _outbox(url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = requests.get(f"{url}/_sim/outbox", timeout=5).json()["messages"]
    return messages


def test_each_award_is_told_once_even_after_a_crash_before_the_flag(paths: Paths) -> None:
    source = FrontendDB(paths.frontend_url)
    rows = list(generate_awards(30, date(2026, 11, 20), seed=3))
    rows[0] = {**rows[0], "monthly_amount": "abc"}  # unreadable: flagged 9, never sent
    source.register.insert_awards(rows)
    first = plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir, page=7)
    assert (first.read, first.planned, first.unreadable) == (30, 29, 1)
    assert plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir).read == 0  # all flagged
    with source.engine.begin() as conn:  # a crash after the ledger's commit, before the flag: read again
        conn.execute(update(awards).values({AWARD_COLUMNS["sync_flag"]: SYNC_FLAGS["new"]}))
    again = plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
    assert (again.planned, again.already, again.unreadable) == (0, 29, 1)
    with source.engine.connect() as conn:
        query = select(awards.c[AWARD_COLUMNS["award_no"]], awards.c[AWARD_COLUMNS["sync_flag"]])
        flags = {str(no): str(flag) for no, flag in conn.execute(query)}
    assert flags[rows[0]["award_no"]] == "9" and sorted(set(flags.values())) == ["1", "9"]

    with serve_in_background(create_app("hub", "secret", GatewayConfig())) as url:
        session = make_session(TransportSettings(read_timeout=5.0, retries=0))
        session.auth = GatewayAuth("hub", "secret")
        gateway = SmsConnector(url, session, clock=lambda: NOON)
        send_due(gateway, load_templates(), paths.ledger_url, paths.keys_dir)
        send_due(gateway, load_templates(), paths.ledger_url, paths.keys_dir)
        sent = _outbox(url)
    reachable = [r for r in rows[1:] if r["phone"] and phone_problem(r["phone"]) is None]
    assert sorted(m["phone"] for m in sent) == sorted(r["phone"] for r in reachable)
    told = next(m["text"] for m in sent if m["phone"] == reachable[0]["phone"])
    start = reachable[0]["start_month"]
    assert f"月养老金{reachable[0]['monthly_amount']}元" in told
    assert f"自{int(start[:4])}年{int(start[5:])}月起发放" in told and f"每月{reachable[0]['pay_day']}日" in told


def _flag_new(source: FrontendDB, award_no: str, **values: str) -> None:
    """HRSS corrects an award's row (domain keys `values`) and sets its 同步标志 back to new."""
    changes = {AWARD_COLUMNS[k]: v for k, v in values.items()} | {AWARD_COLUMNS["sync_flag"]: SYNC_FLAGS["new"]}
    with source.engine.begin() as conn:
        conn.execute(update(awards).where(awards.c[AWARD_COLUMNS["award_no"]] == award_no).values(changes))

#: a number the simulated gateway answers 空号 for (GatewayConfig.failing)
EMPTY_NUMBER = "13900000000"


def _award_at(paths: Paths, phone: str) -> tuple[FrontendDB, dict[str, Any]]:
    """The 前置库 with one award of 3000.00元 a month, for `phone`, and its row."""
    source = FrontendDB(paths.frontend_url)
    row = {**next(generate_awards(1, date(2026, 11, 20), seed=5)), "phone": phone, "monthly_amount": "3000.00"}
    source.register.insert_awards([row])
    return source, row


def test_an_award_without_a_valid_number_is_told_once_hrss_corrects_it(paths: Paths) -> None:
    """An award whose phone was malformed went invalid (号码无效); when HRSS corrected the number and flagged the
    row again, the run counted it already told and the pensioner never heard. Now it is planned again for the
    corrected number and sent, once; reading the row again after that plans nothing."""
    source = FrontendDB(paths.frontend_url)
    row = {**next(generate_awards(1, date(2026, 11, 20), seed=5)), "phone": "1380013800"}  # a digit short
    source.register.insert_awards([row])
    plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
    with serve_in_background(create_app("hub", "secret", GatewayConfig())) as url:
        session = make_session(TransportSettings(read_timeout=5.0, retries=0))
        session.auth = GatewayAuth("hub", "secret")
        gateway = SmsConnector(url, session, clock=lambda: NOON)
        assert send_due(gateway, load_templates(), paths.ledger_url, paths.keys_dir).invalid == 1
        _flag_new(source, row["award_no"], phone="13800138000")
        corrected = plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(gateway, load_templates(), paths.ledger_url, paths.keys_dir)
        _flag_new(source, row["award_no"])  # read again (a crash before the flag, say)
        again = plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(gateway, load_templates(), paths.ledger_url, paths.keys_dir)
        sent = _outbox(url)
    assert [m["phone"] for m in sent] == ["13800138000"]
    assert (corrected.planned, corrected.already, again.planned, again.already) == (1, 0, 0, 1)


def _connector(url: str) -> SmsConnector:
    session = make_session(TransportSettings(read_timeout=5.0, retries=0))
    session.auth = GatewayAuth("hub", "secret")
    return SmsConnector(url, session, clock=lambda: NOON)


def test_a_pension_assessed_again_is_told_its_new_amount_once(paths: Paths) -> None:
    """重新核定: HRSS assesses an award again (another monthly amount) after its 待遇告知 went, and flags the row
    again. The run counted it already told: the pensioner kept the first amount. Now a second notice tells the
    new amount, saying it was assessed again, once; reading the row again tells nothing more."""
    source = FrontendDB(paths.frontend_url)
    row = {**next(generate_awards(1, date(2026, 11, 20), seed=5)), "phone": "13800138000",
           "monthly_amount": "3000.00"}
    source.register.insert_awards([row])
    with serve_in_background(create_app("hub", "secret", GatewayConfig())) as url:
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        results = []
        for change in ({"monthly_amount": "3210.50"}, {}, {"monthly_amount": "3210.5"}):  # again, then read again
            _flag_new(source, row["award_no"], **change)
            results.append(plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir))
            send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        texts = [m["text"] for m in _outbox(url)]
    assert len(texts) == 2 and "已核定，月养老金3000.00元" in texts[0]
    assert "已重新核定，月养老金3210.50元" in texts[1]
    assert [(r.revised, r.already) for r in results] == [(1, 0), (0, 1), (0, 1)]


def test_a_pension_assessed_again_before_its_notice_went_is_told_the_new_amount_only(paths: Paths) -> None:
    source = FrontendDB(paths.frontend_url)
    row = {**next(generate_awards(1, date(2026, 11, 20), seed=5)), "phone": "13800138000",
           "monthly_amount": "3000.00"}
    source.register.insert_awards([row])
    plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
    _flag_new(source, row["award_no"], monthly_amount="3210.50")
    again = plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
    with serve_in_background(create_app("hub", "secret", GatewayConfig())) as url:
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        texts = [m["text"] for m in _outbox(url)]
    assert len(texts) == 1 and "已核定，月养老金3210.50元" in texts[0]
    assert again.revised == 1


def test_a_first_notice_failing_after_the_pension_was_assessed_again_is_not_sent_again(paths: Paths) -> None:
    """The first 待遇告知 went, the pension was assessed again (its new amount told) before the first one's receipt
    came, and the receipt said it failed (关机): it was sent again, telling the old amount after the new one. Now
    it is dead, superseded; the new one alone goes on."""
    source = FrontendDB(paths.frontend_url)
    row = {**next(generate_awards(1, date(2026, 11, 20), seed=5)), "phone": "13800138000",
           "monthly_amount": "3000.00"}
    source.register.insert_awards([row])
    config = GatewayConfig(failing={"13800138000": "POWERED_OFF"})
    with serve_in_background(create_app("hub", "secret", config)) as url:
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)  # its receipt not yet in
        _flag_new(source, row["award_no"], monthly_amount="3210.50")
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        collect_receipts(_connector(url), paths.ledger_url)  # both failed: 关机
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        texts = [m["text"] for m in _outbox(url)]
    assert sum("3000.00元" in t for t in texts) == 1 and sum("3210.50元" in t for t in texts) == 2


def test_a_pension_assessed_again_at_a_number_said_not_to_exist_is_not_sent_there(paths: Paths) -> None:
    """The 待遇告知 drew 空号 (the number does not exist), then the pension was assessed again (重新核定) with the
    same number on the row: the new amount's notice was sent to the dead number all the same, once more, and the
    first notice stayed listed invalid beside it. Now the new notice is invalid at once (空号, with what to do),
    the first one dead, superseded; once HRSS corrects the number the new amount alone goes there, once."""
    empty, corrected = EMPTY_NUMBER, "13800138000"
    source, row = _award_at(paths, empty)
    config = GatewayConfig(failing={empty: "EMPTY_NUMBER"})
    with serve_in_background(create_app("hub", "secret", config)) as url:
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        collect_receipts(_connector(url), paths.ledger_url)  # 空号
        _flag_new(source, row["award_no"], monthly_amount="3210.50")
        assert plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir).revised == 1
        assert send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir).sent == 0
        with session_factory(paths.ledger_url)() as session:
            told = [(n.state, n.reason or "") for n in session.scalars(select(SmsNotice).order_by(SmsNotice.id))]
        assert [state for state, _ in told] == ["dead", "invalid"] and "重新核定" in told[0][1]
        assert "空号" in told[1][1] and "更正" in told[1][1]
        _flag_new(source, row["award_no"], phone=corrected)
        assert plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir).planned == 1
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        sent = [(m["phone"], m["text"]) for m in _outbox(url)]
    assert [phone for phone, _ in sent] == [empty, corrected] and "3210.50元" in sent[1][1]


def test_a_first_notice_drawing_empty_number_after_the_pension_was_assessed_again_is_superseded(
        paths: Paths) -> None:
    """The first 待遇告知 went, the pension was assessed again (its new amount sent to the same number) before the
    first one's receipt came, and both receipts said 空号: the first one stayed listed invalid, for the operator to
    have its number corrected, beside the new one, for ever (only the new one is planned again for a corrected
    number). Now the first one is dead, superseded; the new one alone is invalid, and goes to the corrected
    number, once."""
    empty, corrected = EMPTY_NUMBER, "13800138000"
    source, row = _award_at(paths, empty)
    with serve_in_background(create_app("hub", "secret", GatewayConfig(failing={empty: "EMPTY_NUMBER"}))) as url:
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)  # its receipt not yet in
        _flag_new(source, row["award_no"], monthly_amount="3210.50")
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        collect_receipts(_connector(url), paths.ledger_url)  # both: 空号
        with session_factory(paths.ledger_url)() as session:
            told = [(n.state, n.reason or "") for n in session.scalars(select(SmsNotice).order_by(SmsNotice.id))]
        assert [state for state, _ in told] == ["dead", "invalid"] and "重新核定" in told[0][1]
        _flag_new(source, row["award_no"], phone=corrected)
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        sent = [(m["phone"], m["text"]) for m in _outbox(url)]
    assert [phone for phone, _ in sent] == [empty, empty, corrected] and "3210.50元" in sent[2][1]


def test_a_pension_assessed_twice_at_a_number_said_not_to_exist_is_not_sent_there(paths: Paths) -> None:
    """The 待遇告知 drew 空号, the pension was assessed again (its new notice invalid at once: 空号), then once more
    with the same dead number on the row: the second revision rewrote the invalid notice as planned, and it went
    to the dead number. Now it stays invalid (空号) with the newest amount, and goes, once, when HRSS corrects
    the number."""
    empty, corrected = EMPTY_NUMBER, "13800138000"
    source, row = _award_at(paths, empty)
    with serve_in_background(create_app("hub", "secret", GatewayConfig(failing={empty: "EMPTY_NUMBER"}))) as url:
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        collect_receipts(_connector(url), paths.ledger_url)  # 空号
        for amount in ("3210.50", "3300.00"):
            _flag_new(source, row["award_no"], monthly_amount=amount)
            assert plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir).revised == 1
            assert send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir).sent == 0
        _flag_new(source, row["award_no"], phone=corrected)
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
        sent = [(m["phone"], m["text"]) for m in _outbox(url)]
    assert [phone for phone, _ in sent] == [empty, corrected] and "3300.00元" in sent[1][1]


def test_a_notice_that_failed_every_send_goes_once_to_the_number_hrss_corrects(paths: Paths) -> None:
    """Every send of the 待遇告知 failed (关机: the pensioner no longer uses the number) and it was dead; when HRSS
    recorded the new number and flagged the row again, the run counted it already told, and the pensioner never
    heard. Now it is planned again for the new number and goes there once; the old number gets nothing more."""
    old, corrected = "13800138000", "13800138001"
    source, row = _award_at(paths, old)
    with serve_in_background(create_app("hub", "secret", GatewayConfig(failing={old: "POWERED_OFF"}))) as url:
        plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir)
        for _ in range(MAX_SENDS + 1):
            send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
            collect_receipts(_connector(url), paths.ledger_url)
        with session_factory(paths.ledger_url)() as session:
            dead = [(n.state, n.reason or "") for n in session.scalars(select(SmsNotice))]
        assert [state for state, _ in dead] == ["dead"] and "关机" in dead[0][1] and "新号码" in dead[0][1]
        _flag_new(source, row["award_no"], phone=corrected)
        assert plan_pension_notices(source.register, paths.ledger_url, paths.keys_dir).planned == 1
        for _ in range(2):
            send_due(_connector(url), load_templates(), paths.ledger_url, paths.keys_dir)
            collect_receipts(_connector(url), paths.ledger_url)
        sent = [(m["phone"], m["text"]) for m in _outbox(url)]
    assert [phone for phone, _ in sent] == [old] * MAX_SENDS + [corrected] and "3000.00元" in sent[-1][1]
