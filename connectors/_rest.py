"""The REST gateway dialect that health, housing_fund and 皖事通办 speak: signed JSON over HTTP(S).

A department answers ``POST /api/v1/cases:batch`` (deliveries), ``:status`` (polls; a 补正资料 row names the
materials asked for by catalog code, ``materials``) and ``:supplement`` (补正 submissions, sealed like a batch).

    GatewayClient             one base URL + an injected ``requests.Session``; ``call`` returns the JSON
                              answer or raises through the failure → action tables below
    RestDepartmentConnector   the shared :class:`~lianban.wire.contract.DepartmentConnector`; a department package
                              subclasses it with declarations only: ``department``, ``statuses``, ``errors``

Failure → action (first matching row wins)::

    TLS failure, malformed URL          ConfigError      fix the connection, do not retry
    timeout, refused/reset connection   RetriableError
    an answer over the size limit       RetriableError   said as such (not as a network failure); not read
    HTTP 429                            RetriableError   retry_after from Retry-After
    HTTP 408 / 425                      RetriableError   the gateway timed out or is not ready: nobody looked at it
    HTTP 401 / 403                      ConfigError      names dept_<name>: check app id (login) / secret
    HTTP 404 / 405                      ConfigError      wrong address (no such endpoint): check host, port, schema
    HTTP 5xx                            RetriableError
    other HTTP 4xx                      RejectedError    the department's code and Chinese reason (no code
                                                         when unsigned, a gateway's 413: not its word); a
                                                         gateway code (BAD_JSON, INVALID_REQUEST, TOO_LARGE)
                                                         names the request's form (``of_request``)
    an answer to a sealed batch naming  RetriableError   alerted, not taken (an earlier answer replayed)
    another batch_id than the one sent
    answer is not the agreed JSON       RetriableError   also a ref or code longer than the ledger keeps
                                                         (a 4xx's code too), a receipt's accepted or
                                                         duplicate not true/false, its reason not text:
                                                         retried, then dead-lettered
    a status row that cannot be read    set aside        an unknown status code (the reason names the
                                                         statuses.py to fix), an unknown material code, a
                                                         ``result`` that is no object, a ``reason`` that is
                                                         no text, a ``changed_at`` not
                                                         ISO 8601 (2000–2100): that row only
                                                         (UnreadableStatus), asked again next run; the rest
                                                         applied
    an accepted receipt's unknown code  taken            accepted without a status: the poll brings it

The wire format of the department API is in ``schemas/<department>/openapi.yaml``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Self

import msgspec
import requests

from lianban.domain.batches import chunks
from lianban.domain.identity import said
from lianban.domain.statuses import Status
from lianban.domain.supplements import UnknownMaterial, read_materials
from lianban.errors import ConfigError, FatalError, LianbanError, RejectedError, RetriableError
from lianban.wire.contract import (
    MAX_CODE_LENGTH,
    MAX_REF_LENGTH,
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
from lianban.wire.gateway import GATEWAY_ERRORS, GatewayAuth
from lianban.wire.settings import DEFAULT_BATCH_SIZE, DepartmentSettings
from lianban.wire.signatures import UNSIGNED
from lianban.wire.transport import ResponseTooLarge, make_session

__all__ = ["GatewayClient", "RestDepartmentConnector", "encode", "gateway_session"]

POLL_KEYS_PER_REQUEST = 1000
alerts = logging.getLogger("lianban.alerts")
DEFAULT_PAGE_SIZE = 500  # the most a department answers per page: each page is one signed answer


@dataclass(frozen=True)
class Failure:
    """What came back from a failed call, for the action table to turn into an error."""

    connection: str
    http_status: int
    code: str  # the department's own error code ("" when it sent none)
    message: str  # its Chinese message (masked and bounded: identity.said), or the meaning from its error table
    retry_after: float | None


def _throttled(f: Failure) -> LianbanError:
    wait = f"{f.retry_after:g}秒后" if f.retry_after is not None else "稍后"
    return RetriableError(f"{f.connection}: 对方限流（HTTP 429），{wait}重试", retry_after=f.retry_after)


def _not_ready(f: Failure) -> LianbanError:
    wait = f"{f.retry_after:g}秒后" if f.retry_after is not None else "稍后"
    return RetriableError(f"{f.connection}: 对方网关超时或暂未就绪（HTTP {f.http_status}），未处理该请求，{wait}重试",
                          retry_after=f.retry_after)


def _wrong_address(f: Failure) -> LianbanError:
    return ConfigError(f"{f.connection}: 对方没有该接口（HTTP {f.http_status}）；请检查连接 {f.connection} 的 "
                       f"host、port、schema；重试无济于事")


def _redirected(f: Failure) -> LianbanError:
    return ConfigError(f"{f.connection}: 对方把请求重定向到别处（HTTP {f.http_status}），枢纽不把封装的数据和签名发往"
                       f"约定以外的地址；请与对方核对连接 {f.connection} 的 host、port、schema")


def _unauthorized(f: Failure) -> LianbanError:
    return ConfigError(f"{f.connection}: 网关认证失败（HTTP {f.http_status}，{f.message or '无说明'}）；"
                       f"请检查连接 {f.connection} 的 app id（login）与 secret（password）")


def _server_error(f: Failure) -> LianbanError:
    return RetriableError(f"{f.connection}: 对方服务异常（HTTP {f.http_status}），稍后重试")


def _rejected(f: Failure) -> LianbanError:
    if len(f.code) > MAX_CODE_LENGTH:
        return malformed(f.connection, ValueError(f"code longer than {MAX_CODE_LENGTH} characters"))
    reason = f.message or f"HTTP {f.http_status}"
    return RejectedError(f"{f.connection}: 请求被拒绝（HTTP {f.http_status}，{f.code or '-'}：{reason}）",
                         code=f.code, reason=reason, of_request=f.code in GATEWAY_ERRORS)


#: HTTP status → action; first matching range wins.
HTTP_ACTIONS: tuple[tuple[range, Callable[[Failure], LianbanError]], ...] = (
    (range(429, 430), _throttled),
    (range(408, 409), _not_ready),
    (range(425, 426), _not_ready),
    (range(401, 402), _unauthorized),
    (range(403, 404), _unauthorized),
    (range(404, 406), _wrong_address),
    (range(300, 400), _redirected),
    (range(500, 600), _server_error),
    (range(400, 500), _rejected),
)

#: transport exception → (error class, what happened and what to do); first matching row wins.
EXCEPTION_ACTIONS: tuple[tuple[tuple[type[Exception], ...], type[LianbanError], str], ...] = (
    ((requests.exceptions.SSLError,), ConfigError, "TLS 握手失败，请检查 CA 证书与客户端证书配置"),
    ((requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema),
     ConfigError, "地址无效，请检查连接的 host、port、schema"),
    ((requests.Timeout,), RetriableError, "请求超时，稍后重试"),
    ((ResponseTooLarge,), RetriableError, "应答超过大小上限，未读取，稍后重试；请与部门核对该接口的应答（如每页条数）"),
    ((requests.ConnectionError,), RetriableError, "无法连接（连接被拒绝或中断），稍后重试"),
    ((requests.RequestException,), RetriableError, "网络请求失败，稍后重试"),
)


JSON_HEADERS = {"Content-Type": "application/json"}


def encode(payload: Any) -> bytes:
    """A request body as :meth:`GatewayClient.call` sends it: JSON in UTF-8."""
    return msgspec.json.encode(payload)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isascii() and value.strip().isdigit():  # "²" is a digit to isdigit, and no number to float
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def gateway_session(settings: DepartmentSettings) -> requests.Session:
    """A :func:`~lianban.wire.transport.make_session` session that signs every request with the app id/secret."""
    if not settings.login or not settings.password:
        raise ConfigError(f"connection dept_{settings.department}: login (app id) and password (secret) "
                          f"are required to sign gateway requests")
    session = make_session(settings.transport)
    session.auth = GatewayAuth(settings.login, settings.password)
    return session


class GatewayClient:
    """Calls one gateway; every failure leaves as the lianban error tree (see the module table)."""

    def __init__(self, base_url: str, session: requests.Session, connection: str,
                 errors: Mapping[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.connection = connection
        self.errors = dict(errors or {})

    def call(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        """Send one request (its body JSON in UTF-8, by msgspec: a 500-event push encoded in a tenth of the time
        ``json.dumps`` took to escape every Chinese character; bodies carry text and integers, and msgspec would
        write a float NaN as null where ``json.dumps`` refused it); the decoded JSON object on 2xx, otherwise
        raise per the action tables."""
        return self.send(method, path, None if payload is None else encode(payload))

    def send(self, method: str, path: str, body: bytes | None) -> dict[str, Any]:
        """:meth:`call` with the JSON body already encoded (:func:`encode`), for a caller that sizes it first."""
        return self._json(self._answered(method, path, body))

    def reach(self, path: str) -> None:
        """GET `path` (a liveness check): any 2xx will do, whatever its body (a department's document agrees
        none); a failure raises per the action tables."""
        self._answered("GET", path, None)

    def _answered(self, method: str, path: str, body: bytes | None) -> requests.Response:
        try:
            resp = self.session.request(method, self.base_url + path, data=body,
                                        headers=None if body is None else JSON_HEADERS)
        except requests.RequestException as exc:
            raise self._transport_error(exc) from None
        if resp.status_code >= 300:  # a redirect is not followed (lianban.wire.transport): said as such
            raise self._http_error(resp)
        return resp

    def _transport_error(self, exc: requests.RequestException) -> LianbanError:
        for types, error, text in EXCEPTION_ACTIONS:
            if isinstance(exc, types):
                return error(f"{self.connection}: {text}（{type(exc).__name__}）")
        return RetriableError(f"{self.connection}: 网络请求失败（{type(exc).__name__}），稍后重试")

    def _http_error(self, resp: requests.Response) -> LianbanError:
        failure = self._failure(resp)
        for statuses, action in HTTP_ACTIONS:
            if resp.status_code in statuses:
                return action(failure)
        return FatalError(f"{self.connection}: 未预期的应答（HTTP {resp.status_code}）")

    def _failure(self, resp: requests.Response) -> Failure:
        try:
            body = resp.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code = "" if getattr(resp, UNSIGNED, False) else str(body.get("code") or "")  # not the party's word
        message = said(str(body.get("message") or self.errors.get(code, "")))  # may quote the applicant
        return Failure(self.connection, resp.status_code, code, message,
                       retry_after_seconds(resp.headers.get("Retry-After")))

    def _json(self, resp: requests.Response) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise RetriableError(
                f"{self.connection}: 应答不是约定的 JSON 对象（HTTP {resp.status_code}），稍后重试")
        return body


def _result(raw: Any) -> dict[str, str] | None:
    """A status row's ``result`` object as text values; absent or empty → None (not the agreed shape → TypeError,
    which the caller reports as a malformed answer)."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise TypeError("result is not an object")
    return {str(k): str(v) for k, v in raw.items()}


def bounded(value: Any, limit: int, name: str) -> str | None:
    """A receipt's `value` as text (None kept); longer than `limit`, what the ledger keeps of it → ValueError,
    which the caller reports as a malformed answer (the schemas' maxLength)."""
    if value is None:
        return None
    text = str(value)
    if len(text) > limit:
        raise ValueError(f"{name} longer than {limit} characters")
    return text


def flag(value: Any, name: str, default: bool | None = None) -> bool:
    """A receipt's boolean `value` (`default` when absent and one is given); anything else → TypeError, which the
    caller reports as a malformed answer (``"false"`` is no refusal to read as true)."""
    if value is None and default is not None:
        return default
    if not isinstance(value, bool):
        raise TypeError(f"{name} is not a boolean")
    return value


def text(value: Any, name: str) -> str | None:
    """A receipt's or a status row's free text (None kept); anything but text → TypeError: a malformed answer, or
    that status row set aside."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} is not text")
    return value


def sealed_batch_id(seal: Mapping[str, Any]) -> str:
    """The batch id a sealed batch's request names besides its seal: the seal's own (signed, new at every sealing),
    so that the request carries one batch id, which the department compares with the seal's."""
    return str(seal.get("batch_id", ""))


def malformed(connection: str, exc: Exception) -> RetriableError:
    """The answer was JSON but not the agreed shape."""
    return RetriableError(f"{connection}: 应答格式不符合接口规范（{type(exc).__name__}: {exc}），稍后重试")


class RestDepartmentConnector:
    """A department reached through the REST gateway dialect (``POST /api/v1/cases:batch`` and ``:status``).

    Subclasses declare ``department`` (key in ``schemas/catalog/departments.yaml``), ``statuses`` (the
    department's status code → unified :class:`~lianban.domain.statuses.Status`) and ``errors`` (its error code →
    Chinese meaning), and ``unopened_codes``: its codes refusing one item it could not open (decryption or
    integrity), never the applicant's fault (:attr:`~lianban.wire.contract.Receipt.unopened`). Submitting the same
    delivery twice is safe: the department dedupes by idempotency key.
    """

    department: str
    statuses: Mapping[str, Status]
    errors: Mapping[str, str]
    unopened_codes: frozenset[str] = frozenset()
    submit_path = "/api/v1/cases:batch"
    status_path = "/api/v1/cases:status"
    supplement_path = "/api/v1/cases:supplement"
    page_size = DEFAULT_PAGE_SIZE

    def __init__(self, base_url: str, session: requests.Session,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.connection = f"dept_{self.department}"
        self.client = GatewayClient(base_url, session, self.connection, self.errors)
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: DepartmentSettings) -> Self:
        """Build from the ``dept_<department>`` connection: login = app id, password = app secret."""
        return cls(settings.base_url, gateway_session(settings), settings.batch_size)

    # -- submit --------------------------------------------------------------------------------------
    def submit(self, batch: Sequence[SealedItem], seal: Mapping[str, Any]) -> list[Receipt]:
        """One receipt per delivery, in order; refusals are receipts with ``accepted=False``. The sealed
        batch travels whole (its seal covers exactly these items), so it is never split here."""
        chunk = batch
        body = {"batch_id": sealed_batch_id(seal), "seal": dict(seal), "items": [
            {"idempotency_key": d.idempotency_key, "case_no": d.case_no, "item_code": d.item_code,
             "envelope": d.envelope} for d in chunk]}
        answer = self._answering(self.client.call("POST", self.submit_path, body), sealed_batch_id(seal))
        try:
            by_key = {str(r["idempotency_key"]): r for r in answer["receipts"]}
            missing = sum(1 for d in chunk if d.idempotency_key not in by_key)
            if missing:
                raise RetriableError(
                    f"{self.connection}: 应答缺少 {missing} 条回执，稍后重试（重复提交是安全的）")
            return [self._receipt(by_key[d.idempotency_key]) for d in chunk]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed(self.connection, exc) from None

    def _answering(self, answer: dict[str, Any], sent: str) -> dict[str, Any]:
        """`answer` when it names (``batch_id``, signed with the rest of it) the batch `sent`: an answer to another
        batch (an earlier sending's answer replayed) is not taken: RetriableError, alerted, sent again later."""
        if answer.get("batch_id") == sent:
            return answer
        if "batch_id" not in answer:  # a department still on the contract before answers named their batch
            alerts.error("告警 ALERT: %s 的应答未写明所答批次号 batch_id，不予采信；请部门按 openapi.yaml 在应答中返回"
                         "所答批次号", self.connection)
            raise RetriableError(f"{self.connection}: 应答未写明所答批次号 batch_id，不予采信，稍后重试；请部门按接口"
                                 f"文档升级 (the answer names no batch_id: not taken)")
        alerts.error("告警 ALERT: %s 的应答所答批次不是所发批次 %s，不予采信", self.connection, sent)
        raise RetriableError(f"{self.connection}: 应答所答批次不是所发批次 {sent}（疑似重放的旧应答），不予采信，"
                             f"稍后重试 (the answer names another batch than {sent}: not taken)")

    def _receipt(self, r: Mapping[str, Any]) -> Receipt:
        accepted, code = flag(r["accepted"], "accepted"), bounded(r.get("code"), MAX_CODE_LENGTH, "code")
        reason = text(r.get("reason"), "reason") or (None if accepted else self.errors.get(str(code)))
        return Receipt(
            idempotency_key=str(r["idempotency_key"]), accepted=accepted,
            duplicate=flag(r.get("duplicate"), "duplicate", False),
            department_ref=bounded(r.get("ref"), MAX_REF_LENGTH, "ref"),
            status=known_status(self._status, str(code)) if accepted else None,
            department_code=code, reason=reason, unopened=not accepted and str(code) in self.unopened_codes,
        )

    def _status(self, code: Any) -> Status:
        try:
            return self.statuses[str(code)]
        except KeyError:
            raise UnknownStatusCode(f"{self.connection}: 未知的部门状态码 {shown_status_code(code)!r}；请在 "
                             f"connectors/{self.department}/statuses.py 中补充映射") from None

    # -- supplement ----------------------------------------------------------------------------------
    def supplement(self, batch: Sequence[SupplementItem], seal: Mapping[str, Any]) -> list[Receipt]:
        """One receipt per 补正 submission, in order, keyed by its supplement id (a resend is answered
        duplicate); the sealed batch travels whole."""
        body = {"batch_id": sealed_batch_id(seal), "seal": dict(seal), "items": [
            {"idempotency_key": s.idempotency_key, "supplement_id": s.supplement_id, "case_no": s.case_no,
             "item_code": s.item_code, "envelope": s.envelope} for s in batch]}
        answer = self._answering(self.client.call("POST", self.supplement_path, body), sealed_batch_id(seal))
        try:
            by_id = {str(r["supplement_id"]): r for r in answer["receipts"]}
            missing = sum(1 for s in batch if s.supplement_id not in by_id)
            if missing:
                raise RetriableError(
                    f"{self.connection}: 补正应答缺少 {missing} 条回执，稍后重试（重复提交是安全的）")
            return [self._supplement_receipt(by_id[s.supplement_id]) for s in batch]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed(self.connection, exc) from None

    def _supplement_receipt(self, r: Mapping[str, Any]) -> Receipt:
        accepted, code = flag(r["accepted"], "accepted"), bounded(r.get("code"), MAX_CODE_LENGTH, "code")
        reason = text(r.get("reason"), "reason") or (None if accepted else self.errors.get(str(code)))
        return Receipt(idempotency_key=str(r["supplement_id"]), accepted=accepted,
                       duplicate=flag(r.get("duplicate"), "duplicate", False),
                       status=known_status(self._status, str(code)) if accepted else None,
                       department_code=code, reason=reason)

    def _materials(self, raw: Any) -> tuple[str, ...]:
        try:
            return read_materials(raw or ())
        except UnknownMaterial as exc:
            raise FatalError(f"{self.connection}: {exc}；请与部门联络员核对材料编码") from None

    # -- poll ----------------------------------------------------------------------------------------
    def poll(self, keys: Sequence[str]) -> list[Polled]:
        """Current status of each delivered key the department knows (all pages followed); a row that cannot
        be read is set aside in its place (:func:`~lianban.wire.contract.read_polled`), the rest still read."""
        updates: list[Polled] = []
        for chunk in chunks(keys, POLL_KEYS_PER_REQUEST):
            updates += self._poll_chunk(chunk)
        return updates

    def _poll_chunk(self, keys: Sequence[str]) -> list[Polled]:
        updates: list[Polled] = []
        page = 1
        while True:
            answer = self.client.call("POST", self.status_path,
                                      {"keys": list(keys), "page": page, "page_size": self.page_size})
            rows, last = self._page_of(answer, page)
            updates += [read_polled(self.read_status, r) for r in rows]
            if last:
                return updates
            page += 1

    def _page_of(self, answer: Mapping[str, Any], page: int) -> tuple[list[Any], bool]:
        """The answer's envelope: its rows, and whether this is the last page; broken → a malformed answer."""
        try:
            rows = answer["statuses"]
            if not isinstance(rows, list):
                raise TypeError("statuses is not a list")
            size = int(answer["page_size"])
            if size < 1:  # no page would ever be the last: the hub would ask for the next one for ever
                raise ValueError("page_size is not a positive number")
            return rows, not rows or page * size >= int(answer["total"])
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.connection, exc) from None

    def read_status(self, r: Mapping[str, Any]) -> StatusUpdate:
        """One status row, polled or pushed to the hub (:class:`~lianban.wire.contract.StatusReader`); its
        ``changed_at`` ISO 8601 in the plausible years (:func:`~lianban.wire.contract.read_changed_at`)."""
        return StatusUpdate(idempotency_key=str(r["idempotency_key"]), status=self._status(r["code"]),
                            department_code=str(r["code"]), changed_at=read_changed_at(r["changed_at"]),
                            reason=text(r.get("reason"), "reason"), result=_result(r.get("result")),
                            materials=self._materials(r.get("materials")))

    # -- health --------------------------------------------------------------------------------------
    def health(self) -> HealthReport:
        """Reachable and accepting our signature? Says which, and what to do."""
        try:
            self.client.reach("/health")
            self.client.call("POST", self.status_path, {"keys": [], "page": 1, "page_size": 1})
        except LianbanError as exc:
            return HealthReport(False, str(exc))
        return HealthReport(True, f"{self.connection}: 网关可达，签名认证通过")
