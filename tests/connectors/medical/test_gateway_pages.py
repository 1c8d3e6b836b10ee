"""A gateway's page in front of the bureau (HTML with a DOCTYPE, or XML that is no SOAP Fault) is acted on by its
HTTP status, as an empty one is: it is not the bureau breaking its contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from connectors.medical.connector import SOAP_PATH, MedicalConnector
from lianban.errors import ConfigError, FatalError, RetriableError
from lianban.wire.settings import TransportSettings
from lianban.wire.transport import make_zeep_client

REPO = Path(__file__).resolve().parents[3]
STUB = "http://stub.invalid"
HTML_PAGE = ('<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"/><title>系统维护</title></head>'
             '<body><h1>系统维护中</h1><p>服务暂时不可用，请稍后再试。</p></body></html>').encode()
XML_PAGE = b'<?xml version="1.0"?><error><code>502</code><message>upstream unavailable</message></error>'


class PageAdapter(requests.adapters.BaseAdapter):
    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        super().__init__()
        self.status, self.content_type, self.body = status, content_type, body

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.request = self.status, self.body, request.url or "", request
        resp.headers = CaseInsensitiveDict({"Content-Type": self.content_type})
        return resp

    def close(self) -> None:
        pass


def _connector(status: int, content_type: str, body: bytes, limit: int | None = None) -> MedicalConnector:
    settings = TransportSettings() if limit is None else TransportSettings(max_response_bytes=limit)
    client = make_zeep_client(str(REPO / "schemas/medical/medical.wsdl"), settings)
    client.transport.session.mount(STUB, PageAdapter(status, content_type, body))
    return MedicalConnector(client, address=STUB + SOAP_PATH)


@pytest.mark.parametrize(("status", "content_type", "body", "expected"), [
    (503, "text/html; charset=utf-8", HTML_PAGE, RetriableError),
    (502, "application/xml", XML_PAGE, RetriableError),
    (200, "text/html; charset=utf-8", HTML_PAGE, RetriableError),
    (404, "text/html", HTML_PAGE, ConfigError),
    (307, "text/html", b"", ConfigError),  # moved: not followed (lianban.wire.transport), the address to check
])
def test_a_gateway_page_is_acted_on_by_its_http_status(status: int, content_type: str, body: bytes,
                                                       expected: type[Exception]) -> None:
    """A maintenance page with <!DOCTYPE html> was read as a reply carrying a DTD, and well-formed XML that is no
    Fault as a Fault of no side: FatalError, which stopped the delivery run (and every later one) instead of
    backing off."""
    with pytest.raises(expected) as caught:
        _connector(status, content_type, body).poll(["LB-1"])
    assert not isinstance(caught.value, FatalError)
    assert "系统维护" not in str(caught.value)  # the page itself is never quoted


def test_a_dtd_in_the_bureaus_own_soap_reply_is_still_refused() -> None:
    soap = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><soap:Envelope '
            b'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>')
    with pytest.raises(FatalError, match="DTD"):
        _connector(200, "text/xml; charset=utf-8", soap).poll(["LB-1"])


@pytest.mark.parametrize("status", [200, 503])
def test_an_answer_over_the_size_limit_is_retried_not_a_wrong_address(status: int) -> None:
    """It was a ConfigError telling the operator to check host, port and extra.wsdl (retrying being of no use),
    which stopped the delivery run, where the REST departments retry it."""
    with pytest.raises(RetriableError, match="大小上限") as caught:
        _connector(status, "text/html", HTML_PAGE * 50, limit=1000).poll(["LB-1"])
    assert "host" not in str(caught.value)


class _Broken:
    """A body that breaks off midway, as a connection the bureau closes before its answer is whole (read as it
    arrives, ``read1``, under the answer's deadline; ``stream`` for a caller reading it without one)."""

    def __init__(self) -> None:
        self.pieces = iter([b'<?xml version="1.0"?><soap:Envelope'])

    def read1(self, amt: int, decode_content: bool = True) -> bytes:
        from urllib3.exceptions import ProtocolError

        for piece in self.pieces:
            return piece
        raise ProtocolError("Connection broken: IncompleteRead(36 bytes read, 4000 more expected)")

    def stream(self, amt: int, decode_content: bool = True) -> Any:
        yield self.read1(amt)
        yield self.read1(amt)

    def close(self) -> None:
        pass


class BrokenAdapter(PageAdapter):
    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        resp = super().send(request)
        resp._content, resp.raw = False, _Broken()
        return resp


def test_an_answer_broken_off_midway_is_retried_not_a_wrong_address() -> None:
    """The bureau may have taken the batch: the hub sends it again (answered duplicate). It was a ConfigError
    telling the operator to check host, port and extra.wsdl, which stopped the delivery run."""
    client = make_zeep_client(str(REPO / "schemas/medical/medical.wsdl"))
    client.transport.session.mount(STUB, BrokenAdapter(200, "text/xml", b""))
    with pytest.raises(RetriableError, match="中途断开") as caught:
        MedicalConnector(client, address=STUB + SOAP_PATH).poll(["LB-1"])
    assert "host" not in str(caught.value)


@pytest.mark.parametrize("body", [b"", HTML_PAGE])
def test_a_batch_too_large_for_the_gateway_is_split_not_fatal(body: bytes) -> None:
    """An HTTP 413 (a gateway's body limit, below medical.xsd's 1,000 items) was a FatalError: the delivery run
    stopped, and every later one, its rows never delivered nor dead-lettered. Now a refusal without a code, which
    deliver splits (and a single item so refused backs off: lianban.pipeline.deliver.refused_for_good)."""
    from lianban.errors import RejectedError
    from lianban.wire.contract import SealedItem

    batch = [SealedItem(f"LB-{n}", f"BZ2025{n:06d}", "11", {"v": 2}) for n in range(2)]
    with pytest.raises(RejectedError, match="HTTP 413") as caught:
        _connector(413, "text/html", body).submit(batch, {"v": 2})
    assert caught.value.code == ""


def test_every_fault_code_the_bureau_answers_is_in_its_documents() -> None:
    """E_SIGNATURE and E_WEAK_SIGNATURE (the X.509 request signature) were missing from medical.xsd's MedicalFault
    and from the README's error table, which an operator reads to learn what a Fault means."""
    from connectors.medical.statuses import ERROR_CODES, RECEIPT_ERRORS

    xsd = (REPO / "schemas/medical/medical.xsd").read_text(encoding="utf-8")
    fault = xsd[xsd.index('name="MedicalFault"'):]
    readme = (REPO / "connectors/medical/README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Error codes"):]
    for code in set(ERROR_CODES) - RECEIPT_ERRORS:
        if not code.startswith("E_BATCH_"):
            assert code in fault[:fault.index("</xs:documentation>")], code
            assert code in table, code


class _Maintenance(PageAdapter):
    """A maintenance page whose Retry-After is an HTTP date (RFC 9110 allows it as well as seconds)."""

    def __init__(self, retry_after: str) -> None:
        super().__init__(503, "text/html; charset=utf-8", HTML_PAGE)
        self.retry_after = retry_after

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        resp = super().send(request)
        resp.headers["Retry-After"] = self.retry_after
        return resp


@pytest.mark.parametrize(("retry_after", "seconds"), [("7200", 7200.0), ("in two hours", None)])
def test_the_bureaus_retry_after_is_honoured_as_seconds_or_as_an_http_date(retry_after: str,
                                                                          seconds: float | None) -> None:
    """A date was dropped (only digits were read), so a maintenance window announced by date was retried on the
    hub's own back-off and a night's window dead-lettered the deliveries (20 attempts are about four hours),
    where the REST departments' wait for it."""
    client = make_zeep_client(str(REPO / "schemas/medical/medical.wsdl"))
    client.transport.session.mount(STUB, _Maintenance(retry_after))
    with pytest.raises(RetriableError) as caught:
        MedicalConnector(client, address=STUB + SOAP_PATH).poll(["LB-1"])
    assert caught.value.retry_after == seconds
    until = datetime.now(UTC) + timedelta(hours=2)
    client.transport.session.mount(STUB, _Maintenance(format_datetime(until, usegmt=True)))
    with pytest.raises(RetriableError) as caught:
        MedicalConnector(client, address=STUB + SOAP_PATH).poll(["LB-1"])
    assert caught.value.retry_after is not None and 7100 < caught.value.retry_after <= 7200
