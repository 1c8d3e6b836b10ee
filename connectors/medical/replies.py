"""The two bulk answers (SubmitBatchResponse, QueryStatusResponse), read by readers made for their types.

zeep's generic deserialiser was 40 % of a status poll's CPU and a quarter of a delivery's hub-side work. For
SubmitBatch and QueryStatus the connector gives the operation these readers instead (:func:`install`); all that
comes before them stays zeep's: the hardened XML parser (no DTD, entities or external references), the
WS-Security check of a signed answer, SOAP faults and HTTP errors. A reader returns what zeep's would (objects
with the schema's elements as attributes, values converted by zeep's own XSD types, a response with one child
element unwrapped to its list) and refuses, as zeep does, an element medical.xsd does not have there or a
required one missing: :class:`zeep.exceptions.XMLParseError`, which the connector reads as a broken contract.
Unlike zeep's, the receipt reader also refuses a ``ref`` or ``code`` longer than the ledger keeps
(:data:`~lianban.wire.contract.MAX_REF_LENGTH`, medical.xsd's Text64; a code, an enumeration there): an answer
the hub could not settle.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from lxml import etree
from zeep.exceptions import XMLParseError, XMLSyntaxError
from zeep.xsd.types.builtins import Boolean, DateTime

from lianban.wire.contract import MAX_CODE_LENGTH, MAX_REF_LENGTH

__all__ = ["READERS", "install"]

TNS = "http://ybj.bozhou.gov.cn/lianban/medical/v1"
SOAP_ENVELOPE = "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"  # SOAP 1.1, as medical.wsdl binds it
SOAP_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"
_BOOLEAN, _DATETIME = Boolean(), DateTime()
_PLAIN_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)?")


def _moment(text: str) -> datetime:
    """An xs:dateTime as zeep reads it; the usual forms by the standard library (zeep's isodate parse was
    most of what was left of reading a poll's answer), any other by zeep."""
    if _PLAIN_MOMENT.fullmatch(text):
        return datetime.fromisoformat(text)
    moment: datetime = _DATETIME.pythonvalue(text)
    return moment


def _moment_or_text(text: str) -> datetime | str:
    """A status row's xs:dateTime, or its text when it is none: the row is then set aside on its own when it is
    read (:func:`lianban.wire.contract.read_changed_at`), not the whole answer refused."""
    try:
        return _moment(text)
    except (ValueError, OverflowError):  # zeep's isodate error is a ValueError
        return text


_IN_TNS = f"{{{TNS}}}"


def _name(element: Any) -> str:
    """A child's local name in medical.xsd's namespace ("?{other}tag" for one outside it, so that it is no
    name the schema has); by slicing the tag: an ``etree.QName`` per element was a quarter of reading a poll."""
    tag: str = element.tag
    return tag[len(_IN_TNS):] if tag.startswith(_IN_TNS) else f"?{tag}"


def _fields(element: Any, required: tuple[str, ...], optional: tuple[str, ...], repeated: tuple[str, ...] = ()) \
        -> dict[str, Any]:
    """The children of `element` by name (repeated ones as lists); XMLParseError for any other child or a
    required one missing."""
    found: dict[str, Any] = {name: [] for name in repeated}
    for child in element:
        if not isinstance(child.tag, str):
            continue  # a comment or processing instruction
        name = _name(child)
        if name in repeated:
            found[name].append(child)
        elif name in required or name in optional:
            found[name] = child
        else:
            raise XMLParseError(f"Unexpected element {child.tag!r} in {etree.QName(element).localname}")
    missing = [name for name in required if name not in found]
    if missing:
        raise XMLParseError(f"Missing element {missing[0]!r} in {etree.QName(element).localname}")
    return found


_PLAIN_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}  # xs:boolean's four lexical forms


def _boolean(text: str | None) -> Any:
    """An xs:boolean as zeep reads it: its four forms looked up, any other text (whitespace around one) by zeep."""
    value = _PLAIN_BOOLEANS.get(text) if text is not None else None
    return _BOOLEAN.pythonvalue(text) if value is None else value


def _text(element: Any | None) -> str | None:
    return None if element is None else (element.text or "")


def _bounded(element: Any | None, limit: int) -> str | None:
    """:func:`_text`, refused (XMLParseError) when longer than `limit`."""
    text = _text(element)
    if text is not None and len(text) > limit:
        raise XMLParseError(f"Element {etree.QName(element).localname!r} longer than {limit} characters")
    return text


def _receipt(element: Any) -> SimpleNamespace:
    f = _fields(element, ("idempotencyKey", "accepted", "duplicate", "code"), ("ref", "reason"))
    return SimpleNamespace(idempotencyKey=_text(f["idempotencyKey"]),
                           accepted=_boolean(_text(f["accepted"])),
                           duplicate=_boolean(_text(f["duplicate"])), ref=_bounded(f.get("ref"), MAX_REF_LENGTH),
                           code=_bounded(f["code"], MAX_CODE_LENGTH), reason=_text(f.get("reason")))


def _result(element: Any | None) -> SimpleNamespace | None:
    if element is None:
        return None
    entries = _fields(element, (), (), ("entry",))["entry"]
    if not entries:
        raise XMLParseError("Missing element 'entry' in result")
    for entry in entries:
        if entry.get("name") is None:
            raise XMLParseError("Missing attribute 'name' of entry")
    return SimpleNamespace(entry=[SimpleNamespace(name=e.get("name"), _value_1=e.text or "") for e in entries])


def _status(element: Any) -> SimpleNamespace:
    f = _fields(element, ("idempotencyKey", "code", "changedAt"), ("reason", "result"), ("material",))
    return SimpleNamespace(idempotencyKey=_text(f["idempotencyKey"]), code=_text(f["code"]),
                           reason=_text(f.get("reason")), changedAt=_moment_or_text(f["changedAt"].text or ""),
                           material=[m.text or "" for m in f["material"]], result=_result(f.get("result")))


def _response(envelope: Any, name: str) -> Any:
    if envelope.tag != SOAP_ENVELOPE:  # as zeep's own reader says it
        raise XMLSyntaxError(f"The XML returned by the server does not contain a valid {SOAP_ENVELOPE} root element")
    body = envelope.find(SOAP_BODY)
    response = body.find(f"{{{TNS}}}{name}") if body is not None else None
    if response is None:
        raise XMLParseError(f"Missing element {name!r} in the SOAP body")
    return response


def submit_batch_response(envelope: Any) -> SimpleNamespace:
    """SubmitBatchResponse: ``batchId`` and the ``receipt`` list."""
    f = _fields(_response(envelope, "SubmitBatchResponse"), ("batchId",), (), ("receipt",))
    return SimpleNamespace(batchId=_text(f["batchId"]), receipt=[_receipt(r) for r in f["receipt"]])


def query_status_response(envelope: Any) -> list[SimpleNamespace]:
    """QueryStatusResponse, unwrapped to its ``status`` list (as zeep unwraps a response of one child)."""
    return [_status(s) for s in _fields(_response(envelope, "QueryStatusResponse"), (), (), ("status",))["status"]]


READERS: dict[str, Callable[[Any], Any]] = {"SubmitBatch": submit_batch_response,
                                             "QueryStatus": query_status_response}


def install(binding: Any) -> None:
    """Give `binding`'s (a zeep SOAP binding's) SubmitBatch and QueryStatus these readers."""
    for operation, reader in READERS.items():
        binding.get(operation).process_reply = reader
