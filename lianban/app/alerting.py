"""The liaison alert channels, wired from the environment: e-mail over SMTP and SMS through the SMS gateway.

    LIANBAN_SMTP_URL   smtp://[user:password@]host[:port][?from=alerts@example.gov.cn&starttls=1]
                       (smtps:// for implicit TLS); unset: no e-mail channel
    dept_sms           the SMS gateway's connection (connectors/sms: AIRFLOW_CONN_DEPT_SMS, or Airflow's own
                       connections inside a task); undefined: no SMS channel

At least one channel must be configured for ``lianban alerts check`` to run (a check that can tell nobody is an
error, not a quiet success).
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from lianban.errors import ConfigError, NotConfigured, RejectedError
from lianban.pipeline.alerts import Alert, Notifier

log = logging.getLogger("lianban.alerts")

SMTP_ENV = "LIANBAN_SMTP_URL"
SMTP_TIMEOUT = 30


@dataclass(frozen=True)
class EmailNotifier:
    """Sends an alert as one plain-text e-mail (UTF-8) to the liaison, the duty desk in copy."""

    host: str
    port: int
    sender: str
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    implicit_tls: bool = False
    name: str = "email"

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["From"] = formataddr(("亳州联办告警", self.sender))
        message["To"] = formataddr((alert.to.name, alert.to.email))
        if alert.copy is not None:
            message["Cc"] = formataddr((alert.copy.name, alert.copy.email))
        message["Subject"] = alert.subject
        message["Message-ID"] = make_msgid(idstring=f"{alert.incident}-{'resolved' if alert.resolved else 'opened'}")
        message.set_content(alert.text)
        with self._connect() as smtp:
            smtp.send_message(message)

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp = (smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT, context=context) if self.implicit_tls
                else smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT))
        try:
            if self.starttls:
                smtp.starttls(context=context)
            if self.user and self.password:
                smtp.login(self.user, self.password)
        except BaseException:  # a refused STARTTLS or login: the connection is not left open
            smtp.close()
            raise
        return smtp


def smtp_from_url(url: str) -> EmailNotifier:
    """The e-mail channel for ``smtp://`` / ``smtps://`` `url` (module docstring); ConfigError naming the part."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"{SMTP_ENV} 应形如 smtp://主机:端口?from=发件地址 (must look like smtp://host:port?from=…)")
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range; its text names no password
        raise ConfigError(f"{SMTP_ENV} 的端口应为 1–65535 的整数 (the port of {SMTP_ENV} must be 1-65535)") from None
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    sender = query.get("from") or f"lianban-alerts@{parts.hostname}"
    return EmailNotifier(parts.hostname, port or (465 if parts.scheme == "smtps" else 25), sender,
                         unquote(parts.username) if parts.username else None,
                         unquote(parts.password) if parts.password else None,
                         starttls=query.get("starttls") in ("1", "true", "yes"), implicit_tls=parts.scheme == "smtps")


@dataclass
class SmsNotifier:
    """Sends an alert as one SMS to the liaison's mobile (templates ``incident_opened`` / ``incident_resolved``,
    sent at night too), keyed so the gateway never sends the same alert twice."""

    gateway: Any  # lianban.wire.sms.SmsGateway
    book: Any  # lianban.domain.sms.TemplateBook
    name: str = "sms"

    def send(self, alert: Alert) -> None:
        from lianban.wire.sms import compose

        template = alert.template or ("incident_resolved" if alert.resolved else "incident_opened")
        key = f"{alert.incident}-{'resolved' if alert.resolved else 'opened'}-{alert.to.party}"
        [result] = self.gateway.send([compose(self.book, template, key, alert.to.mobile, **alert.values)])
        if not result.outcome.sent:
            raise RejectedError(f"短信未发出：{result.reason or result.outcome.value}", code=result.code or "",
                                reason=result.reason or "")


def channels_from_env(env: Mapping[str, str] | None = None) -> list[Notifier]:
    """Every channel the environment configures; ConfigError when there is none."""
    from lianban.app.config import conn_env_name, department_settings

    channels: list[Notifier] = []
    smtp = (os.environ if env is None else env).get(SMTP_ENV)
    if smtp:
        channels.append(smtp_from_url(smtp))
    try:
        sms = department_settings("sms", env)  # inside Airflow: its connection lookup too
    except NotConfigured:
        sms = None  # not configured: no SMS channel
    except ConfigError as exc:  # set but wrong: the other channels still carry the alert, and this is said
        log.warning("短信告警渠道 dept_sms 的连接配置有误，本次只用其他渠道：%s", exc)
        sms = None
    if sms is not None:
        from connectors.sms.connector import SmsConnector
        from lianban.domain.sms import load_templates

        channels.append(SmsNotifier(SmsConnector.from_settings(sms), load_templates()))
    if not channels:
        raise ConfigError(f"没有可用的告警渠道：请设置 {SMTP_ENV}（邮件）或 {conn_env_name('sms')}（短信）"
                          f" (no alert channel: set {SMTP_ENV} or {conn_env_name('sms')})")
    return channels
