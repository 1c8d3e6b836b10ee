"""Transports are built here and only here: a ``requests.Session`` factory and a zeep client factory.

Every session this module builds has, by construction:

* **timeouts** on every request (connect, read); zeep's ``operation_timeout`` (None by default) is set too;
* **a deadline for the whole answer** (``answer_deadline``: from the request's start to the body's last byte),
  where the read timeout bounds each wait for the next bytes only: an answer trickled a few bytes at a time is
  cut at the deadline and raises ``requests.ReadTimeout``, as a silent one does;
* **retries for idempotent calls only**: GET/HEAD/OPTIONS are retried a few times with exponential backoff on
  connection failures, read failures and HTTP 429/502/503/504, waiting what Retry-After asks (at most
  :data:`MAX_RETRY_AFTER` seconds). POST is never resent here: a lost answer to a delivery is the pipeline's
  business (idempotency keys, backoff, dead letters). A connection that was never established sends nothing,
  so urllib3 retries it for any method;
* **client-side rate limiting** when ``rate_limit`` (requests per second) is set: a token bucket per session, or
  the one ``limiter`` the caller shares with its sessions (and paces on: :meth:`TokenBucket.ready`);
* **TLS**: verification on unless a test turns it off, an optional CA bundle, an optional client certificate
  (mTLS);
* **a size limit** on answers (:data:`MAX_RESPONSE_BYTES`): a larger body raises :class:`ResponseTooLarge`;
* our **User-Agent**, and no proxies from the environment.

XML parsing is hardened (no DTDs, no entities, no network). Connectors receive what these functions build;
tests may pass a session pointed at a local server.

Exceptions leaving a session are ``requests``' own, plus::

    requests.RequestException
     ├── ResponseTooLarge     the answer exceeded max_response_bytes; it was not read further
     └── Timeout
          └── ReadTimeout     also: the answer was not complete at its deadline; it was not read further
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import DecodeError, MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from lianban import __version__
from lianban.wire.settings import MAX_RESPONSE_BYTES, Limiter, TransportSettings

if TYPE_CHECKING:
    import zeep

__all__ = ["ResponseTooLarge", "TokenBucket", "TransportSettings", "make_session", "make_zeep_client",
           "read_limited"]

USER_AGENT = f"lianban/{__version__} (+retirement-one-thing data-exchange hub)"
RETRY_BACKOFF = 0.3  # seconds; doubles per attempt (urllib3: no wait before the first retry)
MAX_RETRY_AFTER = 10.0  # never wait longer than this inside one call; the pipeline backs off further
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CHUNK = 64 * 1024


class ResponseTooLarge(requests.exceptions.RequestException):
    """The answer is larger than the session accepts; nothing beyond the limit was read."""


class TokenBucket:
    """At most `rate` acquisitions per second on average, bursts of at most `burst`; thread-safe.

    ``acquire`` blocks until a token is free. `clock` and `sleep` are injectable for tests.
    """

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate, self.burst = rate, max(burst, 1.0)
        self._clock, self._sleep = clock, sleep
        self._tokens, self._last = self.burst, clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            wait = self._refill()
            self._tokens -= 1.0  # may go negative: the debt is what the next caller waits for
            if wait:
                self._sleep(wait)

    def ready(self) -> None:
        """Block until a token is free, without taking it: the wait :meth:`acquire` would have, done beforehand
        (the pipeline paces here before it seals a batch, so that the batch is not sealed and then held back
        past its freshness; the request's own acquire then finds its token)."""
        with self._lock:
            wait = self._refill()
            if wait:
                self._sleep(wait)

    def _refill(self) -> float:
        """Tokens added for the time since the last look; how long until one is free."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        return (1.0 - self._tokens) / self.rate if self._tokens < 1.0 else 0.0


class _BoundedRetry(Retry):
    """urllib3's Retry, but a Retry-After longer than :data:`MAX_RETRY_AFTER` is cut to that bound, and a
    read failure that exhausts the retries leaves as itself (``requests.ReadTimeout``), as it would without
    retries, not wrapped into a connection error."""

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)

    def increment(self, method: str | None = None, url: str | None = None, response: BaseHTTPResponse | None = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: TracebackType | None = None,
                  ) -> Self:
        try:
            return super().increment(method, url, response, error, _pool, _stacktrace)
        except MaxRetryError:
            if isinstance(error, ReadTimeoutError | ProtocolError):
                raise error from None
            raise


def retry_policy(retries: int) -> Retry:
    """Retry idempotent methods only, with backoff, honouring (bounded) Retry-After; POST never."""
    return _BoundedRetry(
        total=retries, connect=retries, read=retries, status=retries, other=0, redirect=0,
        allowed_methods=IDEMPOTENT_METHODS, status_forcelist=RETRY_STATUSES, backoff_factor=RETRY_BACKOFF,
        respect_retry_after_header=True, raise_on_status=False, raise_on_redirect=False,
    )


def _refuse_declared(response: requests.Response, limit: int) -> None:
    declared = response.headers.get("Content-Length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit and response.request.method != "HEAD":
        response.close()
        raise ResponseTooLarge(f"answer declares {declared} bytes, more than the limit of {limit}",
                               response=response)


def read_limited(response: requests.Response, limit: int = MAX_RESPONSE_BYTES,
                 deadline: float | None = None) -> bytes:
    """The body of a streamed `response`, refusing (and closing) it once it passes `limit` bytes, or once
    `deadline` (a :func:`time.monotonic` instant) passes before its last byte came."""
    _refuse_declared(response, limit)
    body = bytearray()
    for chunk in response.iter_content(_CHUNK) if deadline is None else _arriving(response, deadline):
        body += chunk
        if len(body) > limit:
            response.close()
            raise ResponseTooLarge(f"answer exceeds the limit of {limit} bytes", response=response)
    return bytes(body)


def _arriving(response: requests.Response, deadline: float) -> Iterator[bytes]:
    """The body as it arrives, one socket read at a time (``iter_content`` waits for a whole chunk), until
    `deadline`; urllib3's failures leave as requests' own, as ``iter_content``'s do."""
    try:
        while piece := response.raw.read1(_CHUNK, decode_content=True):
            if time.monotonic() > deadline:
                response.close()
                raise requests.ReadTimeout("answer not complete by its deadline", response=response)
            yield piece
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except ReadTimeoutError as exc:
        raise requests.ConnectionError(exc) from exc
    except Urllib3SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc


def _body_hook(limit: int, seconds: float) -> Callable[..., requests.Response]:
    """A response hook: reads a non-streamed body through :func:`read_limited`, by `seconds` after the request
    began; checks only the declared size of a streamed one (its caller reads it, ideally through
    :func:`read_limited`)."""

    def hook(response: requests.Response, *args: Any, stream: bool = False, **kwargs: Any) -> requests.Response:
        if stream:
            _refuse_declared(response, limit)
            return response
        already: object = response._content  # False until read; a stub adapter may hand over bytes
        if already is False:
            deadline = time.monotonic() + seconds - response.elapsed.total_seconds()  # elapsed: until the headers
            response._content = read_limited(response, limit, deadline)
            response._content_consumed = True  # type: ignore[attr-defined]
        elif isinstance(already, bytes) and len(already) > limit:
            raise ResponseTooLarge(f"answer exceeds the limit of {limit} bytes", response=response)
        return response

    return hook


class _HubSession(requests.Session):
    """A Session whose every request carries a timeout (unless the caller gives one) and waits for the
    rate limiter first. A POST is never sent on to where a redirect points (requests follows a 307 or 308 with
    the body and headers as they were): the 3xx comes back to the connector, which says to check the address."""

    def __init__(self, timeout: tuple[float, float], bucket: Limiter | None) -> None:
        super().__init__()
        self._default_timeout = timeout
        self.bucket = bucket

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._default_timeout)
        if (method.decode("ascii") if isinstance(method, bytes) else method).upper() not in ("GET", "HEAD"):
            kwargs["allow_redirects"] = False  # a sealed batch and its signature go to the agreed address only
        if self.bucket is not None:
            self.bucket.acquire()
        return super().request(method, url, *args, **kwargs)


def make_session(settings: TransportSettings | None = None) -> requests.Session:
    """A hardened session: default timeouts and a deadline for each whole answer, TLS verification on,
    idempotent retries, optional rate limit, response size limit, our User-Agent, no environment proxies."""
    settings = settings or TransportSettings()
    bucket = settings.limiter or (TokenBucket(settings.rate_limit) if settings.rate_limit else None)
    session = _HubSession(settings.timeout, bucket)
    adapter = HTTPAdapter(max_retries=retry_policy(settings.retries))
    for prefix in ("http://", "https://"):
        session.mount(prefix, adapter)
    session.hooks["response"].append(_body_hook(settings.max_response_bytes, settings.answer_deadline))
    if settings.response_check:
        check = settings.response_check
        session.hooks["response"].append(lambda response, *args, **kwargs: check(response))
    session.headers["User-Agent"] = USER_AGENT
    session.verify = settings.verify
    if settings.client_cert:
        session.cert = settings.client_cert
    session.trust_env = False  # proxies from the environment never see government traffic
    return session


def make_zeep_client(wsdl: str, settings: TransportSettings | None = None, **client_kwargs: Any) -> zeep.Client:
    """A zeep client over :func:`make_session`, with ``operation_timeout`` set and XML hardened."""
    import zeep
    from zeep.transports import Transport

    settings = settings or TransportSettings()
    transport = Transport(
        session=make_session(settings),
        timeout=settings.connect_timeout + settings.read_timeout,
        operation_timeout=settings.read_timeout,
    )
    transport.session.headers["User-Agent"] = USER_AGENT  # zeep's Transport overwrites it with its own
    zsettings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True,
                              xml_huge_tree=False)
    return zeep.Client(wsdl, transport=transport, settings=zsettings, **client_kwargs)
