"""Transports are built here and only here: a ``requests.Session`` factory and a zeep client factory.

Timeouts are mandatory (zeep's ``operation_timeout`` defaults to None: never again), XML parsing is
hardened (no DTDs, no entities, no network), and every session names itself with a User-Agent.
Connectors receive what these functions build; tests may pass a session pointed at a local server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from lianban import __version__

if TYPE_CHECKING:
    import zeep

USER_AGENT = f"lianban/{__version__} (+retirement-one-thing data-exchange hub)"
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0


@dataclass(frozen=True)
class TransportSettings:
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    verify: bool | str = True  # True, False (tests only) or a CA bundle path
    client_cert: tuple[str, str] | None = None  # (cert, key) for mTLS

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


class _TimeoutSession(requests.Session):
    """A Session whose every request carries a timeout unless the caller gives one."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._default_timeout)
        return super().request(method, url, *args, **kwargs)


def make_session(settings: TransportSettings | None = None) -> requests.Session:
    """A hardened session: default timeouts, TLS verification on, our User-Agent, no retries at this layer."""
    settings = settings or TransportSettings()
    session = _TimeoutSession(settings.timeout)
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
    zsettings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True,
                              xml_huge_tree=False)
    return zeep.Client(wsdl, transport=transport, settings=zsettings, **client_kwargs)
