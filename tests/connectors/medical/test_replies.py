"""The readers of the two bulk answers (connectors.medical.replies) read what zeep's generic deserialiser reads,
answer for answer, and refuse what it refuses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree
from zeep import exceptions as zx
from zeep.xsd.types.builtins import Boolean, DateTime

from connectors.medical import replies
from connectors.medical.connector import MedicalConnector, _listed, receipt_from, translate_error, update_from
from lianban.app.registry import load_connector
from lianban.errors import FatalError, RetriableError
from simulators.kit import supply_asked

MedicalSim = Any  # tests/connectors/medical/conftest.py:MedicalSim (conftest modules are not importable)
BatchMaker = Any
zeep_boolean = Boolean()
ENVELOPE = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{tns}"><soap:Body>'
            '{body}</soap:Body></soap:Envelope>')
STATUS = ("<m:status><m:idempotencyKey>LB-1</m:idempotencyKey><m:code>02</m:code>{extra}"
          "<m:changedAt>2026-12-01T10:00:00+08:00</m:changedAt></m:status>")


def _both(connector: MedicalConnector) -> list[tuple[str, Any, Any]]:
    """Every answer the connector reads from now on, also read by zeep's own reader: (operation, ours, zeep's)."""
    connector._service()
    binding, seen = connector._bound._binding, []
    for name in replies.READERS:
        operation = binding.get(name)
        ours: Callable[[Any], Any] = operation.process_reply

        def read(doc: Any, name: str = name, ours: Callable[[Any], Any] = ours, operation: Any = operation) -> Any:
            mine = ours(doc)
            seen.append((name, mine, type(operation).process_reply(operation, doc)))
            return mine
        operation.process_reply = read
    return seen


def test_every_answer_reads_as_zeep_reads_it(medical_sim: MedicalSim, make_batch: BatchMaker) -> None:
    connector = load_connector("medical", medical_sim.settings(), keys_dir=medical_sim.keys_dir)
    assert isinstance(connector, MedicalConnector)
    seen = _both(connector)
    batch = make_batch([*range(40), *((seq, "14") for seq in range(40, 42))], "12")  # two the bureau refuses
    connector.submit(batch.deliveries, batch.seal)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # every step, 补正 materials and 已办结 results included
        updates = connector.poll(batch.keys)
        if updates and all(u.status.is_terminal() for u in updates):
            break
        supply_asked(connector, medical_sim.keys_dir, batch.deliveries, updates)
        time.sleep(0.05)
    polls = [(ours, zeeps) for name, ours, zeeps in seen if name == "QueryStatus"]
    submits = [(ours, zeeps) for name, ours, zeeps in seen if name == "SubmitBatch"]
    assert len(submits) == 1 and len(polls) > 3
    ours, zeeps = submits[0]
    assert ours.batchId == zeeps.batchId
    assert [receipt_from(r) for r in ours.receipt] == [receipt_from(r) for r in _listed(zeeps, "receipt")]
    assert {r.accepted for r in ours.receipt} == {True, False}
    for ours, zeeps in polls:
        assert [update_from(s) for s in ours] == [update_from(s) for s in _listed(zeeps, "status")]
    read = [update_from(s) for ours, _ in polls for s in ours]
    assert any(u.materials for u in read) and any(u.result for u in read) and any(u.reason for u in read)


@pytest.mark.parametrize("text", ["true", "false", "1", "0", " true ", "\tfalse\n", "True", "yes", ""])
def test_a_receipt_s_flags_read_as_zeep_reads_them_in_every_form(text: str) -> None:
    receipt = (f"<m:SubmitBatchResponse><m:batchId>b</m:batchId><m:receipt><m:idempotencyKey>LB-1</m:idempotencyKey>"
               f"<m:accepted>{text}</m:accepted><m:duplicate>{text}</m:duplicate><m:code>01</m:code></m:receipt>"
               f"</m:SubmitBatchResponse>")
    ours = replies.submit_batch_response(_envelope(receipt)).receipt[0]
    zeeps = zeep_boolean.pythonvalue(text)
    assert (ours.accepted, ours.duplicate) == (zeeps, zeeps)


def _envelope(body: str) -> Any:
    return etree.fromstring(ENVELOPE.format(tns=replies.TNS, body=body).encode())


@pytest.mark.parametrize("body, says", [
    (f"<m:QueryStatusResponse>{STATUS.format(extra='<m:surprise>1</m:surprise>')}</m:QueryStatusResponse>",
     "Unexpected element"),
    ("<m:QueryStatusResponse><m:status><m:idempotencyKey>LB-1</m:idempotencyKey></m:status>"
     "</m:QueryStatusResponse>", "Missing element 'code'"),
    (f"<m:QueryStatusResponse>{STATUS.format(extra='<m:result/>')}</m:QueryStatusResponse>",
     "Missing element 'entry'"),
    ("<m:SubmitBatchResponse/>", "Missing element 'QueryStatusResponse'"),  # another operation's answer
])
def test_an_answer_outside_the_schema_is_refused_as_a_broken_contract(body: str, says: str) -> None:
    with pytest.raises(zx.XMLParseError, match=says) as caught:
        replies.query_status_response(_envelope(body))
    assert isinstance(translate_error(caught.value), FatalError)


@pytest.mark.parametrize("ref, code, says", [
    ("R" * 65, "01", "'ref' longer than 64"),  # medical.xsd's Text64, deliveries.receipt_ref
    (None, "E" * 17, "'code' longer than 16"),  # status_events.department_code
])
def test_a_receipt_the_ledger_could_not_keep_is_refused_as_a_broken_contract(ref: str | None, code: str,
                                                                            says: str) -> None:
    ref_element = f"<m:ref>{ref}</m:ref>" if ref else ""
    receipt = (f"<m:SubmitBatchResponse><m:batchId>b</m:batchId><m:receipt><m:idempotencyKey>LB-1</m:idempotencyKey>"
               f"<m:accepted>true</m:accepted><m:duplicate>false</m:duplicate>{ref_element}<m:code>{code}</m:code>"
               f"</m:receipt></m:SubmitBatchResponse>")
    with pytest.raises(zx.XMLParseError, match=says) as caught:
        replies.submit_batch_response(_envelope(receipt))
    assert isinstance(translate_error(caught.value), FatalError)  # the run stops: fix the contract, not retried
    longest = receipt.replace("R" * 65, "R" * 64).replace("E" * 17, "01")
    assert replies.submit_batch_response(_envelope(longest)).receipt[0].code == "01"


def test_xml_that_is_no_soap_envelope_is_retried_as_zeep_would() -> None:
    with pytest.raises(zx.XMLSyntaxError) as caught:
        replies.submit_batch_response(etree.fromstring(b"<html><body>gateway</body></html>"))
    assert isinstance(translate_error(caught.value), RetriableError)


def test_a_well_formed_answer_reads_with_zeeps_types() -> None:
    statuses = replies.query_status_response(_envelope(
        f"<m:QueryStatusResponse>{STATUS.format(extra='<m:reason>复核</m:reason>')}</m:QueryStatusResponse>"))
    update, = [update_from(s) for s in statuses]
    assert (update.idempotency_key, update.department_code, update.reason) == ("LB-1", "02", "复核")
    assert update.changed_at == "2026-12-01T10:00:00+08:00" and update.materials == () and update.result is None


def test_a_changed_at_without_zone_is_the_bureaus_beijing_time_as_reported_to_wanshi_tong() -> None:
    """The bureau keeps local time with no zone: a ``changedAt`` of 20:30 read as UTC was reported to 皖事通办 at
    04:30 the next day."""
    from connectors.wanshi_tong.mapping import beijing_time

    statuses = replies.query_status_response(_envelope(
        "<m:QueryStatusResponse>" + STATUS.replace("2026-12-01T10:00:00+08:00", "2026-12-01T20:30:00").format(extra="")
        + "</m:QueryStatusResponse>"))
    update, = [update_from(s) for s in statuses]
    assert update.changed_at == "2026-12-01T20:30:00+08:00"
    assert beijing_time(update.changed_at) == "2026-12-01T20:30:00+08:00"


@pytest.mark.parametrize("text", ["2026-12-01T10:00:00+08:00", "2026-12-01T10:00:00Z", "2026-12-01T10:00:00",
                                  "2026-12-01T10:00:00.123+08:00", "2026-12-01T10:00:00.5-05:30",
                                  "2026-12-01T10:00:00.1234567+08:00", "2026-12-01T24:00:00Z"])
def test_a_moment_reads_as_zeeps_datetime_reads_it(text: str) -> None:
    try:
        expected = DateTime().pythonvalue(text).isoformat()
    except (ValueError, TypeError, ArithmeticError) as exc:
        with pytest.raises(type(exc)):
            replies._moment(text)
    else:
        assert replies._moment(text).isoformat() == expected


def test_a_status_whose_time_is_no_datetime_is_set_aside_alone_not_the_whole_answer() -> None:
    from lianban.wire.contract import StatusUpdate, UnreadableStatus, read_polled

    bad = STATUS.replace("LB-1", "LB-2").replace("2026-12-01T10:00:00+08:00", "2026/12/01 10:00")
    statuses = replies.query_status_response(_envelope(
        f"<m:QueryStatusResponse>{STATUS.format(extra='')}{bad.format(extra='')}</m:QueryStatusResponse>"))
    good, unreadable = [read_polled(update_from, s) for s in statuses]
    assert isinstance(good, StatusUpdate) and good.idempotency_key == "LB-1"
    assert isinstance(unreadable, UnreadableStatus) and unreadable.idempotency_key == "LB-2"
    assert "2026/12/01" not in unreadable.reason and "changed_at" in unreadable.reason
