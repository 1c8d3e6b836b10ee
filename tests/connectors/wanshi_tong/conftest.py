"""Fixtures for the 皖事通办 connector: the real platform simulator on 127.0.0.1 (its answers signed, as
`lianban simulate` serves it), and a connector for it built the way the DAG builds it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connectors.wanshi_tong.connector import WanshiTongConnector
from lianban.app.config import connection_json
from lianban.app.registry import load_connector
from lianban.keys.provision import ensure_keys
from lianban.wire.settings import parse_connection
from simulators.rest_department import serve_in_background
from simulators.runner import response_signer
from simulators.wanshi_tong import create_app

APP_ID, SECRET = "lianban-hub", "wst-secret"


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    """The platform's response-signing key (private half for the simulator, public half for the hub)."""
    keys = tmp_path / "keys"
    ensure_keys(keys)
    return keys


@pytest.fixture
def platform_url(tmp_path: Path, keys_dir: Path) -> Iterator[str]:
    app = response_signer(create_app(tmp_path / "wst.db", APP_ID, SECRET), keys_dir, "wanshi_tong")
    with serve_in_background(app) as url:
        yield url


@pytest.fixture
def connect(keys_dir: Path) -> Callable[..., WanshiTongConnector]:
    """connect(url, secret=SECRET, batch_size=100): a connector built the way the DAG builds it
    (connectors.load_connector), checking the platform's signature on every answer."""

    def build(url: str, secret: str = SECRET, batch_size: int = 100) -> WanshiTongConnector:
        raw = connection_json(url, APP_ID, secret, batch_size=batch_size)
        connector: WanshiTongConnector = load_connector("wanshi_tong", parse_connection("wanshi_tong", raw), keys_dir)
        return connector

    return build
