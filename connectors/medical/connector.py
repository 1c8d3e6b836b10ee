"""医疗保障局 connector: sealed deliveries for items 11 and 12 over SOAP 1.1 (``schemas/medical/medical.wsdl``).

:class:`MedicalConnector` satisfies :class:`lianban.wire.contract.DepartmentConnector`. It receives a zeep
client built by :func:`lianban.wire.transport.make_zeep_client` (timeouts, hardened XML) and signs every call
with a WS-Security UsernameToken (PasswordDigest) plus a fresh wsu:Timestamp.

Failures become the lianban error tree through tables, never an if/elif ladder::

    requests Timeout / ConnectionError, HTTP 5xx/408/429      → RetriableError
    an answer over the transport's size limit, or broken off  → RetriableError
    TLS verification failure, HTTP 401/403/404, missing WSDL  → ConfigError (fix connection dept_medical)
    HTTP 413 (a gateway's body limit)                         → RejectedError without a code (split)
    SOAP Fault: detail MedicalFault/errorCode → statuses.ERROR_CODES action
                (E_AUTH/E_EXPIRED → ConfigError, E_XML/E_DTD → RejectedError naming the request's form
                (``of_request``), E_SERVER → RetriableError);
                no known code: faultcode Client → RejectedError, Server → RetriableError;
                a refusal in a Fault the bureau did not sign (an HTTP 500 a gateway wrote) → RetriableError, alerted
    a reply that is not XML                                   → RetriableError (a gateway's error page)
    an answer other than 200, or HTML, that is no SOAP Fault  → as its HTTP status (a gateway's page: a DOCTYPE,
                                                                XML of its own)
    a SubmitBatch/SubmitSupplement answer naming another
    batchId than the one sent (an earlier answer replayed)    → RetriableError, alerted (not taken)
    a reply that breaks the contract or carries a DTD         → FatalError

Messages are Chinese first, name the connection and end with what to do (:data:`HINTS`, by cause: a wrong
port is told to check host/port, a refused login to check login/password); they never carry the password
or personal data. The WSDL is fetched on the first call, not when the connector is built, so a bureau that
is down at start-up is an outage like any other (RetriableError, retried later).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import requests
import zeep
from lxml import etree
from zeep import exceptions as zx
from zeep.wsse.signature import MemorySignature
from zeep.wsse.username import UsernameToken
from zeep.wsse.utils import WSU, get_security_header, get_timestamp

from connectors._rest import retry_after_seconds, sealed_batch_id
from connectors.medical import replies, writers
from connectors.medical.statuses import ERROR_CODES, REQUEST_ERRORS, STATUSES, UNOPENED_ERRORS, Action
from lianban.domain.batches import chunks
from lianban.domain.statuses import Status
from lianban.domain.supplements import UnknownMaterial, read_materials
from lianban.errors import ConfigError, FatalError, LianbanError, RejectedError, RetriableError
from lianban.wire.contract import (
    HealthReport,
    Polled,
    Receipt,
    SealedItem,
    StatusUpdate,
    SupplementItem,
    UnknownStatusCode,
    known_status,
    read_changed_at,
    read_polled,
    shown_status_code,
)
from lianban.wire.settings import DepartmentSettings
from lianban.wire.signatures import UNSIGNED
from lianban.wire.transport import ResponseTooLarge, make_zeep_client

__all__ = ["MedicalConnector", "RequestSignature", "TimestampedUsernameToken", "translate_error", "x509_signature"]

DEPARTMENT = "medical"
WHO = "医疗保障局（连接 dept_medical）"
CONNECTION = "connection dept_medical"
TNS = "http://ybj.bozhou.gov.cn/lianban/medical/v1"
BINDING = f"{{{TNS}}}MedicalSoapBinding"
SOAP_PATH = "/soap/medical"
MAX_PER_CALL = 1000  # maxOccurs of item / idempotencyKey in medical.xsd
TIMESTAMP_TTL = timedelta(minutes=5)
alerts = logging.getLogger("lianban.alerts")


class TimestampedUsernameToken(UsernameToken):
    """UsernameToken that adds a fresh wsu:Timestamp (Created, Expires) to every request it signs."""

    def apply(self, envelope: Any, headers: Any) -> tuple[Any, Any]:
        envelope, headers = super().apply(envelope, headers)
        now = datetime.now(UTC)
        stamp = WSU.Timestamp(WSU.Created(get_timestamp(now, zulu_timestamp=True)),
                              WSU.Expires(get_timestamp(now + TIMESTAMP_TTL, zulu_timestamp=True)))
        get_security_header(envelope).append(stamp)
        return envelope, headers


class RequestSignature(MemorySignature):
    """WS-Security X.509 signature over Body and Timestamp with RSA-SHA256 / SHA-256 (not zeep's SHA-1).

    Only requests are signed this way; the bureau's answers are verified by lianban's response signature
    (lianban.wire.signatures), so zeep's own reply check, which expects our own certificate, is off."""

    def verify(self, envelope: Any) -> Any:
        return envelope


class WsseChain:
    """Apply several WS-Security parts in order (UsernameToken, then the signature over it all)."""

    def __init__(self, *parts: Any) -> None:
        self.parts = parts

    def apply(self, envelope: Any, headers: Any) -> tuple[Any, Any]:
        for part in self.parts:
            envelope, headers = part.apply(envelope, headers)
        return envelope, headers

    def verify(self, envelope: Any) -> Any:
        return envelope  # answers are checked by lianban's response signature


def x509_signature(cert_file: str, key_file: str) -> RequestSignature:
    """The request signer for connection dept_medical's ``extra.x509_cert`` / ``extra.x509_key``."""
    import xmlsec

    transforms: Any = xmlsec.Transform  # type: ignore[attr-defined]  # the stubs lack the constants
    return RequestSignature(Path(key_file).read_bytes(), Path(cert_file).read_bytes(),
                            signature_method=transforms.RSA_SHA256, digest_method=transforms.SHA256)


# -- error translation --------------------------------------------------------------------------------
#: what to do, by cause (中文 first): the sentence ends every error message
HINTS: dict[str, str] = {
    "login": f"请核对连接 {CONNECTION} 的 login/password、本机时钟与签名证书；重试无济于事 "
             f"(check login/password, the clock and the certificate of {CONNECTION})",
    "address": f"请核对连接 {CONNECTION} 的 host、port 与 extra.wsdl；重试无济于事 "
               f"(check host, port and extra.wsdl of {CONNECTION})",
    "tls": f"请核对连接 {CONNECTION} 的 extra.ca_bundle；切勿关闭证书校验 (check extra.ca_bundle of {CONNECTION})",
    "wsdl": f"请核对连接 {CONNECTION} 的 extra.wsdl 文件路径 (check extra.wsdl of {CONNECTION})",
    "retry": "暂时性故障，稍后自动重试 (a transient failure; retried later)",
    "reject": "医保局拒收该请求，请对照 schemas/medical/medical.xsd 检查 "
              "(the bureau refused the request; check it against medical.xsd)",
    "too_large": "请求超过网关的大小上限，分批重发 (the request is over the gateway's size limit: sent again in "
                 "smaller batches)",
    "fatal": "请停止运行并联系医保局联络员 (stop and contact the medical liaison 联络员)",
}

#: the cause a bureau error code's action points to
_ACTION_HINTS: dict[Action, str] = {Action.CONFIG: "login", Action.RETRY: "retry", Action.REJECT: "reject",
                                    Action.FATAL: "fatal"}

_RAISE: dict[Action, Callable[[str, str, str], LianbanError]] = {
    Action.CONFIG: lambda message, code, reason: ConfigError(message),
    Action.RETRY: lambda message, code, reason: RetriableError(message),
    Action.REJECT: lambda message, code, reason: RejectedError(message, code, reason,
                                                               of_request=code in REQUEST_ERRORS),
    Action.FATAL: lambda message, code, reason: FatalError(message),
}

#: HTTP status without a SOAP Fault → (action, cause); other 5xx retry, anything else is fatal.
_HTTP_ACTIONS: dict[int, tuple[Action, str]] = {
    401: (Action.CONFIG, "login"), 403: (Action.CONFIG, "login"), 404: (Action.CONFIG, "address"),
    **dict.fromkeys((301, 302, 303, 307, 308), (Action.CONFIG, "address")),  # not followed (lianban.wire.transport)
    408: (Action.RETRY, "retry"), 429: (Action.RETRY, "retry"),
    413: (Action.REJECT, "too_large"),  # no code: deliver splits the batch; a single item so refused backs off
}

#: SOAP 1.1 faultcode (local part, before any dot) → action when the detail carries no known code.
_FAULT_SIDES: dict[str, Action] = {"Client": Action.REJECT, "Server": Action.RETRY}


def _error(action: Action, what: str, code: str = "", reason: str = "", cause: str | None = None) -> LianbanError:
    return _RAISE[action](f"{WHO}{what}：{HINTS[cause or _ACTION_HINTS[action]]}", code, reason)


def _http_action(status_code: int) -> tuple[Action, str]:
    """A 2xx without a SOAP reply is a body that is not XML (a gateway page): retry like a 5xx."""
    retry = status_code >= 500 or status_code < 300
    return _HTTP_ACTIONS.get(status_code, (Action.RETRY, "retry") if retry else (Action.FATAL, "fatal"))


def _from_fault(fault: zx.Fault) -> LianbanError:
    detail = fault.detail if isinstance(fault.detail, etree._Element) else None
    code = detail.findtext(f".//{{{TNS}}}errorCode") if detail is not None else None
    known = ERROR_CODES.get(code or "")
    if known is not None:
        return _error(known.action, f"返回 SOAP Fault {code}（{known.meaning}）", code or "",
                      fault.message or known.meaning)
    side = str(fault.code or "").rpartition(":")[2].partition(".")[0]
    action = _FAULT_SIDES.get(side, Action.FATAL)
    return _error(action, f"返回 SOAP Fault {side or '?'}", side, fault.message or "")


def _from_transport(exc: zx.TransportError) -> LianbanError:
    action, cause = _http_action(exc.status_code)
    return _error(action, f"返回 HTTP {exc.status_code}，没有 SOAP 应答", cause=cause)


def _from_http_error(exc: requests.HTTPError) -> LianbanError:
    status = exc.response.status_code if exc.response is not None else 0
    action, cause = _http_action(status)
    return _error(action, f"获取 WSDL 时返回 HTTP {status}", cause=cause)


def _fixed(action: Action, what: str, cause: str | None = None) -> Callable[[BaseException], LianbanError]:
    return lambda exc: _error(action, f"{what}（{type(exc).__name__}）", cause=cause)


#: exception → translation, first match wins (subclasses before their bases).
_Kinds = type[BaseException] | tuple[type[BaseException], ...]
_TRANSLATIONS: tuple[tuple[_Kinds, Callable[[Any], LianbanError]], ...] = (
    (zx.Fault, _from_fault),
    (zx.TransportError, _from_transport),
    ((zx.DTDForbidden, zx.EntitiesForbidden, zx.ExternalReferenceForbidden),
     _fixed(Action.FATAL, "的应答含有 DTD、实体或外部引用，未予解析")),
    (zx.XMLSyntaxError, _fixed(Action.RETRY, "的应答不是 XML（可能是网关页面）")),
    (zx.Error, _fixed(Action.FATAL, "的应答不符合 medical.wsdl 约定")),
    (requests.exceptions.SSLError, _fixed(Action.CONFIG, "TLS 证书校验失败", "tls")),
    (requests.HTTPError, _from_http_error),
    (requests.Timeout, _fixed(Action.RETRY, "未在时限内应答 (did not answer in time)")),
    (requests.ConnectionError, _fixed(Action.RETRY, "无法连接 (cannot be reached)")),
    (ResponseTooLarge, _fixed(Action.RETRY, "的应答超过大小上限，未读取 (the answer is over the size limit)")),
    ((requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError),
     _fixed(Action.RETRY, "的应答中途断开或无法解码 (the answer broke off or could not be decoded)")),
    (requests.RequestException, _fixed(Action.CONFIG, "无法调用", "address")),
    (OSError, _fixed(Action.CONFIG, "的 WSDL 无法读取", "wsdl")),
)


#: what zeep raises for a body it would not read as SOAP at all (a DOCTYPE, an entity)
_NOT_SOAP = (zx.DTDForbidden, zx.EntitiesForbidden, zx.ExternalReferenceForbidden)


def translate_error(exc: BaseException) -> LianbanError:
    """The lianban error for a transport or SOAP failure (FatalError when nothing in the table matches)."""
    for kinds, translate in _TRANSLATIONS:
        if isinstance(exc, kinds):
            return translate(exc)
    return _error(Action.FATAL, f"调用意外失败（{type(exc).__name__}）")


# -- wire mapping ----------------------------------------------------------------------------------------
def json_text(value: Mapping[str, Any]) -> str:
    """An envelope or a seal as the JSON text it travels as: compact, non-ASCII as it is (msgspec: the text
    ``json.dumps`` wrote, in a tenth of its time: 0.5 against 5.1 µs an item; they hold text and integers)."""
    return msgspec.json.encode(value).decode()


def _status(code: str) -> Status:
    status = STATUSES.get(code)
    if status is None:
        raise UnknownStatusCode(f"{WHO}返回的办理状态码 {shown_status_code(code)!r} 不在 "
                                f"connectors/medical/statuses.py 中：{HINTS['fatal']}")
    return status


def wire_item(delivery: SealedItem) -> dict[str, str]:
    """One SealedItem as a medical.xsd ``DeliveryItem`` (the envelope travels as JSON text)."""
    return {
        "idempotencyKey": delivery.idempotency_key,
        "caseNo": delivery.case_no,
        "itemCode": delivery.item_code,
        "envelope": json_text(delivery.envelope),
    }


def receipt_from(wire: Any) -> Receipt:
    """A medical.xsd ``Receipt`` as a lianban Receipt; a refusal's reason falls back to the code's meaning."""
    code = str(wire.code)
    accepted = bool(wire.accepted)
    return Receipt(
        idempotency_key=str(wire.idempotencyKey), accepted=accepted, duplicate=bool(wire.duplicate),
        department_ref=wire.ref, status=known_status(_status, code) if accepted else None, department_code=code,
        reason=wire.reason or _refusal_meaning(code, accepted), unopened=not accepted and code in UNOPENED_ERRORS,
    )


def _refusal_meaning(code: str, accepted: bool) -> str | None:
    """A refusal's reason when the bureau sent none: its error code's meaning (None when accepted)."""
    if accepted:
        return None
    known = ERROR_CODES.get(code)
    return known.meaning if known else f"医保局错误码 {code}"


def _materials(wire: Any) -> tuple[str, ...]:
    try:
        return read_materials([str(m) for m in getattr(wire, "material", None) or ()])
    except UnknownMaterial as exc:
        raise FatalError(f"{WHO}返回的{exc}；该条状态记录已搁置，请与医保局联络员核对材料编码 "
                         f"(the row is set aside: check the material code with the medical liaison)") from None


def update_from(wire: Any) -> StatusUpdate:
    """A medical.xsd ``CaseStatus`` as a lianban StatusUpdate (``changed_at`` in ISO-8601 within
    :data:`~lianban.wire.contract.CHANGED_AT_YEARS`; ``materials`` the codes a 补正资料 names, each checked
    against the catalog)."""
    changed = wire.changedAt
    return StatusUpdate(
        idempotency_key=str(wire.idempotencyKey), status=_status(str(wire.code)), department_code=str(wire.code),
        changed_at=read_changed_at(changed.isoformat() if isinstance(changed, datetime) else str(changed)),
        reason=wire.reason,
        result=_result(wire),
        materials=_materials(wire),
    )


def _result(wire: Any) -> dict[str, str] | None:
    """A ``Result`` (entries named by attribute; zeep keeps simple content as ``_value_1``) as a mapping."""
    entries = getattr(getattr(wire, "result", None), "entry", None) or []
    return {str(e.name): str(e._value_1) for e in entries} or None


def wire_supplement(item: SupplementItem) -> dict[str, str]:
    """One SupplementItem as a medical.xsd ``SupplementItem`` (the envelope travels as JSON text)."""
    return {"idempotencyKey": item.idempotency_key, "supplementId": item.supplement_id, "caseNo": item.case_no,
            "itemCode": item.item_code,
            "envelope": json_text(item.envelope)}


def supplement_receipt_from(wire: Any) -> Receipt:
    """A medical.xsd ``SupplementReceipt`` as a lianban Receipt keyed by the supplement id (an accepted one whose
    code the table lacks taken without a status, as :func:`receipt_from` takes a delivery's)."""
    code, accepted = str(wire.code), bool(wire.accepted)
    return Receipt(idempotency_key=str(wire.supplementId), accepted=accepted, duplicate=bool(wire.duplicate),
                   status=known_status(_status, code) if accepted else None, department_code=code,
                   reason=wire.reason or _refusal_meaning(code, accepted))


def _answering(reply: Any, sent: str) -> Any:
    """`reply` when its batchId (signed with the rest of the answer) is `sent`'s: an answer to another batch (an
    earlier sending's answer replayed) is not taken: RetriableError, alerted, the batch sent again later."""
    if getattr(reply, "batchId", None) == sent:
        return reply
    alerts.error("告警 ALERT: %s的应答所答批次不是所发批次 %s，不予采信", WHO, sent)
    raise RetriableError(f"{WHO}的应答所答批次不是所发批次 {sent}（疑似重放的旧应答），不予采信：{HINTS['retry']} "
                         f"(the answer names another batch than {sent}: not taken)")


def _listed(reply: Any, name: str) -> list[Any]:
    """zeep unwraps a response with a single child element; accept both shapes."""
    if reply is None:
        return []
    if isinstance(reply, list):
        return reply
    return list(getattr(reply, name, None) or [])


# -- the connector ---------------------------------------------------------------------------------------
class MedicalConnector:
    """医疗保障局 over SOAP: submit → SubmitBatch, supplement → SubmitSupplement, poll → QueryStatus,
    health → Ping."""

    department = DEPARTMENT
    statuses = STATUSES

    def __init__(self, client: zeep.Client | Callable[[], zeep.Client], address: str | None = None) -> None:
        """`client` is a zeep client, or what builds one on the first call (so an unreachable WSDL at start is
        an outage like any other, retried later); `address` overrides the WSDL's soap:address when given."""
        self._make = (lambda: client) if isinstance(client, zeep.Client) else client
        self._address = address
        self._bound: Any = None
        self._retry_after: float | None = None
        self._unsigned = False  # the last answer came without the bureau's signature (a gateway's, say)
        self._page_status: int | None = None  # the last answer's HTTP status when it may be a gateway's page

    def _service(self) -> Any:
        if self._bound is None:
            client = self._make()
            client.transport.session.hooks["response"].append(self._note_retry_after)
            self._bound = client.create_service(BINDING, self._address) if self._address else client.service
            replies.install(self._bound._binding)
            writers.install(self._bound._binding)
            self._address = self._address or self._bound._binding_options.get("address", "?")
        return self._bound

    def _note_retry_after(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """zeep's TransportError drops headers: remember the bureau's Retry-After (seconds or an HTTP date) from the
        raw response."""
        self._retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        self._unsigned = bool(getattr(response, UNSIGNED, False))
        html = response.headers.get("Content-Type", "").lower().startswith("text/html")
        self._page_status = response.status_code if html or response.status_code != 200 else None

    @classmethod
    def from_settings(cls, settings: DepartmentSettings) -> MedicalConnector:
        """Build from connection dept_medical: WSDL from ``extra.wsdl`` or ``<base_url>/soap/medical?wsdl``,
        fetched on the first call (nothing goes over the network here)."""
        if not settings.login or not settings.password:
            raise ConfigError(f"{CONNECTION} 缺少 login 或 password（WS-Security UsernameToken 必需）"
                              f"({CONNECTION}: 'login' and 'password' are required)")
        address = settings.base_url.rstrip("/") + SOAP_PATH
        token = TimestampedUsernameToken(settings.login, settings.password, use_digest=True)
        wsse: Any = WsseChain(token, x509_signature(*settings.x509)) if settings.x509 else token
        wsdl = settings.wsdl or f"{address}?wsdl"
        return cls(lambda: make_zeep_client(wsdl, settings.transport, wsse=wsse), address=address)

    def submit(self, batch: Sequence[SealedItem], seal: Mapping[str, Any]) -> list[Receipt]:
        """The bureau's receipts (one per delivery it answered for); resubmitting is safe (duplicate=True).
        The sealed batch travels whole in one call: its seal covers exactly these items."""
        reply = self._send_sealed("SubmitBatch", seal, [wire_item(d) for d in batch])
        return [receipt_from(r) for r in _listed(reply, "receipt")]

    def supplement(self, batch: Sequence[SupplementItem], seal: Mapping[str, Any]) -> list[Receipt]:
        """The bureau's receipts for one sealed batch of 补正 submissions, keyed by supplement id; resubmitting
        is safe (duplicate=True)."""
        reply = self._send_sealed("SubmitSupplement", seal, [wire_supplement(s) for s in batch])
        return [supplement_receipt_from(r) for r in _listed(reply, "receipt")]

    def _send_sealed(self, operation: str, seal: Mapping[str, Any], items: list[dict[str, str]]) -> Any:
        """One sealed batch in one call (its seal covers exactly these items), within medical.xsd's bound; its
        batchId is the seal's own (:func:`~connectors._rest.sealed_batch_id`), which the bureau compares. The
        signed answer must name that batch (:func:`_answering`)."""
        if len(items) > MAX_PER_CALL:
            raise ConfigError(f"{CONNECTION}: a batch of {len(items)} exceeds medical.xsd's {MAX_PER_CALL}; "
                              f"lower extra.batch_size")
        seal_text = json_text(dict(seal))
        sent = sealed_batch_id(seal)
        return _answering(self._call(operation, batchId=sent, seal=seal_text, item=items), sent)

    def poll(self, keys: Sequence[str]) -> list[Polled]:
        """Current status of each key the bureau knows (unknown keys are left out); a ``CaseStatus`` that cannot
        be read (an unknown status or material code, a time outside the plausible years) is set aside in its
        place (:func:`~lianban.wire.contract.read_polled`)."""
        updates: list[Polled] = []
        for chunk in chunks(keys, MAX_PER_CALL):
            reply = self._call("QueryStatus", idempotencyKey=list(chunk))
            updates.extend(read_polled(update_from, s) for s in _listed(reply, "status"))
        return updates

    def health(self) -> HealthReport:
        """Ping with credentials: ok, or why not (unreachable, login refused, contract broken)."""
        try:
            answer = self._call("Ping")
        except LianbanError as exc:
            return HealthReport(False, f"{self._address or CONNECTION}: {exc}")
        status = answer if isinstance(answer, str) else getattr(answer, "status", None)
        return HealthReport(status == "ok", f"{WHO}（{self._address}）对 Ping 的应答为 {status!r} "
                                            f"(answered Ping with {status!r})")

    def _call(self, operation: str, **kwargs: Any) -> Any:
        self._retry_after, self._unsigned, self._page_status = None, False, None
        try:
            return self._service()[operation](**kwargs)
        except (requests.RequestException, zx.Error, OSError) as exc:
            error = self._trusted(translate_error(self._as_page(exc)))
            if isinstance(error, RetriableError):
                error.retry_after = self._retry_after
            raise error from None

    def _as_page(self, exc: BaseException) -> BaseException:
        """A gateway's page in place of a SOAP reply (an answer other than 200, or HTML: a DOCTYPE, or XML that is
        no Fault) as the HTTP status it came with, which is acted on as an empty answer is: it is not the bureau
        breaking medical.wsdl, and its text is never quoted."""
        page = isinstance(exc, _NOT_SOAP) or (isinstance(exc, zx.Fault) and exc.code is None)
        if page and self._page_status is not None:
            return zx.TransportError("", status_code=self._page_status)
        return exc

    def _trusted(self, error: LianbanError) -> LianbanError:
        """A refusal read from an answer without the bureau's signature (a Fault on an HTTP 500 nobody signed) is
        not the bureau's word: nothing is refused on it, the call is retried, alerted."""
        if not (isinstance(error, RejectedError) and error.code and self._unsigned):
            return error  # a refusal without a code (a gateway's 413) refuses nothing for good: split
        alerts.error("告警 ALERT: %s返回的拒收应答（%s）没有医保局签名，不予采信", WHO, error.code)
        return RetriableError(f"{WHO}返回的拒收应答（{error.code}）没有医保局的应答签名，不予采信：{HINTS['retry']}")
