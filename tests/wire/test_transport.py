"""The session and zeep factories (lianban.wire.transport) against a real http.server on 127.0.0.1, and the
connection fields that feed them (lianban.wire.settings: rate_limit, TLS files, Airflow's URI form, the resolver)."""

from __future__ import annotations

import gzip
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from urllib3.response import HTTPResponse

from lianban.app.config import department_settings, set_connection_resolver
from lianban.app.up import free_port
from lianban.domain.schemas import schema_path
from lianban.errors import ConfigError
from lianban.wire.settings import DepartmentSettings, TransportSettings, parse_connection
from lianban.wire.transport import (
    MAX_RETRY_AFTER,
    USER_AGENT,
    ResponseTooLarge,
    TokenBucket,
    make_session,
    make_zeep_client,
    read_limited,
    retry_policy,
)
from simulators.pki import certificate, self_signed, write_pem


class Handler(BaseHTTPRequestHandler):
    """Answers by path; counts every request as (method, path) in ``server.hits``."""

    server: Server

    def _answer(self) -> None:
        self.server.hits[(self.command, self.path)] += 1
        self.server.agents.append(self.headers.get("User-Agent", ""))
        route = ROUTES.get(self.path, ROUTES["/ok"])
        route(self)

    do_GET = do_POST = do_HEAD = _answer

    def send(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _slow(h: Handler) -> None:
    time.sleep(1.0)
    h.send(200)


def _unbounded(h: Handler) -> None:
    """No Content-Length, then more bytes than the client accepts (HTTP/1.0: the body ends at close)."""
    h.send_response(200)
    h.end_headers()
    h.wfile.write(b"x" * 5000)
    h.close_connection = True


def _trickle(pieces: int) -> Callable[[Handler], None]:
    """Headers at once, then the body a byte every 0.05 s: each wait far inside the read timeout."""

    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(pieces))
        h.end_headers()
        try:
            for _ in range(pieces):
                h.wfile.write(b"x")
                h.wfile.flush()
                time.sleep(0.05)
        except OSError:  # the client gave up
            h.close_connection = True

    return route


ROUTES = {
    "/ok": lambda h: h.send(200, b'{"ok": true}'),
    "/busy": lambda h: h.send(503, b"busy", {"Retry-After": "0"}),
    "/busy-1s": lambda h: h.send(503, b"busy", {"Retry-After": "1"}),
    "/slow": _slow,
    "/declared-big": lambda h: h.send(200, b"x" * 2000),
    "/declared-odd": lambda h: h.send(200, b'{"ok": true}', {"Content-Length": "\u00b2"}),
    "/unbounded": _unbounded,
    "/moved": lambda h: h.send(307, b"", {"Location": "/elsewhere"}),
    "/gzip": lambda h: h.send(200, gzip.compress(b'{"ok": true}' * 10_000), {"Content-Encoding": "gzip"}),
    "/trickle": _trickle(60),  # 3 s in all
    "/trickle-short": _trickle(4),  # 0.2 s
}


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: Counter[tuple[str, str]] = Counter()
        self.agents: list[str] = []


def _serve(server: Server, scheme: str) -> Iterator[tuple[str, Server]]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"{scheme}://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


@pytest.fixture
def local() -> Iterator[tuple[str, Server]]:
    yield from _serve(Server(), "http")


@pytest.fixture
def tls_local(tmp_path: Path) -> Iterator[tuple[str, Server, Path]]:
    cert, key = self_signed(tmp_path)
    server = Server()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    for url, srv in _serve(server, "https"):
        yield url, srv, cert


@pytest.fixture
def mtls_local(tmp_path: Path) -> Iterator[tuple[str, Server, Path, tuple[str, str]]]:
    """An HTTPS server that requires a client certificate issued by the department's client CA; yields its
    URL, the server, its (self-signed) certificate to trust, and a client (cert, key) that CA issued."""
    server_cert, server_key = self_signed(tmp_path)
    client_ca = certificate("department client CA", ca=True)
    ca_cert, _ = write_pem(tmp_path, client_ca, "client-ca-")
    client_cert, client_key = write_pem(tmp_path, certificate("lianban hub", ca=False, issuer=client_ca), "client-")
    server = Server()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(server_cert, server_key)
    ctx.load_verify_locations(ca_cert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    for url, srv in _serve(server, "https"):
        yield url, srv, server_cert, (str(client_cert), str(client_key))


# -- timeouts, User-Agent --------------------------------------------------------------------------------
def test_every_request_carries_the_default_timeout(local: tuple[str, Server]) -> None:
    url, _ = local
    session = make_session(TransportSettings(read_timeout=0.2, retries=0))
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        session.get(f"{url}/slow")
    assert time.monotonic() - started < 0.9


def test_an_answer_trickled_past_its_deadline_is_cut_there_as_a_read_timeout(local: tuple[str, Server]) -> None:
    """A party sending its answer a byte at a time, each inside the read timeout: the read timeout alone let it hold
    the lane for the 3 s it took; the whole answer now has twice the read timeout (0.6 s), and the failure is
    the retriable read timeout. A short trickle inside the deadline is read whole."""
    url, _ = local
    session = make_session(TransportSettings(read_timeout=0.3, retries=0))
    for method in ("GET", "POST"):
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            session.request(method, f"{url}/trickle")
        assert 0.55 < time.monotonic() - started < 1.2
    assert session.post(f"{url}/trickle-short").content == b"xxxx"
    assert session.get(f"{url}/gzip").content == b'{"ok": true}' * 10_000  # read as it arrives, still decoded


def test_the_answer_deadline_comes_from_extra_and_must_be_positive(local: tuple[str, Server]) -> None:
    url, _ = local
    transport = parse_connection("health", _conn(answer_timeout="0.4", read_timeout="5")).transport
    assert (transport.answer_deadline, parse_connection("health", _conn()).transport.answer_deadline) == (0.4, 60)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        make_session(replace(transport, retries=0)).get(f"{url}/trickle")
    assert time.monotonic() - started < 1.0
    with pytest.raises(ConfigError, match=r"dept_health: field 'extra' has a malformed 'answer_timeout'"):
        parse_connection("health", _conn(answer_timeout=-1))


def test_the_session_names_itself_and_ignores_environment_proxies(local: tuple[str, Server],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url, server = local
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would fail every call if honoured
    assert make_session().get(f"{url}/ok").json() == {"ok": True}
    assert server.agents == [USER_AGENT]


# -- retries: idempotent only ------------------------------------------------------------------------------
def test_get_is_retried_on_503_but_post_never(local: tuple[str, Server]) -> None:
    url, server = local
    session = make_session(TransportSettings(retries=2))
    assert session.get(f"{url}/busy").status_code == 503
    assert session.post(f"{url}/busy", json={}).status_code == 503
    assert server.hits[("GET", "/busy")] == 3
    assert server.hits[("POST", "/busy")] == 1


def test_a_read_timeout_retries_get_but_never_post_and_stays_a_timeout(local: tuple[str, Server]) -> None:
    url, server = local
    session = make_session(TransportSettings(read_timeout=0.2, retries=1))
    for method in ("GET", "POST"):
        with pytest.raises(requests.ReadTimeout):
            session.request(method, f"{url}/slow")
    assert (server.hits[("GET", "/slow")], server.hits[("POST", "/slow")]) == (2, 1)


def test_a_retry_waits_what_retry_after_asks(local: tuple[str, Server]) -> None:
    url, server = local
    started = time.monotonic()
    make_session(TransportSettings(retries=1)).get(f"{url}/busy-1s")
    assert server.hits[("GET", "/busy-1s")] == 2 and time.monotonic() - started >= 0.95


def test_retry_after_is_bounded_inside_one_call() -> None:
    answer = HTTPResponse(status=503, headers={"Retry-After": "3600"})
    assert retry_policy(2).get_retry_after(answer) == MAX_RETRY_AFTER


def test_a_closed_port_fails_fast_with_a_connection_error() -> None:
    with pytest.raises(requests.ConnectionError):
        make_session(TransportSettings(retries=0)).get(f"http://127.0.0.1:{free_port()}/")


# -- rate limit ----------------------------------------------------------------------------------------------
def test_rate_limit_spaces_requests(local: tuple[str, Server]) -> None:
    url, server = local
    session = make_session(TransportSettings(rate_limit=10))
    started = time.monotonic()
    for _ in range(6):
        session.get(f"{url}/ok")
    assert time.monotonic() - started >= 0.45  # the first is free, then one every 0.1 s
    assert server.hits[("GET", "/ok")] == 6


def test_token_bucket_waits_exactly_for_the_next_token() -> None:
    now, waits = [0.0], []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    bucket = TokenBucket(rate=4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        bucket.acquire()
    now[0] += 10  # idle: the bucket refills to its burst only
    bucket.acquire()
    bucket.acquire()
    assert waits == [0.25, 0.25, 0.25]


def test_token_bucket_ready_waits_for_the_next_token_without_taking_it() -> None:
    """The pace before a batch is sealed: the wait happens there, and the request's own acquire then finds its
    token (the department's rate is kept: one request per token, not two)."""
    now, waits = [0.0], []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    bucket = TokenBucket(rate=4, clock=lambda: now[0], sleep=sleep)
    bucket.acquire()
    bucket.ready()
    bucket.acquire()
    bucket.ready()
    bucket.ready()  # nothing taken since: no second wait
    bucket.acquire()
    assert waits == [0.25, 0.25]


# -- size limit ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/declared-big", "/unbounded"])
def test_answers_over_the_size_limit_are_refused(local: tuple[str, Server], path: str) -> None:
    url, _ = local
    with pytest.raises(ResponseTooLarge):
        make_session(TransportSettings(max_response_bytes=1000)).get(url + path)


def test_read_limited_reads_a_streamed_body_within_the_limit(local: tuple[str, Server]) -> None:
    url, _ = local
    session = make_session(TransportSettings(max_response_bytes=1000))
    assert read_limited(session.get(f"{url}/ok", stream=True), 1000) == b'{"ok": true}'
    with pytest.raises(ResponseTooLarge):
        session.get(f"{url}/declared-big", stream=True)


def test_a_declared_length_of_digits_that_are_no_number_is_read_as_none(local: tuple[str, Server]) -> None:
    """"²" is a digit to str.isdigit but no number to int: the size check raised a ValueError out of the transport,
    which a deliver run takes for a connector that could not send a batch the department had been sent."""
    url, _ = local
    session = make_session(TransportSettings(max_response_bytes=1000))
    assert session.get(f"{url}/declared-odd").status_code == 200


# -- TLS -------------------------------------------------------------------------------------------------
def test_tls_verification_is_on_by_default(tls_local: tuple[str, Server, Path]) -> None:
    url, server, _ = tls_local
    assert make_session().verify is True
    with pytest.raises(requests.exceptions.SSLError):
        make_session(TransportSettings(retries=0)).get(f"{url}/ok")
    assert not server.hits


def test_a_ca_bundle_makes_the_certificate_trusted(tls_local: tuple[str, Server, Path]) -> None:
    url, _, cert = tls_local
    assert make_session(TransportSettings(verify=str(cert))).get(f"{url}/ok").json() == {"ok": True}


def test_the_client_certificate_gets_through_a_server_that_requires_mtls(
        mtls_local: tuple[str, Server, Path, tuple[str, str]]) -> None:
    url, server, server_cert, client = mtls_local
    session = make_session(TransportSettings(verify=str(server_cert), client_cert=client, retries=0))
    assert session.get(f"{url}/ok").json() == {"ok": True}
    assert server.hits[("GET", "/ok")] == 1


def test_without_the_client_certificate_the_mtls_server_refuses_the_connection(
        mtls_local: tuple[str, Server, Path, tuple[str, str]]) -> None:
    url, server, server_cert, _ = mtls_local
    with pytest.raises(requests.ConnectionError):  # SSLError (alert: certificate required) or a reset
        make_session(TransportSettings(verify=str(server_cert), retries=0)).get(f"{url}/ok")
    assert not server.hits


def test_the_mtls_server_refuses_a_client_certificate_its_ca_did_not_issue(
        mtls_local: tuple[str, Server, Path, tuple[str, str]], tmp_path: Path) -> None:
    url, server, server_cert, _ = mtls_local
    stranger = write_pem(tmp_path, certificate("stranger", ca=False), "stranger-")
    with pytest.raises(requests.ConnectionError):
        make_session(TransportSettings(verify=str(server_cert), client_cert=(str(stranger[0]), str(stranger[1])),
                                       retries=0)).get(f"{url}/ok")
    assert not server.hits


# -- zeep --------------------------------------------------------------------------------------------------
def test_zeep_client_has_operation_timeout_and_our_session() -> None:
    client = make_zeep_client(str(schema_path("medical", "medical.wsdl")),
                              TransportSettings(connect_timeout=2, read_timeout=7))
    assert client.transport.operation_timeout == 7
    assert client.transport.session.headers["User-Agent"] == USER_AGENT
    assert client.settings.forbid_dtd and client.settings.forbid_entities and client.settings.forbid_external


def test_zeep_posts_under_the_answer_deadline_and_the_medical_item_is_retried(local: tuple[str, Server]) -> None:
    """zeep's SOAP call goes through the same session: a trickled SOAP answer is cut at the deadline, and the
    medical connector reads that failure as one to retry (not a refusal)."""
    from connectors.medical.connector import translate_error
    from lianban.errors import RetriableError

    url, _ = local
    client = make_zeep_client(str(schema_path("medical", "medical.wsdl")),
                              TransportSettings(read_timeout=0.3, answer_timeout=0.5, retries=0))
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout) as cut:
        client.transport.post(f"{url}/trickle", "<soap/>", {})
    assert time.monotonic() - started < 1.0
    assert isinstance(translate_error(cut.value), RetriableError)
    assert client.transport.post(f"{url}/trickle-short", "<soap/>", {}).content == b"xxxx"


# -- settings that feed the transport (lianban.wire.settings) ----------------------------------------------------
def _conn(**extra: object) -> str:
    return json.dumps({"conn_type": "http", "host": "h.example", "login": "hub", "password": "pw",
                       "extra": extra})


def test_rate_limit_comes_from_extra_and_must_be_positive() -> None:
    assert parse_connection("health", _conn(rate_limit="2.5")).rate_limit == 2.5
    assert parse_connection("health", _conn()).rate_limit is None
    with pytest.raises(ConfigError, match=r"dept_health: field 'extra' has a malformed 'rate_limit'"):
        parse_connection("health", _conn(rate_limit=0))


@pytest.mark.parametrize("field", ["ca_bundle", "client_cert", "client_key"])
def test_a_missing_tls_file_fails_at_load_naming_connection_and_field(tmp_path: Path, field: str) -> None:
    cert, key = self_signed(tmp_path)
    files = {"ca_bundle": str(cert), "client_cert": str(cert), "client_key": str(key)}
    files[field] = str(tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match=rf"dept_medical: field 'extra' names a '{field}' file"):
        parse_connection("medical", _conn(**files))


def test_tls_files_that_exist_reach_the_transport(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    t = parse_connection("medical", _conn(ca_bundle=str(cert), client_cert=str(cert), client_key=str(key))).transport
    assert t.verify == str(cert) and t.client_cert == (str(cert), str(key))
    with pytest.raises(ConfigError, match="dept_medical: field 'extra' lacks 'client_key'"):
        parse_connection("medical", _conn(client_cert=str(cert)))


def test_airflow_uri_form_is_accepted() -> None:
    raw = ("https://hub:p%40ss%2Fw0rd@med.example:8443/?wsdl=https%3A%2F%2Fmed.example%2Fws%3Fwsdl"
           "&batch_size=50&rate_limit=5&verify=false")
    s = parse_connection("medical", raw)
    assert (s.base_url, s.login, s.password, s.wsdl, s.batch_size) == (
        "https://med.example:8443", "hub", "p@ss/w0rd", "https://med.example/ws?wsdl", 50)
    assert s.transport.rate_limit == 5 and s.transport.verify is False
    assert parse_connection("health", "http://h.example:80/https").base_url == "https://h.example:80"


def test_uri_form_extra_may_be_one_json_value() -> None:
    s = parse_connection("health", "http://h.example/?__extra__=%7B%22batch_size%22%3A+7%7D")
    assert s.batch_size == 7


def test_a_registered_resolver_replaces_the_environment() -> None:
    asked: list[str] = []

    def resolver(department: str) -> DepartmentSettings:
        asked.append(department)
        return DepartmentSettings(department, "http://resolved.example")

    previous = set_connection_resolver(resolver)
    try:
        assert department_settings("health").base_url == "http://resolved.example"
        assert department_settings("health", env={"AIRFLOW_CONN_DEPT_HEALTH": _conn()}).base_url == \
            "http://h.example"  # an explicit env is read as given
    finally:
        set_connection_resolver(previous)
    assert asked == ["health"]


def test_a_post_is_not_sent_on_where_a_redirect_points_a_get_is(local: tuple[str, Server]) -> None:
    """A gateway answering 307 to a POST: requests re-sent the body and its signature headers to the new address
    (the retry policy's redirect=0 binds urllib3 only); the 307 now comes back to the connector. A WSDL fetched by
    GET still follows it."""
    url, server = local
    session = make_session(TransportSettings(retries=0))
    assert session.post(f"{url}/moved", data=b"sealed batch").status_code == 307
    assert server.hits[("POST", "/elsewhere")] == 0
    assert session.get(f"{url}/moved").status_code == 200 and server.hits[("GET", "/elsewhere")] == 1
