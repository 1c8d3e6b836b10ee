"""`lianban connectors check`: why a department can or cannot be reached, one step at a time.

Steps, in order; the first failure stops the run and every later step is reported as skipped::

    config        读取连接配置   dept_<name> is registered and its connection parses
    resolve       域名解析       DNS answers for the host
    connect       建立连接       a TCP connection to host:port opens
    tls           TLS 握手       https only: the certificate is trusted (verify / ca_bundle), mTLS cert loads
    describe      服务描述       the WSDL (SOAP) or /openapi.json (REST) is served and is what it claims
    authenticate  认证与试调用   the connector's own ``health()``: signed/WS-Security test call, no side effect

So a wrong password fails at ``authenticate``, an unreachable host at ``resolve`` or ``connect``, an untrusted
certificate at ``tls``: three different sentences, each saying what to do (中文 first, English after).
Functions here return :class:`StepResult` lists and print nothing; no detail ever carries the password.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests
from lxml import etree

from lianban.app.config import department_settings
from lianban.domain.liaisons import SMS_GATEWAY
from lianban.errors import ConfigError, LianbanError
from lianban.wire.settings import DepartmentSettings
from lianban.wire.transport import ResponseTooLarge, make_session

__all__ = ["STEPS", "Outcome", "StepResult", "check", "check_department", "passed"]

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StepResult:
    """One step of a check: what was tried, how it went, and why, in a sentence an operator can act on."""

    step: str
    outcome: Outcome
    detail: str
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "label": LABELS[self.step], "status": self.outcome.value,
                "detail": self.detail, "seconds": round(self.seconds, 3)}


class StepFailed(Exception):
    """The step ran and found the problem its message describes."""


class StepSkipped(Exception):
    """The step does not apply (e.g. TLS on plain http); its message says why."""


Builder = Callable[[DepartmentSettings], Any]


@dataclass(frozen=True)
class Probe:
    """What the steps share: the settings, where they point, and how to build the connector."""

    settings: DepartmentSettings
    build: Builder

    @property
    def url(self) -> SplitResult:
        return urlsplit(self.settings.base_url)

    @property
    def host(self) -> str:
        return self.url.hostname or ""

    @property
    def port(self) -> int:
        return int(self.url.port or (443 if self.url.scheme == "https" else 80))

    @property
    def conn(self) -> str:
        return self.settings.connection


# -- resolve -----------------------------------------------------------------------------------------------
def step_resolve(p: Probe) -> str:
    try:
        infos = socket.getaddrinfo(p.host, p.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise StepFailed(f"无法解析主机名 {p.host}（{exc}）：请检查连接 {p.conn} 的 host 拼写及本机 DNS 能否解析"
                         f"政务外网域名 / cannot resolve host {p.host}: check the host of {p.conn} and this "
                         f"machine's DNS") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    return f"{p.host} → {', '.join(addresses)}"


# -- connect -----------------------------------------------------------------------------------------------
def _refused(p: Probe, exc: OSError) -> str:
    return (f"连接被拒绝：{p.host}:{p.port} 上没有服务在监听，请检查连接 {p.conn} 的 port 以及对方服务是否已启动 / "
            f"connection refused: nothing listens on {p.host}:{p.port}; check the port and that the service is up")


def _timed_out(p: Probe, exc: OSError) -> str:
    return (f"连接超时（{p.settings.transport.connect_timeout:g} 秒）：防火墙拦截或网络不通，请联系网络管理员开通到 "
            f"{p.host}:{p.port} 的访问 / connect timed out: a firewall or routing problem between us and "
            f"{p.host}:{p.port}")


def _unreachable(p: Probe, exc: OSError) -> str:
    return (f"无法连接 {p.host}:{p.port}（{exc.strerror or type(exc).__name__}）：请检查网络与路由 / "
            f"cannot connect to {p.host}:{p.port}: check the network path")


#: socket error → sentence; first matching row wins
CONNECT_FAILURES: tuple[tuple[type[OSError], Callable[[Probe, OSError], str]], ...] = (
    (ConnectionRefusedError, _refused),
    (TimeoutError, _timed_out),
    (OSError, _unreachable),
)


def _explain(table: Sequence[tuple[type[BaseException], Callable[[Probe, Any], str]]], p: Probe,
             exc: BaseException) -> str:
    for kind, sentence in table:
        if isinstance(exc, kind):
            return sentence(p, exc)
    return f"{type(exc).__name__}: {exc}"


def step_connect(p: Probe) -> str:
    started = time.monotonic()
    try:
        with socket.create_connection((p.host, p.port), timeout=p.settings.transport.connect_timeout) as sock:
            peer = sock.getpeername()
    except OSError as exc:
        raise StepFailed(_explain(CONNECT_FAILURES, p, exc)) from None
    return f"已连接 {peer[0]}:{peer[1]}（{(time.monotonic() - started) * 1000:.0f} ms） / connected"


# -- tls ---------------------------------------------------------------------------------------------------
#: OpenSSL verify code → what it means for the operator
VERIFY_CODES: dict[int, str] = {
    10: "对方证书已过期 / the certificate has expired",
    18: "对方使用自签名证书 / the certificate is self-signed",
    19: "证书链中有自签名证书，其根 CA 不在信任列表中 / a self-signed CA in the chain is not trusted",
    20: "找不到签发对方证书的 CA / the issuing CA is not trusted here",
    62: "证书与主机名不符 / the certificate does not name this host",
}

#: OpenSSL reason (substring) of a failed handshake → what to check
HANDSHAKE_REASONS: dict[str, str] = {
    "WRONG_VERSION_NUMBER": "对方端口不是 HTTPS（可能是明文 HTTP），请检查 schema / the port does not speak TLS",
    "CERTIFICATE_REQUIRED": "对方要求客户端证书（mTLS），请配置 extra.client_cert 与 client_key / the server "
                            "requires a client certificate",
    "HANDSHAKE_FAILURE": "协议或算法不匹配，或对方要求客户端证书 / no common protocol or cipher, or mTLS required",
    "UNKNOWN_CA": "对方不信任我方客户端证书 / the server does not trust our client certificate",
}


def _untrusted(p: Probe, exc: ssl.SSLCertVerificationError) -> str:
    meaning = VERIFY_CODES.get(exc.verify_code, exc.verify_message or "证书校验失败 / verification failed")
    return (f"证书不受信任：{meaning}（{exc.verify_message}）。请向对方索取其 CA 证书，配置为连接 {p.conn} 的 "
            f"extra.ca_bundle；切勿关闭校验 / untrusted certificate: set extra.ca_bundle of {p.conn} to the "
            f"department's CA, do not turn verification off")


def _handshake(p: Probe, exc: ssl.SSLError) -> str:
    reason = str(exc.reason or exc)
    hint = next((h for key, h in HANDSHAKE_REASONS.items() if key in reason), "请检查 TLS 配置 / check TLS")
    return f"TLS 握手失败（{reason}）：{hint}"


def _tls_broken(p: Probe, exc: OSError) -> str:
    return f"TLS 握手中断（{type(exc).__name__}）：对方在握手中断开或超时 / the handshake was cut off"


#: handshake error → sentence; first matching row wins
TLS_FAILURES: tuple[tuple[type[OSError], Callable[[Probe, Any], str]], ...] = (
    (ssl.SSLCertVerificationError, _untrusted),
    (ssl.SSLError, _handshake),
    (OSError, _tls_broken),
)


def tls_context(p: Probe) -> ssl.SSLContext:
    """The TLS context the settings ask for: default trust, or the CA bundle, or (tests only) no check."""
    verify = p.settings.transport.verify
    try:
        ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        if verify is False:
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        if p.settings.transport.client_cert:
            ctx.load_cert_chain(*p.settings.transport.client_cert)
    except (ssl.SSLError, OSError) as exc:
        raise StepFailed(f"证书文件无法加载（{type(exc).__name__}: {exc}）：请检查连接 {p.conn} 的 extra.ca_bundle、"
                         f"client_cert、client_key 是否为匹配的 PEM 文件 / a CA or client certificate file "
                         f"cannot be loaded") from None
    return ctx


def _names(rdns: Any) -> dict[str, str]:
    """An X.509 name as ssl.getpeercert() gives it, flattened: {"commonName": …, …}."""
    return {str(key): str(value) for rdn in rdns for key, value in rdn}


def _peer(tls: ssl.SSLSocket, verify: bool | str) -> str:
    cert = tls.getpeercert() or {}
    if verify is False or not cert:
        return f"{tls.version()}，未校验对方证书（verify=false，仅限测试环境） / certificate NOT verified"
    subject, issuer = _names(cert.get("subject", ())), _names(cert.get("issuer", ()))
    return (f"{tls.version()}，证书 {subject.get('commonName', '?')}，签发者 {issuer.get('commonName', '?')}，"
            f"有效期至 {cert.get('notAfter', '?')} / certificate trusted")


def step_tls(p: Probe) -> str:
    if p.url.scheme != "https":
        raise StepSkipped("明文 HTTP，无 TLS；生产环境请使用 https / plain http: no TLS to check")
    ctx = tls_context(p)
    try:
        with socket.create_connection((p.host, p.port), timeout=p.settings.transport.connect_timeout) as sock, \
                ctx.wrap_socket(sock, server_hostname=p.host) as tls:
            return _peer(tls, p.settings.transport.verify)
    except OSError as exc:
        raise StepFailed(_explain(TLS_FAILURES, p, exc)) from None


# -- describe ----------------------------------------------------------------------------------------------
def _wsdl_summary(body: bytes) -> str:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(body, parser)
    if root.tag != f"{{{WSDL_NS}}}definitions":
        raise ValueError("not a WSDL 1.1 document")
    operations = {op.get("name") for op in root.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation")}
    return f"WSDL：{len(operations)} 个操作（{', '.join(sorted(o for o in operations if o))}）"


def _openapi_summary(body: bytes) -> str:
    doc = json.loads(body)
    if not isinstance(doc, dict) or "openapi" not in doc:
        raise ValueError("not an OpenAPI document")
    return f"OpenAPI {doc['openapi']}：{len(doc.get('paths') or {})} 个路径"


#: transport in schemas/catalog/departments.yaml → (where its description is, how to read it)
DESCRIPTIONS: dict[str, tuple[Callable[[DepartmentSettings], str], Callable[[bytes], str]]] = {
    "soap": (lambda s: s.wsdl or f"{s.base_url.rstrip('/')}/soap/{s.department}?wsdl", _wsdl_summary),
    "rest": (lambda s: f"{s.base_url.rstrip('/')}/openapi.json", _openapi_summary),
}

#: requests exception → sentence; first matching row wins
FETCH_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (requests.exceptions.SSLError, "TLS 校验失败，请检查 extra.ca_bundle / TLS verification failed"),
    (requests.Timeout, "超时未应答 / timed out"),
    (requests.ConnectionError, "无法连接 / cannot connect"),
    (ResponseTooLarge, "文档超过大小限制 / the document is larger than the size limit"),
    (requests.RequestException, "请求失败 / the request failed"),
)

#: HTTP status of the description → what to check
FETCH_STATUSES: dict[int, str] = {
    401: "需要认证才能获取，请向对方确认服务描述的发布方式 / the description needs authentication",
    403: "被拒绝访问，可能是对方白名单未包含本机地址 / forbidden: our address may not be allow-listed",
    404: "地址不存在，请检查 extra.wsdl 或 host/port / not found: check extra.wsdl or host/port",
}


def _kind(department: str) -> str:
    from lianban.domain.catalog import load_catalog

    dept = load_catalog().departments.get(department)
    return dept.transport if dept is not None and dept.transport in DESCRIPTIONS else "rest"


def _fetch(p: Probe, url: str) -> requests.Response:
    session = make_session(replace(p.settings.transport, retries=0))
    try:
        return session.get(url)
    except requests.RequestException as exc:
        sentence = next(text for kind, text in FETCH_FAILURES if isinstance(exc, kind))
        raise StepFailed(f"获取服务描述 {url} 失败：{sentence}（{type(exc).__name__}）") from None
    finally:
        session.close()


def step_describe(p: Probe) -> str:
    locate, summarise = DESCRIPTIONS[_kind(p.settings.department)]
    url = locate(p.settings)
    resp = _fetch(p, url)
    if resp.status_code != 200:
        hint = FETCH_STATUSES.get(resp.status_code, "对方服务异常 / the service answered with an error")
        raise StepFailed(f"获取服务描述 {url} 得到 HTTP {resp.status_code}：{hint}")
    try:
        return f"{summarise(resp.content)}（{url}）"
    except (ValueError, etree.XMLSyntaxError) as exc:
        raise StepFailed(f"{url} 返回的不是约定的服务描述（{exc}），可能是网关错误页或地址有误 / "
                         f"not the expected WSDL/OpenAPI document: check the address") from None


# -- authenticate ------------------------------------------------------------------------------------------
def step_authenticate(p: Probe) -> str:
    try:
        report = p.build(p.settings).health()
    except LianbanError as exc:
        report_ok, detail = False, str(exc)
    else:
        report_ok, detail = report.ok, report.detail
    if not report_ok:
        raise StepFailed(f"认证或试调用失败 / authentication or test call failed: {detail}")
    return detail


#: the steps after ``config``, in order (name, step); ``LABELS`` gives their Chinese names
STEPS: tuple[tuple[str, Callable[[Probe], str]], ...] = (
    ("resolve", step_resolve),
    ("connect", step_connect),
    ("tls", step_tls),
    ("describe", step_describe),
    ("authenticate", step_authenticate),
)
LABELS: Mapping[str, str] = {"config": "读取连接配置", "resolve": "域名解析", "connect": "建立连接",
                             "tls": "TLS 握手", "describe": "服务描述", "authenticate": "认证与试调用"}
_SKIPPED = "前一步失败，未执行 / skipped: an earlier step failed"


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _run(name: str, step: Callable[[Probe], str], probe: Probe) -> StepResult:
    started = time.monotonic()
    try:
        outcome, detail = Outcome.OK, step(probe)
    except StepFailed as exc:
        outcome, detail = Outcome.FAILED, str(exc)
    except StepSkipped as exc:
        outcome, detail = Outcome.SKIPPED, str(exc)
    return StepResult(name, outcome, _redact(detail, probe.settings.password), time.monotonic() - started)


def default_builder(settings: DepartmentSettings) -> Any:
    """The registered connector of ``settings.department``, built from `settings` with this installation's keys;
    the SMS gateway's as the notices and the alerts build it (its answers carry no signature to check)."""
    from lianban.app.config import Paths
    from lianban.app.registry import load_connector

    if settings.department == SMS_GATEWAY:
        from connectors.sms.connector import SmsConnector

        return SmsConnector.from_settings(settings)
    return load_connector(settings.department, settings, Paths.from_env().keys_dir)


def check(settings: DepartmentSettings, build: Builder = default_builder) -> list[StepResult]:
    """Run every step against `settings`; after the first failure the rest are skipped."""
    probe, results = Probe(settings, build), list[StepResult]()
    for name, step in STEPS:
        failed = any(r.outcome is Outcome.FAILED for r in results)
        results.append(StepResult(name, Outcome.SKIPPED, _SKIPPED) if failed else _run(name, step, probe))
    return results


_VERIFY_TEXT = {True: "系统 CA", False: "不校验（仅限测试）"}


def _configured(settings: DepartmentSettings) -> str:
    t = settings.transport
    verify = _VERIFY_TEXT[t.verify] if isinstance(t.verify, bool) else f"CA 文件 {t.verify}"
    return (f"{settings.connection}：{settings.base_url}，login {settings.login or '（未设置）'}，password "
            f"{'已设置' if settings.password else '（未设置）'}，证书校验 {verify}"
            f"{'，客户端证书已配置' if t.client_cert else ''}，超时 {t.connect_timeout:g}/{t.read_timeout:g} 秒"
            f"{f'，限速 {t.rate_limit:g} 次/秒' if t.rate_limit else ''}")


def check_department(department: str, env: Mapping[str, str] | None = None,
                     build: Builder = default_builder) -> list[StepResult]:
    """The ``config`` step (registered connector, or the SMS gateway; connection ``dept_<department>`` parses),
    then :func:`check`."""
    from lianban.app.registry import connector_path

    try:
        if department != SMS_GATEWAY:
            connector_path(department)
        settings = department_settings(department, env)
    except ConfigError as exc:
        return [StepResult("config", Outcome.FAILED, f"连接配置有误 / configuration problem: {exc}"),
                *(StepResult(name, Outcome.SKIPPED, _SKIPPED) for name, _ in STEPS)]
    return [StepResult("config", Outcome.OK, _configured(settings)), *check(settings, build)]


def passed(results: Sequence[StepResult]) -> bool:
    """True when no step failed."""
    return all(r.outcome is not Outcome.FAILED for r in results)
