"""How a department is reached: its connection settings and the transport settings they carry.

Both ends of the hub's wire agree on these; parsing a connection imports no transport library. A
connection ``dept_<department>`` comes in Airflow's JSON or URI form (:func:`parse_connection`); where it is
looked up is the application's business (:mod:`lianban.app.config`).

Fields: ``host``, ``port``, ``schema`` (http/https), ``login``, ``password``; ``extra``: ``wsdl``,
``batch_size``, ``lanes``, ``processes``, ``connect_timeout``, ``read_timeout``, ``rate_limit`` (requests/s),
``answer_timeout`` (seconds for a whole answer), ``verify``, ``ca_bundle``, ``client_cert`` + ``client_key`` (mTLS),
``x509_cert`` + ``x509_key`` (WS-Security).
A missing or malformed one fails at load with a sentence naming the connection and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from lianban.errors import ConfigError

if TYPE_CHECKING:
    import requests

#: records per request without ``extra.batch_size``: the most the departments' interfaces take (1,000 a batch;
#: 皖事通办 takes 5,000 a push). A batch's fixed cost (claim, SM2 wrap and signatures both ways, evidence, three
#: transactions) made batches of 100 cost the hub 20–25 % more CPU per delivery than batches of 500 (measured at
#: 10,000 records), and batches of 500 cost 16 % more than of 1,000 (100,000 records delivered, two runs each in
#: turn: the hub's CPU 25.9–26.2 → 21.9–22.1 s, the departments' 14.1–14.3 → 12.8 s, the delivery 21.3–21.6 →
#: 18.3–18.5 s)
DEFAULT_BATCH_SIZE = 1000
#: parties that take other sizes: the SMS gateway refuses more messages in one second than its rate limit (100);
#: 皖事通办 takes up to 5,000 events a push; a report's pushes of 1,000 cost 4 % less than of 500, and of 2,500 about
#: 10 % less than of 1,000 (the status sweep's 272,912 events, back to back; 5,000 no better than 2,500)
BATCH_SIZE_DEFAULTS = {"sms": 100, "wanshi_tong": 2500}
#: batches a delivery run (pages a poll) keeps going to one department at once without ``extra.lanes``: while one
#: is on the wire (the department verifying, opening and keeping it), the next is claimed and sealed, and the last
#: settled (measured at 100,000 records: the delivery 52 s with one, 44 s with two, where each run and its
#: department had taken turns on one batch at a time; medical's poll of 37,713 open items 11.0–13.1 → 8.5–9.0 s);
#: 1 sends one after another
DEFAULT_LANES = 2
#: processes a delivery run may take for one department without ``extra.processes`` (each with its lanes), once
#: its backlog is large (:data:`lianban.app.jobs.SECOND_PROCESS_BATCHES`): one process's lanes share one
#: interpreter lock, and medical (two thirds of the deliveries) kept its process at 0.9 of a core while the other
#: core half idled for the second half of the delivery, once the other departments were done (measured at
#: 100,000 records, three runs each in turn: 24.3–25.8 s against 26.6–27.6 s, both cores busy to the end);
#: 1 keeps every run in one process
DEFAULT_PROCESSES = 2
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
#: the whole answer (connecting, waiting, reading the body) without ``extra.answer_timeout``: this many read
#: timeouts. The read timeout bounds each wait for the next bytes only, so an answer trickled a few bytes at a
#: time held a delivery lane for as long as the party kept sending, past the run's lease on the rows it claimed
ANSWER_TIMEOUT_READS = 2
DEFAULT_RETRIES = 2  # so at most three attempts of an idempotent call
MAX_RESPONSE_BYTES = 20 * 1024 * 1024
_WEB_SCHEMES = ("http", "https")
_EXTRA_KEY = "__extra__"  # Airflow's URI form: extra as one JSON query value


class Limiter(Protocol):
    """A client-side rate limit (lianban.wire.transport.TokenBucket)."""

    def acquire(self) -> None:
        """Wait for a request's turn, and take it."""
        ...

    def ready(self) -> None:
        """Wait until a request's turn is free, without taking it."""
        ...


@dataclass(frozen=True)
class TransportSettings:
    """How one department is reached on the wire; the defaults are the safe ones."""

    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    verify: bool | str = True  # True, False (tests only) or a CA bundle path
    client_cert: tuple[str, str] | None = None  # (cert, key) for mTLS
    rate_limit: float | None = None  # requests per second for this session; None = unlimited
    retries: int = DEFAULT_RETRIES  # extra attempts of an idempotent call
    max_response_bytes: int = MAX_RESPONSE_BYTES
    answer_timeout: float | None = None  # seconds for a whole answer; None = ANSWER_TIMEOUT_READS read timeouts
    #: verifies every answer (the department's response signature); raises to refuse it
    response_check: Callable[[requests.Response], None] | None = field(default=None, compare=False, repr=False)
    #: the rate limiter of `rate_limit`, when the caller shares it with the sessions built from these settings
    #: (the pipeline paces on it before sealing a batch: lianban.wire.contract.Peer.pace); else each session makes
    #: its own
    limiter: Limiter | None = field(default=None, compare=False, repr=False)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    @property
    def answer_deadline(self) -> float:
        """Seconds a whole answer may take, from the request's start to its body's last byte."""
        return self.answer_timeout or ANSWER_TIMEOUT_READS * self.read_timeout


@dataclass(frozen=True)
class DepartmentSettings:
    """How to reach one department; ``password`` never appears in a repr."""

    department: str
    base_url: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    wsdl: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    lanes: int = DEFAULT_LANES
    processes: int = DEFAULT_PROCESSES
    transport: TransportSettings = field(default_factory=TransportSettings)
    #: (certificate, private key) PEM files for WS-Security X.509 signatures (``extra.x509_cert/x509_key``)
    x509: tuple[str, str] | None = None

    @property
    def connection(self) -> str:
        """The Airflow connection id these settings come from (``dept_<department>``)."""
        return f"dept_{self.department}"

    @property
    def rate_limit(self) -> float | None:
        """Requests per second the department allows us (``extra.rate_limit``); None = no client-side limit."""
        return self.transport.rate_limit

    def per_lane(self, processes: int = 1) -> DepartmentSettings:
        """The settings of one of ``lanes`` connections open at once in each of `processes`: the rate the
        department allows us shared between them all (each connection limits its own requests)."""
        if self.rate_limit is None or self.lanes * processes == 1:
            return self
        share = self.rate_limit / (self.lanes * processes)
        return replace(self, transport=replace(self.transport, rate_limit=share))


#: numeric keys of ``extra``: key → (type, default); every value must be positive and finite
_NUMBERS: dict[str, tuple[type[int] | type[float], float | None]] = {
    "batch_size": (int, DEFAULT_BATCH_SIZE),
    "lanes": (int, DEFAULT_LANES),
    "processes": (int, DEFAULT_PROCESSES),
    "connect_timeout": (float, DEFAULT_CONNECT_TIMEOUT),
    "read_timeout": (float, DEFAULT_READ_TIMEOUT),
    "answer_timeout": (float, None),
    "rate_limit": (float, None),
}


def default_batch_size(department: str) -> int:
    """Records per request to `department` when its connection does not say (``extra.batch_size``)."""
    return BATCH_SIZE_DEFAULTS.get(department, DEFAULT_BATCH_SIZE)


def _bad(connection: str, zh: str, en: str) -> ConfigError:
    """One sentence, Chinese first: what is wrong with which field of which connection."""
    return ConfigError(f"部门连接 {connection} 配置有误：{zh} (connection {connection}: {en})")


def _number(name: str, extra: Mapping[str, Any], key: str, default: float | None = None) -> Any:
    kind, usual = _NUMBERS[key]
    default = usual if default is None else default
    raw = extra.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = None if isinstance(raw, bool) else kind(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or not 0 < value < math.inf:  # NaN is not <= 0 either, and infinity is no timeout or rate
        noun = "a positive integer" if kind is int else "a positive number"
        raise _bad(name, f"extra 中的 {key} 应为{'正整数' if kind is int else '正数'}",
                   f"field 'extra' has a malformed {key!r} (expected {noun})")
    return value


def _existing_file(name: str, extra: Mapping[str, Any], key: str) -> str | None:
    value = extra.get(key)
    if not value:
        return None
    if not isinstance(value, str) or not Path(value).is_file():
        shown = value if isinstance(value, str) else type(value).__name__
        raise _bad(name, f"extra 中 {key} 指向的文件不存在或无法读取（{shown}），请放置 PEM 文件或改正路径",
                   f"field 'extra' names a {key!r} file that does not exist or is not readable ({shown})")
    return value


def _pem_pair(name: str, extra: Mapping[str, Any], prefix: str, purpose: str) -> tuple[str, str] | None:
    """``extra.<prefix>_cert`` and ``extra.<prefix>_key``: both existing files, or neither."""
    cert, key = _existing_file(name, extra, f"{prefix}_cert"), _existing_file(name, extra, f"{prefix}_key")
    if bool(cert) != bool(key):
        missing = f"{prefix}_key" if cert else f"{prefix}_cert"
        raise _bad(name, f"extra 缺少 {missing}：{purpose} 需要同时配置 {prefix}_cert 与 {prefix}_key",
                   f"field 'extra' lacks {missing!r}; {purpose} needs both {prefix}_cert and {prefix}_key")
    return (cert, key) if cert and key else None


def _transport(name: str, extra: Mapping[str, Any]) -> TransportSettings:
    return TransportSettings(
        connect_timeout=_number(name, extra, "connect_timeout"),
        read_timeout=_number(name, extra, "read_timeout"),
        answer_timeout=_number(name, extra, "answer_timeout"),
        verify=_existing_file(name, extra, "ca_bundle") or _flag(extra.get("verify", True)),
        client_cert=_pem_pair(name, extra, "client", "mTLS"),
        rate_limit=_number(name, extra, "rate_limit"),
    )


def _extra(name: str, extra: Any) -> Mapping[str, Any]:
    if extra is None:
        return {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra or "{}")
        except ValueError:
            raise _bad(name, "extra 字段不是合法 JSON", "field 'extra' is not valid JSON") from None
    if not isinstance(extra, Mapping):
        raise _bad(name, "extra 字段应为 JSON 对象", "field 'extra' must be a JSON object")
    return extra


def _flag(value: Any) -> bool:
    return value.strip().lower() not in {"false", "0", "no", "off"} if isinstance(value, str) else bool(value)


def _from_uri(name: str, raw: str) -> dict[str, Any]:
    """Airflow's URI connection form, ``type://login:password@host:port/schema?key=value&…``, as the fields
    of the JSON form (query keys become ``extra``; ``__extra__`` carries extra as JSON text)."""
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        raise _bad(name, "URI 形式中的端口号无效", "field 'port' is malformed in the URI form") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return {
        "conn_type": parts.scheme, "host": unquote(parts.hostname or ""), "port": port,
        "schema": unquote(parts.path[1:]), "login": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "extra": query.pop(_EXTRA_KEY) if _EXTRA_KEY in query else query,
    }


def _fields(name: str, raw: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """The connection's fields from a mapping, Airflow's JSON form or Airflow's URI form."""
    if isinstance(raw, Mapping):
        return raw
    text = raw.strip()
    if "://" in text and not text.startswith("{"):
        return _from_uri(name, text)
    try:
        conn = json.loads(text)
    except ValueError:
        raise _bad(name, "不是合法 JSON（请使用 Airflow 的 JSON 或 URI 连接格式）",
                   "not valid JSON (use Airflow's JSON or URI connection format)") from None
    if not isinstance(conn, dict):
        raise _bad(name, "应为 JSON 对象（Airflow 的 JSON 连接格式）",
                   "expected a JSON object (Airflow's JSON connection format)")
    return conn


def _base_url(name: str, conn: Mapping[str, Any]) -> str:
    """``scheme://host[:port]``; the scheme is ``schema``, else an http(s) ``conn_type``, else http."""
    host = str(conn["host"])
    scheme, _, bare = host.rpartition("://")  # Airflow also allows the protocol inside host
    conn_type = str(conn.get("conn_type") or "")
    scheme = conn.get("schema") or scheme or (conn_type if conn_type in _WEB_SCHEMES else "http")
    if scheme not in _WEB_SCHEMES:
        raise _bad(name, f"schema 应为 http 或 https，而不是 {scheme!r}", f"field 'schema' must be http or https, "
                   f"not {scheme!r}")
    try:
        port = f":{int(conn['port'])}" if conn.get("port") else ""
    except (TypeError, ValueError):
        raise _bad(name, "port 应为数字", "field 'port' must be a number") from None
    return f"{scheme}://{bare}{port}"


def parse_connection(department: str, raw: str | Mapping[str, Any]) -> DepartmentSettings:
    """Settings from Airflow's JSON or URI connection form (or its fields as a mapping); errors name the
    connection and the field. TLS files named in ``extra`` must exist now, not at the first call."""
    name = f"dept_{department}"
    conn = _fields(name, raw)
    if not conn.get("host"):
        raise _bad(name, "缺少 host", "field 'host' is missing")
    extra = _extra(name, conn.get("extra"))
    wsdl = extra.get("wsdl")
    return DepartmentSettings(
        department=department,
        base_url=_base_url(name, conn),
        login=conn.get("login") or None,
        password=conn.get("password") or None,
        wsdl=str(wsdl) if wsdl else None,
        batch_size=_number(name, extra, "batch_size", default_batch_size(department)),
        lanes=_number(name, extra, "lanes"),
        processes=_number(name, extra, "processes"),
        transport=_transport(name, extra),
        x509=_pem_pair(name, extra, "x509", "an X.509 signature"),
    )
