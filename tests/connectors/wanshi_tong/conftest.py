"""Fixtures for the 皖事通办 connector: the real platform simulator on 127.0.0.1, and a connector for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connectors.wanshi_tong.connector import WanshiTongConnector
from lianban.settings import connection_json, parse_connection
from simulators.rest_department import serve_in_background
from simulators.wanshi_tong import create_app

APP_ID, SECRET = "lianban-hub", "wst-secret"


@pytest.fixture
def platform_url(tmp_path: Path) -> Iterator[str]:
    with serve_in_background(create_app(tmp_path / "wst.db", APP_ID, SECRET)) as url:
        yield url


@pytest.fixture
def connect() -> Callable[..., WanshiTongConnector]:
    """connect(url, secret=SECRET, batch_size=100): a connector built the way the DAG builds it."""

    def build(url: str, secret: str = SECRET, batch_size: int = 100) -> WanshiTongConnector:
        raw = connection_json(url, APP_ID, secret, batch_size=batch_size)
        return WanshiTongConnector.from_settings(parse_connection("wanshi_tong", raw))

    return build
