"""The SMS gateway connector: screens, sends in batches, and reads delivery receipts (状态报告).

Built from connection ``dept_sms`` like a REST department (:func:`lianban.wire.settings.parse_connection` with
``"sms"``; login = gateway app id, password = app secret, ``extra.batch_size``, timeouts, ``rate_limit``) over
:mod:`connectors._rest`'s signed session and :class:`~connectors._rest.GatewayClient`, so every failure leaves
through the same failure → action table: 401/403 → ConfigError, 429 → RetriableError with ``retry_after`` (a
batch of :meth:`SmsConnector.send` throttled so is first sent again after it, :data:`THROTTLED_TRIES` in all),
5xx and timeouts → RetriableError, another 4xx (the whole request refused) → RejectedError.

Before anything goes out each message is screened here; the first matching row wins and the message is never
sent::

    no phone number                        invalid_phone  PHONE_MISSING
    not an 11-digit mobile number          invalid_phone  PHONE          (lianban.domain.sms.is_mobile;
                                                                         ASCII digits only)
    an ID-number-shaped run in the text    refused        ID_NUMBER
    quiet hours, template respects them    deferred       QUIET_HOURS    not_before = next 08:00 Asia/Shanghai

Quiet hours are decided here, per message, from the template's policy (``quiet_hours: ignore`` lets an outage
alert through at night), so one call can send the alerts and hold the notices; holding a deferred message
until ``not_before`` is the caller's (the notice ledger's) business. Each batch is screened again, by the clock
read then, right before it is sent (and before each time it is sent again after a throttle): a long send that
runs past 21:00 holds the notices it has not sent yet. The rest go in batches of ``batch_size``
and come back accepted, duplicate (the key was sent before) or refused with the gateway's code and reason. An
error on a later batch leaves the earlier ones sent: repeating the whole call is safe, they answer duplicate.

No phone number or text reaches a log line or an error: logs carry counts, reasons from the gateway are
passed through :func:`~lianban.domain.identity.redact_text`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self

import requests

from connectors._rest import GatewayClient, flag, gateway_session, malformed
from lianban.domain.batches import chunks
from lianban.domain.identity import redact_text
from lianban.domain.sms import QuietHours, allowed_at, has_id_number, in_quiet_hours, is_mobile
from lianban.errors import LianbanError, RetriableError
from lianban.wire.contract import HealthReport
from lianban.wire.gateway import GATEWAY_ERRORS
from lianban.wire.settings import DepartmentSettings, default_batch_size
from lianban.wire.sms import MESSAGE_ID_MAX, DeliveryReceipt, DeliveryState, Outcome, SmsMessage, SmsResult
from lianban.wire.transport import MAX_RETRY_AFTER

__all__ = ["ERRORS", "SmsConnector"]

log = logging.getLogger("lianban.sms")

SEND_PATH = "/api/v1/sms:send"
RECEIPTS_PATH = "/api/v1/sms:receipts"
RECEIPT_IDS_PER_REQUEST = 1000
#: a batch the gateway throttles (HTTP 429 with Retry-After: none of it taken) is sent again after the wait it
#: asks (at most MAX_RETRY_AFTER seconds), this many times in all, before the call fails retriable
THROTTLED_TRIES = 5
#: the gateway's codes (refusals of a request or a message, delivery failures) → Chinese meaning
ERRORS: dict[str, str] = {
    **GATEWAY_ERRORS,
    "THROTTLED": "超过网关每秒发送限额",
    "BATCH_TOO_LARGE": "单次请求条数超过网关每秒限额，请减小连接 dept_sms 的 extra.batch_size",
    "PHONE": "手机号码格式错误，应为以1开头的11位手机号码",
    "SIGNATURE": "短信签名未报备或不在正文开头，请核对 schemas/sms/templates.yaml 的 signature",
    "TOO_LONG": "短信内容超过网关长度上限",
    "ID_NUMBER": "短信内容含疑似身份证号码，不予发送",
    "EMPTY_NUMBER": "空号",
    "POWERED_OFF": "关机",
    "SUSPENDED": "停机",
    "REJECTED": "用户拒收",
}

Check = Callable[[SmsMessage, datetime], bool]
#: screening before sending: (check, outcome, code, Chinese reason); first matching row wins
SCREENS: tuple[tuple[Check, Outcome, str, str], ...] = (
    (lambda m, now: not m.phone, Outcome.INVALID_PHONE, "PHONE_MISSING", "未登记手机号码，短信未发送"),
    (lambda m, now: not is_mobile(m.phone), Outcome.INVALID_PHONE, "PHONE",
     "手机号码格式错误（应为以1开头的11位手机号码），短信未发送"),
    (lambda m, now: has_id_number(m.text), Outcome.REFUSED, "ID_NUMBER", "短信内容含疑似身份证号码，不予发送"),
    (lambda m, now: m.quiet_hours is QuietHours.RESPECT and in_quiet_hours(now), Outcome.DEFERRED, "QUIET_HOURS",
     "免打扰时段（21:00–08:00）不发送，留待次日 08:00 后发送"),
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def screen(message: SmsMessage, now: datetime) -> SmsResult | None:
    """Why `message` must not go out at `now` (a result that says so), or None when it may."""
    for check, outcome, code, reason in SCREENS:
        if check(message, now):
            not_before = allowed_at(now, message.quiet_hours) if outcome is Outcome.DEFERRED else None
            return SmsResult(message.idempotency_key, outcome, code=code, reason=reason, not_before=not_before)
    return None


class SmsConnector:
    """Satisfies :class:`lianban.wire.sms.SmsGateway`; `clock` (an aware ``datetime``) decides quiet hours."""

    department = "sms"

    def __init__(self, base_url: str, session: requests.Session, batch_size: int = default_batch_size("sms"),
                 clock: Callable[[], datetime] = _utc_now, sleep: Callable[[float], None] = time.sleep) -> None:
        self.connection = f"dept_{self.department}"
        self.client = GatewayClient(base_url, session, self.connection, ERRORS)
        self.batch_size = batch_size
        self._clock, self._sleep = clock, sleep

    @classmethod
    def from_settings(cls, settings: DepartmentSettings) -> Self:
        """Build from connection ``dept_sms`` (login = gateway app id, password = app secret)."""
        return cls(settings.base_url, gateway_session(settings), settings.batch_size)

    def send(self, messages: Sequence[SmsMessage]) -> list[SmsResult]:
        """One result per message, in order (see the module docstring for what each outcome means)."""
        now = self._clock()
        results: dict[int, SmsResult] = {}
        outgoing: list[tuple[int, SmsMessage]] = []
        for i, message in enumerate(messages):
            screened = screen(message, now)
            if screened:
                results[i] = screened
            else:
                outgoing.append((i, message))
        for chunk in chunks(outgoing, self.batch_size):
            results.update(zip((i for i, _ in chunk), self._send_paced([m for _, m in chunk]), strict=True))
        ordered = [results[i] for i in range(len(messages))]
        log.info("%s: %s", self.connection, _counts(ordered))
        return ordered

    def _send_paced(self, chunk: Sequence[SmsMessage]) -> list[SmsResult]:
        """:meth:`_send_screened`, sent again after the gateway's Retry-After while it throttles (batches of its
        per-second limit go back to back), :data:`THROTTLED_TRIES` times in all."""
        for _ in range(THROTTLED_TRIES - 1):
            try:
                return self._send_screened(chunk)
            except RetriableError as exc:
                if exc.retry_after is None:
                    raise
                wait = exc.retry_after
            self._sleep(min(wait, MAX_RETRY_AFTER))
        return self._send_screened(chunk)

    def _send_screened(self, chunk: Sequence[SmsMessage]) -> list[SmsResult]:
        """:meth:`_send_chunk` of the messages of `chunk` that may still go now (quiet hours may have begun since
        the send began), in order with the results of those held."""
        now = self._clock()
        held = {i: screened for i, message in enumerate(chunk) if (screened := screen(message, now))}
        going = [message for i, message in enumerate(chunk) if i not in held]
        sent = iter(self._send_chunk(going) if going else [])
        return [held[i] if i in held else next(sent) for i in range(len(chunk))]

    def _send_chunk(self, chunk: Sequence[SmsMessage]) -> list[SmsResult]:
        body = {"messages": [{"idempotency_key": m.idempotency_key, "phone": m.phone, "text": m.text,
                              "template": m.template} for m in chunk]}
        answer = self.client.call("POST", SEND_PATH, body)
        try:
            rows = answer["results"]
            if [str(r["idempotency_key"]) for r in rows] != [m.idempotency_key for m in chunk]:
                raise RetriableError(f"{self.connection}: 应答与请求的短信不一一对应，稍后重发（重发是安全的）")
            return [self._result(r) for r in rows]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed(self.connection, exc) from None

    def _result(self, r: Mapping[str, Any]) -> SmsResult:
        key, code = str(r["idempotency_key"]), r.get("code")
        if flag(r["accepted"], "accepted"):  # "false" is no acceptance to read as true: a malformed answer
            outcome = Outcome.DUPLICATE if flag(r.get("duplicate"), "duplicate", False) else Outcome.ACCEPTED
            return SmsResult(key, outcome, message_id=self._kept_id(r["message_id"]),
                             segments=int(r.get("segments") or 0))
        return SmsResult(key, Outcome.REFUSED, code=str(code or ""), reason=self._reason(code, r.get("reason")))

    def _kept_id(self, message_id: Any) -> str | None:
        """The gateway's id of a message it took, or None when it is longer than the ledger keeps: the message is
        sent all the same (refusing the answer would send it again to the person), only its receipt is never
        asked for."""
        text = str(message_id)
        if len(text) <= MESSAGE_ID_MAX:
            return text
        log.warning("%s: 网关返回的短信编号长 %d 个字符，超过台账可保存的 %d 个字符；短信已发出，不再查询其状态报告 "
                    "(a message id too long to keep: sent, its receipt not asked for)", self.connection, len(text),
                    MESSAGE_ID_MAX)
        return None

    def _reason(self, code: Any, reason: Any) -> str:
        return redact_text(str(reason or ERRORS.get(str(code), f"网关拒绝（{code or '无代码'}）")))

    def receipts(self, message_ids: Sequence[str]) -> list[DeliveryReceipt]:
        """Delivery receipts of the ids the gateway knows (an unknown id is left out). A receipt that cannot be
        read (a state the API does not define, say) is left out too, logged without its content: its notice
        waits and is asked about again, and the others' receipts are taken."""
        receipts: list[DeliveryReceipt] = []
        for chunk in chunks(message_ids, RECEIPT_IDS_PER_REQUEST):
            answer = self.client.call("POST", RECEIPTS_PATH, {"message_ids": list(chunk)})
            try:
                rows = list(answer["receipts"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise malformed(self.connection, exc) from None
            receipts += [receipt for r in rows if (receipt := self._readable(r)) is not None]
        return receipts

    def _readable(self, r: Any) -> DeliveryReceipt | None:
        try:
            return self._receipt(r)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("%s: 一条状态报告不符合接口规范，已跳过，下轮再查 (a receipt that cannot be read was left out: "
                        "%s)", self.connection, type(exc).__name__)
            return None

    def _receipt(self, r: Mapping[str, Any]) -> DeliveryReceipt:
        state, code = DeliveryState(str(r["state"])), r.get("code")
        reason = self._reason(code, r.get("reason")) if state is DeliveryState.FAILED else None
        return DeliveryReceipt(str(r["message_id"]), state, code=str(code) if code else None, reason=reason,
                               changed_at=r.get("changed_at"))

    def health(self) -> HealthReport:
        """Reachable and accepting our signature? An empty receipts query proves both, sending nothing."""
        try:
            self.client.call("GET", "/health")
            self.client.call("POST", RECEIPTS_PATH, {"message_ids": []})
        except LianbanError as exc:
            return HealthReport(False, str(exc))
        return HealthReport(True, f"{self.connection}: 短信网关可达，签名认证通过")


def _counts(results: Sequence[SmsResult]) -> str:
    """``accepted=3 duplicate=1 …``: what a log line may say about a send."""
    tally = {o.value: sum(1 for r in results if r.outcome is o) for o in Outcome}
    return " ".join(f"{k}={v}" for k, v in tally.items() if v) or "nothing to send"
