"""The 医疗保障局 simulator on the wire: its served contract, WS-Security, hardened parsing and receipts."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import requests
import zeep
from lxml import etree
from zeep.wsse.username import UsernameToken
from zeep.wsse.utils import WSU

from connectors.medical.statuses import CODES, ERROR_CODES, RECEIPT_ERRORS, STATUSES
from lianban.domain.statuses import Status
from lianban.wire.contract import SealedItem
from simulators.engine import BATCH_ID_MISMATCH, DepartmentEngine, Intake, choose_path, supplement_materials
from simulators.kit import Item, Supplied, engine_for, seal_items, seal_supplements
from simulators.medical import (
    INTAKE_CODES,
    NS,
    PASSWORD_DIGEST,
    TNS,
    create_app,
    envelope_bytes,
    receipt_code,
    submit_batch_response,
)
from simulators.people import make_id_number, make_uscc
from simulators.runner import serve

LOGIN = "lianban-medical"
PASSWORD = "sim-only-Pa55word-not-real"  # a test credential for a local simulator, never a real one
XSD = Path(__file__).resolve().parents[2] / "schemas" / "medical" / "medical.xsd"


@dataclass
class Sim:
    url: str
    engine: DepartmentEngine
    keys_dir: Path  # the hub's keys and the bureau's, as `lianban keys init` makes them

    @property
    def soap_url(self) -> str:
        return f"{self.url}/soap/medical"

    def post(self, body: str | bytes) -> requests.Response:
        data = body.encode() if isinstance(body, str) else body
        return requests.post(self.soap_url, data=data, headers={"Content-Type": "text/xml; charset=utf-8"},
                             timeout=5)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    keys_dir = tmp_path / "keys"
    engine = engine_for(keys_dir, "medical", tmp_path / "medical.db", step_seconds=0.1)
    server, thread, url = serve(create_app(engine, LOGIN, PASSWORD))
    yield Sim(url, engine, keys_dir)
    server.should_exit = True
    thread.join(timeout=10)


# -- building requests by hand ---------------------------------------------------------------------------
def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def security(password: str = PASSWORD, *, age: timedelta = timedelta(0), timestamp: bool = True,
             digest: bool = False, nonce: bytes | None = None) -> str:
    """A wsse:Security header; `age` backdates both the Timestamp and the digest's Created."""
    created = _stamp(datetime.now(UTC) - age)
    stamp = f"<wsu:Timestamp><wsu:Created>{created}</wsu:Created></wsu:Timestamp>" if timestamp else ""
    if digest:
        nonce = nonce or os.urandom(16)
        value = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
        secret = (f'<wsse:Password Type="{PASSWORD_DIGEST}">{value}</wsse:Password>'
                  f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce><wsu:Created>{created}</wsu:Created>")
    else:
        secret = f"<wsse:Password>{password}</wsse:Password>"
    return (f'<wsse:Security xmlns:wsse="{NS["wsse"]}" xmlns:wsu="{NS["wsu"]}">{stamp}'
            f"<wsse:UsernameToken><wsse:Username>{LOGIN}</wsse:Username>{secret}</wsse:UsernameToken>"
            f"</wsse:Security>")


def envelope(body: str, header: str | None = None, prolog: str = "") -> str:
    header = security() if header is None else header
    return (f'{prolog}<soap:Envelope xmlns:soap="{NS["s"]}" xmlns:m="{NS["m"]}">'
            f"<soap:Header>{header}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>")


PING = "<m:Ping/>"


def fault_of(response: requests.Response) -> tuple[str, str, str]:
    """(faultcode, errorCode, faultstring) of a SOAP Fault response."""
    assert response.status_code == 500
    root = etree.fromstring(response.content)
    fault = root.find("s:Body/s:Fault", NS)
    assert fault is not None, response.text
    return (fault.findtext("faultcode") or "", fault.findtext("detail/m:MedicalFault/m:errorCode", namespaces=NS)
            or "", fault.findtext("faultstring") or "")


def retiree(seq: int, item_code: str = "12", **override: Any) -> Item:
    """A synthetic retiree (never a real person) for one delivery, to be sealed in a batch."""
    fields = {"name": f"测试{seq:03d}", "id_number": make_id_number("341621", date(1964, 7, 9), seq, male=False),
              "employer_uscc": make_uscc("341621", random.Random(seq)), "contribution_months": 300, **override}
    return Item(f"LB-S{seq:05d}-{item_code}", f"BZ2025{seq:06d}", item_code, fields)


def wire_item(delivery: SealedItem) -> dict[str, str]:
    """One sealed delivery as a wire DeliveryItem (the item envelope as JSON text)."""
    return {"idempotencyKey": delivery.idempotency_key, "caseNo": delivery.case_no, "itemCode": delivery.item_code,
            "envelope": json.dumps(delivery.envelope)}


@dataclass(frozen=True)
class Batch:
    """One batch sealed as the hub seals it: the seal header (JSON text) and its wire items, in order."""

    seal: str
    items: list[dict[str, str]]


def sealed_batch(sim: Sim, *items: Item) -> Batch:
    seal, deliveries = seal_items(sim.keys_dir, "medical", items)
    return Batch(json.dumps(seal), [wire_item(d) for d in deliveries])


def named(seal: str) -> str:
    """The batch id a request names beside its seal (JSON text): the seal's own, as the hub names it."""
    try:
        return str(json.loads(seal).get("batch_id", "B-1"))
    except ValueError:
        return "B-1"


def submit_body(batch: Batch, items: Sequence[dict[str, str]] | None = None) -> str:
    """SubmitBatch carrying `batch`'s seal and `items` (default: the batch's own items, as sealed)."""
    chosen = batch.items if items is None else items
    wire = "".join("<m:item>" + "".join(f"<m:{k}>{escape(v)}</m:{k}>" for k, v in i.items()) + "</m:item>"
                   for i in chosen)
    return (f"<m:SubmitBatch><m:batchId>{named(batch.seal)}</m:batchId><m:seal>{escape(batch.seal)}</m:seal>{wire}"
            f"</m:SubmitBatch>")


def receipts_of(response: requests.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    return [{etree.QName(c).localname: c.text or "" for c in r} for r in root.iterfind(".//m:receipt", NS)]


def supplement_body(sim: Sim, supplied: Sequence[Supplied], seal: dict[str, Any] | None = None) -> str:
    """SubmitSupplement carrying `supplied`, sealed as the hub seals it (or under another `seal`)."""
    header, items = seal_supplements(sim.keys_dir, "medical", supplied)
    wire = "".join(f"<m:item><m:idempotencyKey>{s.idempotency_key}</m:idempotencyKey><m:supplementId>"
                   f"{s.supplement_id}</m:supplementId><m:caseNo>{s.case_no}</m:caseNo><m:itemCode>{s.item_code}"
                   f"</m:itemCode><m:envelope>{escape(json.dumps(s.envelope))}</m:envelope></m:item>" for s in items)
    seal_text = json.dumps(seal or header)
    return (f"<m:SubmitSupplement><m:batchId>{named(seal_text)}</m:batchId><m:seal>{escape(seal_text)}</m:seal>"
            f"{wire}</m:SubmitSupplement>")


def supply(sim: Sim, people: Sequence[Item]) -> list[dict[str, str]]:
    """The materials each item asks for, supplied over SOAP; the receipts."""
    supplied = [Supplied(p.idempotency_key, f"S-{p.idempotency_key}", p.case_no, p.item_code,
                         supplement_materials(p.idempotency_key)) for p in people]
    return receipts_of(sim.post(envelope(supplement_body(sim, supplied)))) if supplied else []


# -- the served contract --------------------------------------------------------------------------------
def test_served_wsdl_names_this_server_and_carries_its_schema(sim: Sim) -> None:
    wsdl = etree.fromstring(requests.get(f"{sim.soap_url}?wsdl", timeout=5).content)
    assert wsdl.find(".//soap:address", NS).get("location") == sim.soap_url
    assert wsdl.find("wsdl:types/xs:schema", NS).get("targetNamespace") == NS["m"]
    xsd = requests.get(f"{sim.soap_url}?xsd=medical.xsd", timeout=5)
    assert etree.XMLSchema(etree.fromstring(xsd.content)) is not None
    assert requests.get(f"{sim.soap_url}?xsd=../../etc/passwd", timeout=5).status_code == 404


def test_a_zeep_client_built_from_the_served_wsdl_alone_can_call_the_service(sim: Sim) -> None:
    now = datetime.now(UTC)
    stamp = WSU.Timestamp(WSU.Created(_stamp(now)), WSU.Expires(_stamp(now + timedelta(minutes=5))))
    client = zeep.Client(f"{sim.soap_url}?wsdl", wsse=UsernameToken(LOGIN, PASSWORD, timestamp_token=stamp))
    assert client.service.Ping() == "ok"
    batch = sealed_batch(sim, retiree(1))
    item = batch.items[0]
    reply = client.service.SubmitBatch(batchId=named(batch.seal), seal=batch.seal, item=[item])
    assert reply.batchId == named(batch.seal)
    assert (reply.receipt[0].accepted, reply.receipt[0].duplicate) == (True, False)
    statuses = client.service.QueryStatus(idempotencyKey=[item["idempotencyKey"], "LB-unknown"])
    assert [s.idempotencyKey for s in statuses] == [item["idempotencyKey"]]
    assert STATUSES[statuses[0].code] in Status


def test_health_and_stats(sim: Sim) -> None:
    assert requests.get(f"{sim.url}/health", timeout=5).json() == {"status": "ok"}
    first = sealed_batch(sim, retiree(1))
    assert sim.post(envelope(submit_body(first))).status_code == 200
    assert sim.post(envelope(submit_body(sealed_batch(sim, retiree(1))))).status_code == 200  # the hub re-seals
    assert requests.get(f"{sim.url}/_sim/stats", timeout=5).json() == {
        "unique": 1, "duplicates": 1, "rejected": 0, "refused_batches": 0}
    assert fault_of(sim.post(envelope(submit_body(first))))[1] == "E_BATCH_REPLAY"  # the same sealed batch again
    assert requests.get(f"{sim.url}/_sim/stats", timeout=5).json() == {
        "unique": 1, "duplicates": 1, "rejected": 0, "refused_batches": 1}


# -- hardened parsing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_an_xxe_doctype_is_refused_without_reading_the_file(sim: Sim, tmp_path: Path, encoding: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("MARKER-do-not-leak")
    prolog = f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    body = envelope("<m:QueryStatus><m:idempotencyKey>&xxe;</m:idempotencyKey></m:QueryStatus>", prolog=prolog)
    response = sim.post(body.encode(encoding))
    code, error, text = fault_of(response)
    assert (code, error) == ("soap:Client", "E_DTD") and "DTD" in text
    assert "MARKER" not in response.text


def test_an_entity_bomb_is_refused_quickly(sim: Sim) -> None:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    started = time.monotonic()
    response = sim.post(envelope(PING.replace("/>", ">&i;</m:Ping>"), prolog=f"<!DOCTYPE x [{entities}]>"))
    assert fault_of(response)[1] == "E_DTD"
    assert time.monotonic() - started < 2 and len(response.content) < 2000


# bodies and headers are built when the test runs: a WS-Security timestamp made at collection goes stale
# (E_EXPIRED) once the suite has run for five minutes
@pytest.mark.parametrize("body", [
    lambda: b"<soap:Envelope", lambda: b"\x00\x01 not xml", lambda: b"<Envelope><Body/></Envelope>",
    lambda: envelope("<m:SubmitBatch><m:item/></m:SubmitBatch>").encode(),  # breaks medical.xsd
    lambda: envelope("<m:Unknown/>").encode(),
])
def test_malformed_or_off_contract_requests_get_a_client_fault(sim: Sim, body: Callable[[], bytes]) -> None:
    code, error, text = fault_of(sim.post(body()))
    assert (code, error) == ("soap:Client", "E_XML")
    assert text.startswith(ERROR_CODES["E_XML"].meaning)


# -- WS-Security -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "error"), [
    (lambda: "", "E_AUTH"),
    (lambda: security("wrong-Password-42"), "E_AUTH"),
    (lambda: security("wrong-Password-42", digest=True), "E_AUTH"),
    (lambda: security(timestamp=False), "E_EXPIRED"),
    (lambda: security(age=timedelta(minutes=6)), "E_EXPIRED"),
    (lambda: security(age=timedelta(minutes=-10)), "E_EXPIRED"),
])
def test_requests_without_fresh_valid_credentials_are_refused(sim: Sim, header: Callable[[], str], error: str) -> None:
    response = sim.post(envelope(PING, header=header()))
    assert fault_of(response)[:2] == ("soap:Client", error)
    assert "wrong-Password" not in response.text and PASSWORD not in response.text
    assert sim.engine.stats()["unique"] == 0


def test_password_digest_is_accepted_once_per_nonce(sim: Sim) -> None:
    header = security(digest=True, nonce=b"0123456789abcdef")
    assert sim.post(envelope(PING, header=header)).status_code == 200
    assert fault_of(sim.post(envelope(PING, header=header)))[1] == "E_REPLAY"


# -- receipts --------------------------------------------------------------------------------------------
def test_receipts_refuse_bad_items_one_by_one(sim: Sim) -> None:
    # every item is in the signed batch; what the hub put on each wire item around it is wrong for three
    batch = sealed_batch(sim, retiree(1), retiree(3), retiree(4, id_number="341621196407090000"), retiree(5))
    good, other, bad_id, item5 = batch.items
    moved = {**other, "idempotencyKey": retiree(2).idempotency_key, "caseNo": retiree(2).case_no}  # sealed for 3
    wrong_item = {**item5, "itemCode": "13"}
    receipts = receipts_of(sim.post(envelope(submit_body(batch, [good, moved, bad_id, wrong_item]))))
    assert [(r["accepted"], r["code"]) for r in receipts] == [
        ("true", "01"), ("false", "E_SEAL"), ("false", "E_DATA"), ("false", "E_ITEM")]
    assert all(r["reason"] for r in receipts[1:]) and "身份证" in receipts[2]["reason"]
    assert "ref" in receipts[0] and "ref" not in receipts[1]


@pytest.mark.parametrize("change", ["tamper", "swap", "drop", "add"])
def test_a_batch_whose_items_are_not_the_signed_ones_is_refused_whole(sim: Sim, change: str) -> None:
    batch = sealed_batch(sim, retiree(1), retiree(2), retiree(3))
    items = list(batch.items)
    if change == "tamper":  # one item's ciphertext changed in transit
        envelope_ = json.loads(items[1]["envelope"])
        ct = bytearray(base64.b64decode(envelope_["ct"]))
        ct[0] ^= 1
        items[1] = {**items[1], "envelope": json.dumps({**envelope_, "ct": base64.b64encode(ct).decode()})}
    elif change == "swap":  # an envelope sealed for another delivery of another batch
        items[1] = {**items[1], "envelope": sealed_batch(sim, retiree(2)).items[0]["envelope"]}
    elif change == "drop":
        del items[1]
    else:
        items.append(sealed_batch(sim, retiree(4)).items[0])
    code, error, text = fault_of(sim.post(envelope(submit_body(batch, items))))
    assert (code, error) == ("soap:Client", "E_BATCH_ROOT")
    assert text.startswith(ERROR_CODES["E_BATCH_ROOT"].meaning)
    assert sim.engine.stats() == {"unique": 0, "duplicates": 0, "rejected": 0, "refused_batches": 1}


@pytest.mark.parametrize(("spoil", "error"), [
    (lambda seal: {**seal, "signature": base64.b64encode(b"x" * 64).decode()}, "E_BATCH_SIG"),
    (lambda seal: {**seal, "count": seal["count"] + 1}, "E_BATCH_SIG"),  # any header change breaks the signature
    (lambda seal: {k: v for k, v in seal.items() if k != "root"}, "E_BATCH_FORMAT"),
    (lambda seal: {**seal, "suite": "NIST"}, "E_BATCH_SUITE"),
])
def test_a_batch_with_a_spoiled_seal_is_refused_whole(sim: Sim, spoil: Any, error: str) -> None:
    batch = sealed_batch(sim, retiree(1))
    spoiled = dataclasses.replace(batch, seal=json.dumps(spoil(json.loads(batch.seal))))
    assert fault_of(sim.post(envelope(submit_body(spoiled))))[:2] == ("soap:Client", error)
    assert fault_of(sim.post(envelope(submit_body(dataclasses.replace(batch, seal="not json")))))[1] \
        == "E_BATCH_FORMAT"
    assert sim.engine.stats()["unique"] == 0


def test_a_request_naming_another_batch_than_its_seal_is_refused_whole(sim: Sim) -> None:
    """SubmitBatch's batchId and its signed seal's batch_id differ: refused whole, said as such, nothing taken."""
    batch = sealed_batch(sim, retiree(1))
    body = submit_body(batch).replace(f"<m:batchId>{named(batch.seal)}<", "<m:batchId>B-another<")
    code, error, text = fault_of(sim.post(envelope(body)))
    assert (code, error) == ("soap:Client", "E_BATCH_FORMAT") and BATCH_ID_MISMATCH in text
    assert sim.engine.stats()["refused_batches"] == 1 and sim.engine.stats()["unique"] == 0
    assert receipts_of(sim.post(envelope(submit_body(batch))))[0]["accepted"] == "true"  # named right: taken


def test_statuses_move_on_and_speak_the_bureaus_codes(sim: Sim) -> None:
    people = [retiree(seq) for seq in range(6)]
    batch = sealed_batch(sim, *people)
    items = batch.items
    sim.post(envelope(submit_body(batch)))
    time.sleep(0.3)
    supply(sim, [p for p in people if Status.SUPPLEMENT in choose_path(p.idempotency_key)[0]])
    time.sleep(0.6)
    keys = "".join(f"<m:idempotencyKey>{i['idempotencyKey']}</m:idempotencyKey>" for i in items)
    sim.post(envelope(f"<m:QueryStatus>{keys}</m:QueryStatus>"))  # a few items misbehave once (engine docstring)
    root = etree.fromstring(sim.post(envelope(f"<m:QueryStatus>{keys}</m:QueryStatus>")).content)
    codes = [s.findtext("m:code", namespaces=NS) for s in root.iterfind(".//m:status", NS)]
    assert len(codes) == 6 and all(STATUSES[c].is_terminal() for c in codes)


# -- the tables and the contract agree -------------------------------------------------------------------
def test_code_tables_match_the_xsd() -> None:
    xsd = etree.parse(str(XSD))
    status_codes = {e.get("value") for e in xsd.iterfind(".//xs:simpleType[@name='StatusCode']//xs:enumeration", NS)}
    receipt_errors = {e.get("value") for e in xsd.iterfind(".//xs:simpleType[@name='ReceiptCode']//xs:enumeration",
                                                             NS)}
    assert status_codes == set(STATUSES)
    assert receipt_errors == RECEIPT_ERRORS == set(INTAKE_CODES.values())
    assert set(CODES) == set(Status)
    assert RECEIPT_ERRORS.issubset(ERROR_CODES)


# -- 补正资料: materials by code, and SubmitSupplement ------------------------------------------------------
def waiting_retiree() -> Item:
    """A retiree whose item is on a 补正 path (its key fixes the path)."""
    return next(p for p in map(retiree, range(1000)) if Status.SUPPLEMENT in choose_path(p.idempotency_key)[0])


def status_of(sim: Sim, key: str) -> dict[str, Any]:
    root = etree.fromstring(sim.post(envelope(f"<m:QueryStatus><m:idempotencyKey>{key}</m:idempotencyKey>"
                                              f"</m:QueryStatus>")).content)
    status = root.find(".//m:status", NS)
    assert status is not None
    return {"code": status.findtext("m:code", namespaces=NS), "reason": status.findtext("m:reason", namespaces=NS),
            "materials": [m.text for m in status.iterfind("m:material", NS)]}


def test_an_item_waits_at_supplement_naming_materials_until_they_are_supplied_once(sim: Sim) -> None:
    person = waiting_retiree()
    sim.post(envelope(submit_body(sealed_batch(sim, person))))
    time.sleep(0.5)  # well past the 补正 step
    waiting = status_of(sim, person.idempotency_key)
    assert STATUSES[waiting["code"]] is Status.SUPPLEMENT
    assert waiting["materials"] == list(supplement_materials(person.idempotency_key))
    assert 1 <= len(waiting["materials"]) <= 2 and "请补正资料" in waiting["reason"]

    first, again = supply(sim, [person]), supply(sim, [person])  # the hub resends, sealed afresh

    assert [(r["accepted"], r["duplicate"]) for r in first + again] == [("true", "false"), ("true", "true")]
    assert STATUSES[first[0]["code"]] is Status.UNDER_REVIEW  # review restarts on arrival
    time.sleep(0.5)
    status_of(sim, person.idempotency_key)  # a few items misbehave once (engine docstring): the next poll is true
    assert STATUSES[status_of(sim, person.idempotency_key)["code"]].is_terminal()
    assert sim.engine.supplement_stats() == {"supplements": 1, "supplement_duplicates": 1, "supplements_rejected": 0}


def test_a_supplement_with_a_wrong_seal_is_refused_whole_and_one_for_an_unknown_item_per_item(sim: Sim) -> None:
    person = waiting_retiree()
    sim.post(envelope(submit_body(sealed_batch(sim, person))))
    asked = Supplied(person.idempotency_key, "S-1", person.case_no, person.item_code, ("M01",))
    header, _ = seal_supplements(sim.keys_dir, "medical", [asked])
    forged = sim.post(envelope(supplement_body(sim, [asked], seal={**header, "count": 2})))
    assert fault_of(forged)[:2] == ("soap:Client", "E_BATCH_SIG")
    stranger = Supplied("LB-never-sent", "S-2", "BZ-NONE", "12", ("M01",))
    receipts = receipts_of(sim.post(envelope(supplement_body(sim, [stranger]))))
    assert (receipts[0]["accepted"], receipts[0]["code"]) == ("false", "E_NOCASE") and receipts[0]["reason"]
    assert sim.engine.supplement_stats()["supplements"] == 0


def _receipts_one_element_at_a_time(batch_id: str, intakes: Sequence[Intake]) -> bytes:
    """SubmitBatchResponse as the simulator wrote it before copying empty receipts: each element by SubElement."""
    response = etree.Element(f"{{{TNS}}}SubmitBatchResponse", nsmap={"m": TNS})
    etree.SubElement(response, f"{{{TNS}}}batchId").text = batch_id
    for intake in intakes:
        receipt = etree.SubElement(response, f"{{{TNS}}}receipt")
        for name, value in (("idempotencyKey", intake.idempotency_key),
                            ("accepted", "true" if intake.accepted else "false"),
                            ("duplicate", "true" if intake.duplicate else "false"), ("ref", intake.ref),
                            ("code", receipt_code(intake)), ("reason", intake.reason)):
            if value is not None:
                etree.SubElement(receipt, f"{{{TNS}}}{name}").text = value
    return envelope_bytes(response)


def test_receipts_of_every_shape_are_written_as_before_and_valid() -> None:
    shapes = [Intake("a" * 64, True, False, "MEDICAL-00000001", Status.ACCEPTED, "OK", None),
              Intake("b" * 64, True, True, "MEDICAL-00000001", Status.ACCEPTED, "DUP", None),
              Intake("c" * 64, False, False, None, None, "INVALID", "身份证号码校验位错误 <&> \"'"),
              Intake("d" * 64, False, False, None, None, "SEAL", None),
              Intake("e" * 64, True, False, "MEDICAL-00000002", Status.UNDER_REVIEW, "OK", "已受理 & 待审"),
              Intake("f" * 64, False, False, None, None, "ITEM", "")]
    intakes = [random.Random(seed).choice(shapes) for seed in range(60)] + shapes
    ours = envelope_bytes(submit_batch_response("batch-1", intakes))
    assert ours == _receipts_one_element_at_a_time("batch-1", intakes)
    body = etree.fromstring(ours).find("soap:Body", {"soap": "http://schemas.xmlsoap.org/soap/envelope/"})
    assert etree.XMLSchema(etree.parse(str(XSD))).validate(body[0])
    assert [r.findtext("m:idempotencyKey", namespaces=NS) for r in body[0].iterfind("m:receipt", NS)] == \
        [i.idempotency_key for i in intakes]
