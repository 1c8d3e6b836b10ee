"""A SOAP Fault refuses only when the bureau signed it: a Fault on an HTTP 500 was never checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from connectors.medical.connector import SOAP_PATH, MedicalConnector
from lianban.crypto.suites import get_suite
from lianban.errors import RejectedError, RetriableError
from lianban.keys import keysets
from lianban.keys.names import names_for
from lianban.keys.provision import ensure_keys
from lianban.wire.gateway import body_sm3
from lianban.wire.settings import TransportSettings
from lianban.wire.signatures import HEADER, AnswerCheck, sign
from lianban.wire.transport import make_zeep_client
from simulators.medical import SoapFault, fault_bytes

REPO = Path(__file__).resolve().parents[3]
STUB = "http://stub.invalid"


class FaultAdapter(requests.adapters.BaseAdapter):
    """Answers every request with HTTP `status` (500) and the SOAP Fault `body`, signed by the bureau's key when
    `signer` is given (kid and private key): over the answer and the request it answers."""

    def __init__(self, body: bytes, status: int = 500, signer: tuple[str, bytes] | None = None) -> None:
        super().__init__()
        self.body, self.status, self.signer = body, status, signer

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.request = self.status, self.body, request.url or "", request
        resp.headers = CaseInsensitiveDict({"Content-Type": "text/xml; charset=utf-8"})
        if self.signer is not None:
            kid, private = self.signer
            resp.headers[HEADER] = sign(get_suite("SM"), kid, private, self.status, SOAP_PATH, self.body,
                                        body_sm3(request))
        return resp

    def close(self) -> None:
        pass


def _connector(keys_dir: Path, signed: bool, status: int = 500, body: bytes | None = None) -> MedicalConnector:
    body = fault_bytes(SoapFault("E_XML", detail="请求报文不是格式良好的XML")) if body is None else body
    signer = keysets.load(keys_dir, names_for("medical")[1]).active_private() if signed else None
    client = make_zeep_client(str(REPO / "schemas/medical/medical.wsdl"),
                              TransportSettings(response_check=AnswerCheck.load(keys_dir, "medical")))
    client.transport.session.mount(STUB, FaultAdapter(body, status, signer))
    return MedicalConnector(client, address=STUB + SOAP_PATH)


def test_an_unsigned_fault_refuses_nothing_and_is_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Whatever answered with an unsigned E_XML Fault (HTTP 500 was exempt from the signature check) had its
    word taken: a single item so refused was dead-lettered 不予受理 and the applicant told."""
    ensure_keys(tmp_path)
    with pytest.raises(RetriableError, match="没有医保局的应答签名") as caught:
        _connector(tmp_path, signed=False).poll(["LB-1"])
    assert not isinstance(caught.value, RejectedError)
    assert "告警 ALERT" in caplog.text


def test_a_signed_fault_still_refuses(tmp_path: Path) -> None:
    ensure_keys(tmp_path)
    with pytest.raises(RejectedError) as caught:
        _connector(tmp_path, signed=True).poll(["LB-1"])
    assert caught.value.code == "E_XML"
    assert caught.value.of_request  # names the request's form: a call of one item does not show it at fault


def test_a_signed_fault_about_the_data_names_no_form(tmp_path: Path) -> None:
    ensure_keys(tmp_path)
    body = fault_bytes(SoapFault("E_DATA", detail="业务数据校验不通过"))
    with pytest.raises(RejectedError) as caught:
        _connector(tmp_path, signed=True, body=body).poll(["LB-1"])
    assert caught.value.code == "E_DATA" and not caught.value.of_request


def test_a_gateways_unsigned_413_still_splits_the_batch(tmp_path: Path) -> None:
    """A refusal without a code refuses nothing for good: deliver splits the batch (not a retry of it whole)."""
    from lianban.wire.contract import SealedItem

    ensure_keys(tmp_path)
    batch = [SealedItem(f"LB-{n}", f"BZ2025{n:06d}", "11", {"v": 2}) for n in range(2)]
    with pytest.raises(RejectedError, match="HTTP 413") as caught:
        _connector(tmp_path, signed=False, status=413, body=b"").submit(batch, {"v": 2})
    assert caught.value.code == ""
