"""What the docker tests read: the compose file (YAML anchors and merge keys resolved), the Dockerfile, the lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"


def locked_version(package: str) -> str:
    """The version of `package` pinned in uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    (version,) = {p["version"] for p in lock["package"] if p["name"] == package}
    return str(version)


def uv_version() -> str:
    """The uv the Makefile installs (``UV_VERSION := …``)."""
    found = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert found, "UV_VERSION not found in the Makefile"
    return found.group(1)


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture(scope="session")
def dockerfile() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")
