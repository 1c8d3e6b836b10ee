"""Deliver against a department gateway that answers oddly: a 408 or a bare 4xx never refuses an application the
department did not look at. The department is a stub transport under the real REST connector, so every answer
goes through the connector's action table as it would on the wire."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any, cast

import pytest
import requests
from requests.adapters import BaseAdapter
from sqlalchemy import select, update

from connectors.health.connector import HealthConnector
from lianban.app.config import Paths
from lianban.domain.identity import SAID_MAX
from lianban.domain.statuses import Status
from lianban.keys.names import VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.applicant_view import case_progress
from lianban.ledger.db import session_factory
from lianban.ledger.models import CaseItem, Delivery, StatusEvent
from lianban.ledger.store import DeliveryState, record_status, utcnow
from lianban.ledger.time_limits import beijing_text
from lianban.pipeline import deliver as deliver_mod
from lianban.pipeline.deliver import DeliverResult, deliver
from lianban.pipeline.stage import stage
from lianban.wire.contract import DepartmentConnector, NoProofs, Peer, Receipt, SealedItem
from simulators.people import make_id_number

Answer = Callable[[list[dict[str, Any]]], tuple[int, dict[str, Any]]]


def accept(items: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    return 200, {"receipts": [{"idempotency_key": i["idempotency_key"], "accepted": True, "duplicate": False,
                               "ref": "WJW-1", "code": "SL", "reason": None} for i in items]}


def status(code: int, body: dict[str, Any] | None = None) -> Answer:
    return lambda items: (code, body or {})


class Gateway(BaseAdapter):
    """Answers the n-th request with the n-th of `answers` (the last one from then on)."""

    def __init__(self, answers: list[Answer]) -> None:
        super().__init__()
        self.answers = answers
        self.batches: list[int] = []  # items per request

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        asked = json.loads(request.body or b"{}")
        items = asked["items"]
        self.batches.append(len(items))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        code, body = answer(items)
        if isinstance(body, dict) and "receipts" in body and "batch_id" not in body:
            body = {"batch_id": asked["batch_id"], **body}  # receipts name the batch they answer
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.request = code, json.dumps(body).encode(), "", request
        return resp

    def close(self) -> None:
        pass


def run(paths: Paths, gateway: Gateway, url: str | None = None) -> DeliverResult:
    """One delivery run of health through `gateway`, on the ledger at `url` (the installation's by default)."""
    session = requests.Session()
    session.mount("http://", gateway)
    peer = Peer(cast(DepartmentConnector, HealthConnector("http://gateway.invalid", session)), NoProofs())
    return deliver(peer, url or paths.ledger_url, 100, paths.keys_dir)


def only_due(paths: Paths, count: int, url: str | None = None) -> list[int]:
    """Health's first `count` deliveries due now, the rest an hour later; their ids."""
    with session_factory(url or paths.ledger_url).begin() as s:
        ids = list(s.scalars(select(Delivery.id).where(Delivery.department == "health").order_by(Delivery.id)))
        s.execute(update(Delivery).where(Delivery.id.in_(ids[count:]))
                  .values(next_attempt_at=utcnow() + timedelta(hours=1)))
    return ids[:count]


def due_again(paths: Paths, ids: list[int], url: str | None = None) -> None:
    with session_factory(url or paths.ledger_url).begin() as s:
        s.execute(update(Delivery).where(Delivery.id.in_(ids)).values(next_attempt_at=utcnow()))


def states(paths: Paths, ids: list[int], url: str | None = None) -> list[str]:
    with session_factory(url or paths.ledger_url)() as s:
        return list(s.scalars(select(Delivery.state).where(Delivery.id.in_(ids)).order_by(Delivery.id)))


def told_not_accepted(paths: Paths, ids: list[int]) -> int:
    """How many of `ids`' items the applicant was told 不予受理 (their status, or a status event)."""
    with session_factory(paths.ledger_url)() as s:
        items = list(s.scalars(select(Delivery.case_item_id).where(Delivery.id.in_(ids))))
        told = s.scalars(select(CaseItem.id).where(CaseItem.id.in_(items),
                                                   CaseItem.status == Status.NOT_ACCEPTED.value)).all()
        events = s.scalars(select(StatusEvent.id).where(StatusEvent.case_item_id.in_(items),
                                                        StatusEvent.status == Status.NOT_ACCEPTED.value)).all()
    return len(told) + len(events)


@pytest.mark.parametrize("http_status", [408, 425])
def test_a_single_delivery_timed_out_at_the_gateway_is_retried_not_refused(
        paths: Paths, seeded: Any, http_status: int) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)  # a quiet day: one new case
    first = run(paths, Gateway([status(http_status, {"message": "Request Timeout"}), accept]))
    assert (first.refused, first.retrying, first.dead) == (0, 1, 0) and "稍后重试" in (first.stopped_by or "")
    assert states(paths, ids) == [DeliveryState.RETRY] and told_not_accepted(paths, ids) == 0
    due_again(paths, ids)
    assert run(paths, Gateway([accept])).accepted == 1 and states(paths, ids) == [DeliveryState.ACCEPTED]


def test_a_split_batch_meeting_bare_4xx_answers_backs_the_single_item_off(paths: Paths, seeded: Any) -> None:
    """The gateway answers 400 without a department code four times: the batch of 8 is split down to one item,
    which backs off; the other seven are delivered. Nobody is told 不予受理."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 8)
    gateway = Gateway([status(400)] * 4 + [accept])
    result = run(paths, gateway)
    assert gateway.batches[:4] == [8, 4, 2, 1] and result.split == 3
    assert (result.accepted, result.refused, result.retrying, result.dead) == (7, 0, 1, 0)
    assert sorted(states(paths, ids)) == sorted([DeliveryState.ACCEPTED] * 7 + [DeliveryState.RETRY])
    assert told_not_accepted(paths, ids) == 0


def test_a_single_item_refused_without_a_code_is_dead_lettered_only_after_the_attempts_limit(
        paths: Paths, seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliver_mod, "MAX_ATTEMPTS", 3)
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)
    for expected in (DeliveryState.RETRY, DeliveryState.RETRY, DeliveryState.DEAD):
        run(paths, Gateway([status(400)]))
        assert states(paths, ids) == [expected]
        due_again(paths, ids)
    assert told_not_accepted(paths, ids) == 0  # dead-lettered for the operator to requeue; the item stays open


def test_a_single_item_the_department_refuses_with_its_code_is_refused(paths: Paths, seeded: Any) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)
    result = run(paths, Gateway([status(422, {"code": "ZDJYSB", "message": "字段校验未通过"})]))
    assert result.refused == 1 and states(paths, ids) == [DeliveryState.REFUSED]
    assert told_not_accepted(paths, ids) == 2  # its status, and the event that tells the applicant


def test_a_status_on_a_receipt_shows_the_hubs_own_sending_time_in_beijing_time(paths: Paths, seeded: Any) -> None:
    """The hub stamps a receipt's 受理 with its own sending time (naive UTC in the ledger): kept with its
    ``+00:00``, since a time without an offset is a department's Beijing time (it would show 8 hours early)."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)
    assert run(paths, Gateway([accept])).accepted == 1
    with session_factory(paths.ledger_url)() as s:
        delivery = s.get(Delivery, ids[0])
        assert delivery is not None and delivery.sent_at is not None
        case = s.get(CaseItem, delivery.case_item_id).case  # type: ignore[union-attr]
        shown = {i.item_code: i for i in case_progress(s, load_ring(paths.keys_dir, VAULT), case).items}
        item = shown[s.get(CaseItem, delivery.case_item_id).item_code]  # type: ignore[union-attr]
        assert (item.status, item.changed_at) == (Status.ACCEPTED.value, beijing_text(delivery.sent_at))


def duplicate(code: str) -> Answer:
    """Every item answered duplicate at `code`, as a department answers an item it took before: no reason."""
    return lambda items: (200, {"receipts": [{"idempotency_key": i["idempotency_key"], "accepted": True,
                                              "duplicate": True, "ref": "WJW-1", "code": code, "reason": None}
                                             for i in items]})


def test_a_duplicate_receipt_leaves_the_items_status_to_the_poll_which_brings_its_time_and_reason(
        paths: Paths, seeded: Any) -> None:
    """A duplicate answers for an item the department took before (its first answer lost, or a dead letter
    requeued): its code says where the item stands now, not since when, nor why (no reason, materials or result).
    Stamped with the resend's time, it made the poll's own report of that status, older and with its reason,
    stale: the applicant was told 审核不通过 with no reason (补正资料 with no materials, 已办结 with no result), for
    good. The delivery is settled; the status is the poll's."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)
    result = run(paths, Gateway([duplicate("SHBTG")]))
    assert (result.accepted, result.duplicates) == (1, 1) and states(paths, ids) == [DeliveryState.ACCEPTED]
    why, polled_at = "经审核，申请人不符合办理条件", beijing_text(utcnow() - timedelta(hours=1))
    with session_factory(paths.ledger_url).begin() as s:
        delivery = s.get(Delivery, ids[0])
        item = s.get(CaseItem, delivery.case_item_id)  # type: ignore[union-attr]
        assert item is not None
        assert record_status(s, item, Status.REJECTED, "health", code="SHBTG", reason=why, changed_at=polled_at)
        assert (item.status, item.reason) == (Status.REJECTED.value, why)


@pytest.mark.parametrize("receipt", [{"ref": "WJW-" + "0" * 61}, {"accepted": False, "ref": None, "code": "E" * 17}],
                         ids=["ref-over-64", "code-over-16"])
def test_a_receipt_the_ledger_cannot_hold_backs_off_then_is_dead_lettered(
        paths: Paths, seeded: Any, ledger_url: str, monkeypatch: pytest.MonkeyPatch, receipt: dict[str, Any]) -> None:
    """On SQLite and on PostgreSQL (where storing it would fail the settling write and leave the rows pending, to
    be sent again after every lease): a malformed answer, retried, then dead-lettered like any other."""
    monkeypatch.setattr(deliver_mod, "MAX_ATTEMPTS", 2)
    stage(seeded[0], ledger_url, paths.keys_dir)
    ids = only_due(paths, 3, ledger_url)

    def oversized(items: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        code, body = accept(items)
        body["receipts"][0].update(receipt)
        return code, body

    first = run(paths, Gateway([oversized]), ledger_url)
    assert (first.accepted, first.refused, first.retrying) == (0, 0, 3) and "接口规范" in (first.stopped_by or "")
    assert states(paths, ids, ledger_url) == [DeliveryState.RETRY] * 3
    due_again(paths, ids, ledger_url)
    run(paths, Gateway([oversized]), ledger_url)
    assert states(paths, ids, ledger_url) == [DeliveryState.DEAD] * 3


class _LetThrough:
    """A connector whose reader lets an over-long ref through (a department package of its own, say)."""

    department = "health"

    def submit(self, batch: Sequence[SealedItem], seal: Any) -> list[Receipt]:
        return [Receipt(d.idempotency_key, True, department_ref="R" * 65, status=Status.ACCEPTED,
                        department_code="SL") for d in batch]


def test_a_receipt_the_ledger_cannot_hold_backs_off_whichever_connector_let_it_through(
        paths: Paths, seeded: Any, ledger_url: str) -> None:
    stage(seeded[0], ledger_url, paths.keys_dir)
    ids = only_due(paths, 3, ledger_url)
    peer = Peer(cast(DepartmentConnector, _LetThrough()), NoProofs())
    result = deliver(peer, ledger_url, 100, paths.keys_dir)
    assert (result.accepted, result.retrying) == (0, 3) and "接口规范" in (result.stopped_by or "")
    assert states(paths, ids, ledger_url) == [DeliveryState.RETRY] * 3


def test_a_departments_refusal_is_stored_with_id_and_mobile_numbers_masked(paths: Paths, seeded: Any) -> None:
    """The department quotes the applicant: the dead letter and the 不予受理 told keep its words masked; a codeless
    refusal's text, backed off, too."""
    from lianban.pipeline.dead_letters import list_dead

    id_number = make_id_number("341602", date(1965, 3, 1), 7, male=True)
    said = f"身份证号 {id_number} 与登记不符，请联系 13812345678"
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)

    def refuse(items: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        code, body = accept(items)
        body["receipts"][0].update({"accepted": False, "ref": None, "code": "ZDJYSB", "reason": said})
        return code, body

    run(paths, Gateway([refuse]))
    ids = only_due(paths, 2)
    due_again(paths, ids[1:])
    backing = run(paths, Gateway([status(400, {"message": said})]))  # no code: backs off, its text kept
    with session_factory(paths.ledger_url)() as s:
        kept = [*s.scalars(select(Delivery.last_error).where(Delivery.id.in_(ids)).order_by(Delivery.id)),
                *s.scalars(select(StatusEvent.reason).where(StatusEvent.status == Status.NOT_ACCEPTED.value))]
    assert len(kept) == 3 and all(said in k for k in map(unmask, kept)) and backing.stopped_by is None
    assert all(id_number not in str(k) and "13812345678" not in str(k) for k in kept)
    assert [d.last_error for d in list_dead(paths.ledger_url, "health")] == [kept[0]]  # listing masks as before


def unmask(text: str | None) -> str:
    """`text` with the masks put back as this test's synthetic person's numbers, to check nothing else changed."""
    id_number = make_id_number("341602", date(1965, 3, 1), 7, male=True)
    return (text or "").replace(f"{id_number[:6]}********{id_number[-4:]}", id_number).replace(
        "138****5678", "13812345678")


def test_a_refusal_the_applicant_was_told_is_not_requeued(paths: Paths, seeded: Any,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Requeued, the department took it, but its item stayed 不予受理 (final): the receipt's 受理 and every later
    status were illegal moves, the case handled by the department while the applicant and 皖事通办 were told it
    was refused. A dead letter out of retries is still requeued."""
    from lianban.errors import ConfigError
    from lianban.pipeline.dead_letters import list_dead, requeue

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)
    run(paths, Gateway([status(422, {"code": "ZDJYSB", "message": "字段校验未通过"})]))
    refused = list_dead(paths.ledger_url, "health")
    assert [d.state for d in refused] == [DeliveryState.REFUSED]
    with pytest.raises(ConfigError, match="申请人已被告知不予受理"):
        requeue(paths.ledger_url, key=refused[0].idempotency_key)
    assert requeue(paths.ledger_url, "health") == 0 and "1 条投递已被部门拒收" in caplog.text
    assert states(paths, ids) == [DeliveryState.REFUSED]
    with session_factory(paths.ledger_url).begin() as s:  # one out of retries: its item never told anything
        s.execute(update(Delivery).where(Delivery.id == ids[0]).values(state=DeliveryState.DEAD))
        s.execute(update(CaseItem).where(CaseItem.id == select(Delivery.case_item_id).where(
            Delivery.id == ids[0]).scalar_subquery()).values(status=None, final=False))
    assert requeue(paths.ledger_url, key=refused[0].idempotency_key) == 1


@pytest.mark.parametrize("answer", [
    status(400, {"code": "BATCH_SIG", "message": "批次签名无效" + "。" * 200_000}),  # the whole batch, backed off
    status(422, {"code": "ZDJYSB", "message": "字段校验未通过" + "。" * 200_000}),  # one item, refused
    lambda items: (200, {"receipts": [{"idempotency_key": i["idempotency_key"], "accepted": False, "duplicate": False,
                                       "ref": None, "code": "ZDJYSB", "reason": "字段校验未通过" + "。" * 200_000}
                                      for i in items]})])
def test_a_departments_huge_text_is_kept_bounded(paths: Paths, seeded: Any, answer: Answer) -> None:
    """A department's reason of 200,000 characters was stored whole in every row's last_error (a batch of 1,000:
    hundreds of MB), in the 不予受理 event and in the run's stopped_by and alert line."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)
    result = run(paths, Gateway([answer]))
    with session_factory(paths.ledger_url)() as s:
        kept = [*s.scalars(select(Delivery.last_error).where(Delivery.id.in_(ids))),
                *s.scalars(select(StatusEvent.reason).where(StatusEvent.status == Status.NOT_ACCEPTED.value))]
    assert kept and all("字段校验未通过" in str(k) or "批次签名无效" in str(k) for k in kept)
    assert max(len(k or "") for k in kept) <= SAID_MAX + 40
    assert len(result.stopped_by or "") <= SAID_MAX + 40


@pytest.mark.parametrize("retry_after", [4294967295.0, float("9" * 400)])  # a uint32's 136 years; inf
def test_a_retry_after_past_a_day_waits_a_day(paths: Paths, seeded: Any, retry_after: float) -> None:
    """A gateway's absurd Retry-After was honoured whole: its batch waited 136 years (never retried, never
    dead-lettered), or, past timedelta's range, the settling write failed (OverflowError) and the run with it."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)
    throttled = status(429, {"code": "RATE_LIMITED", "message": "请求过于频繁"})

    class Throttling(Gateway):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            resp = super().send(request, *args, **kwargs)
            resp.headers["Retry-After"] = str(int(retry_after)) if retry_after < float("inf") else "9" * 400
            return resp

    result = run(paths, Throttling([throttled]))
    assert result.retrying == 1 and states(paths, ids) == [DeliveryState.RETRY]
    with session_factory(paths.ledger_url)() as s:
        due = s.scalars(select(Delivery.next_attempt_at).where(Delivery.id.in_(ids))).one()
    assert due <= utcnow() + deliver_mod.backoff(1, None) + timedelta(days=1)


def test_an_id_number_where_a_departments_text_is_cut_is_masked_first(paths: Paths, seeded: Any) -> None:
    """The text was cut to 500 characters before it was masked: an ID number straddling the cut was no longer ID-
    shaped, and its area code and birth date went into the dead letter, the 不予受理 event (shown to the applicant
    and reported to 皖事通办) and the alert unmasked."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)
    quoted = "字段校验未通过：" + "。" * (SAID_MAX - 18) + "341602195501010012"
    run(paths, Gateway([lambda items: (200, {"receipts": [
        {"idempotency_key": i["idempotency_key"], "accepted": False, "duplicate": False, "ref": None,
         "code": "ZDJYSB", "reason": quoted} for i in items]})]))
    with session_factory(paths.ledger_url)() as s:
        kept = [*s.scalars(select(Delivery.last_error).where(Delivery.id.in_(ids))),
                *s.scalars(select(StatusEvent.reason).where(StatusEvent.status == Status.NOT_ACCEPTED.value))]
    assert len(kept) == 2 and not any("19550101" in (k or "") or "3416021" in (k or "") for k in kept), kept


@pytest.mark.parametrize("code", ["INVALID_REQUEST", "BAD_JSON"])
def test_a_request_of_one_item_refused_for_its_form_backs_off_and_nobody_is_told(
        paths: Paths, seeded: Any, code: str) -> None:
    """A quiet day's one delivery refused with a gateway code that names the request's form (the hub's request,
    or a schema changed on the department's side): nothing shows the item at fault, so the applicant is not told
    不予受理; the item backs off and goes once the department takes the form again."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 1)
    first = run(paths, Gateway([status(422, {"code": code, "message": "请求体不符合接口规范"})]))
    assert (first.refused, first.retrying, first.dead) == (0, 1, 0)
    assert states(paths, ids) == [DeliveryState.RETRY] and told_not_accepted(paths, ids) == 0
    due_again(paths, ids)
    assert run(paths, Gateway([accept])).accepted == 1 and states(paths, ids) == [DeliveryState.ACCEPTED]


def test_an_item_isolated_by_its_form_while_the_rest_of_its_batch_got_through_is_refused(
        paths: Paths, seeded: Any) -> None:
    """The same code on a batch of four, down to one item while the other three are taken in the same form: the
    item is shown at fault and refused for good (不予受理), as before."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 4)
    invalid = status(422, {"code": "INVALID_REQUEST", "message": "请求体不符合接口规范"})
    gateway = Gateway([invalid, invalid, invalid, accept])  # 4 → 2 → 1 refused; then its neighbour, then 2
    result = run(paths, gateway)
    assert gateway.batches == [4, 2, 1, 1, 2]
    assert (result.accepted, result.refused, result.retrying) == (3, 1, 0)
    assert told_not_accepted(paths, ids) == 2


def unopened(items: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """The first item refused with health's code for an item it could not open (JMSB), the rest accepted."""
    code, body = accept(items)
    body["receipts"][0].update(accepted=False, code="JMSB", reason="数据包解密或完整性校验失败", ref=None)
    return code, body


def test_an_item_the_department_could_not_open_is_sent_again_sealed_anew_not_refused_to_the_applicant(
        paths: Paths, seeded: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Decryption or integrity failing on one item is the envelope's fault (a key, an implementation), never the
    applicant's: it was dead-lettered as refused and the applicant told 不予受理 for good. Now it backs off,
    alerted, and goes again in a batch sealed anew."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    ids = only_due(paths, 3)
    first = run(paths, Gateway([unopened]))
    assert (first.accepted, first.refused, first.retrying) == (2, 0, 1)
    assert sorted(states(paths, ids)) == sorted([DeliveryState.ACCEPTED] * 2 + [DeliveryState.RETRY])
    assert told_not_accepted(paths, ids) == 0 and "无法打开" in caplog.text and "不判不予受理" in caplog.text
    due_again(paths, ids)
    assert run(paths, Gateway([accept])).accepted == 1 and states(paths, ids) == [DeliveryState.ACCEPTED] * 3
