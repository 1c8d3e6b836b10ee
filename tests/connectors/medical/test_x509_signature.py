"""Optional WS-Security X.509 signature: the bureau takes RSA-SHA256 by the hub's certificate only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.medical.connector import MedicalConnector, RequestSignature
from lianban.app.config import connection_json
from lianban.app.registry import load_connector
from lianban.errors import ConfigError
from lianban.wire.settings import parse_connection
from simulators.kit import engine_for
from simulators.medical import create_app
from simulators.pki import self_signed
from simulators.runner import response_signer, serve


def _cert(folder: Path, name: str) -> tuple[str, str, bytes]:
    cert, key = self_signed(folder, name, kind="rsa", prefix=f"{name}-")
    return str(cert), str(key), cert.read_bytes()


@pytest.fixture
def bureau(tmp_path: Path) -> Iterator[tuple[str, Path, tuple[str, str]]]:
    keys = tmp_path / "keys"
    hub_cert, hub_key, hub_pem = _cert(tmp_path / "pki", "hub")
    engine = engine_for(keys, "medical", tmp_path / "medical.db", 0.1)
    app = response_signer(create_app(engine, "hub", "pw", hub_cert_pem=hub_pem), keys, "medical")
    server, thread, url = serve(app)
    yield url, keys, (hub_cert, hub_key)
    server.should_exit = True
    thread.join(timeout=5)


def _connector(url: str, keys: Path, **extra: str) -> MedicalConnector:
    settings = parse_connection("medical", connection_json(url, "hub", "pw", **extra))
    connector: MedicalConnector = load_connector("medical", settings, keys)
    return connector


def test_signed_with_the_hubs_certificate_is_taken(bureau: tuple[str, Path, tuple[str, str]]) -> None:
    url, keys, (cert, key) = bureau
    report = _connector(url, keys, x509_cert=cert, x509_key=key).health()
    assert report.ok, report.detail


def test_unsigned_or_foreign_signatures_are_refused(bureau: tuple[str, Path, tuple[str, str]],
                                                    tmp_path: Path) -> None:
    url, keys, _ = bureau
    with pytest.raises(ConfigError, match=r"X\.509"):
        _connector(url, keys).poll(["k"])
    other_cert, other_key, _ = _cert(tmp_path / "other", "stranger")
    with pytest.raises(ConfigError, match=r"X\.509"):
        _connector(url, keys, x509_cert=other_cert, x509_key=other_key).poll(["k"])


def test_sha1_signatures_are_refused_as_weak(bureau: tuple[str, Path, tuple[str, str]],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url, keys, (cert, key) = bureau
    weak = RequestSignature(Path(key).read_bytes(), Path(cert).read_bytes())  # zeep's default: RSA-SHA1
    monkeypatch.setattr("connectors.medical.connector.x509_signature", lambda *_: weak)
    with pytest.raises(ConfigError, match="过弱"):
        _connector(url, keys, x509_cert=cert, x509_key=key).poll(["k"])


def test_half_an_x509_setting_fails_at_load(bureau: tuple[str, Path, tuple[str, str]]) -> None:
    url, _, (cert, _key) = bureau
    with pytest.raises(ConfigError, match="x509_key"):
        parse_connection("medical", connection_json(url, "hub", "pw", x509_cert=cert))
