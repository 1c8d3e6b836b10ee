"""Where the ``schemas/`` data package is: found by import, from a checkout and from an installed wheel; and one
way to read a versioned YAML file of it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

import yaml

from lianban.errors import ConfigError

__all__ = ["load_versioned", "schema_path"]

T = TypeVar("T")


@cache
def _root() -> Path:
    return Path(str(files("schemas")))


def schema_path(*parts: str) -> Path:
    """A file or folder under ``schemas/``, e.g. ``schema_path("catalog", "items.yaml")``."""
    return _root().joinpath(*parts)


def load_versioned(path: Path, build: Callable[[Any], T], zh: str, en: str) -> T:
    """`build` over the YAML document at `path`, which must say ``version: 1``; anything wrong with the file or
    what `build` finds in it is one ConfigError naming the file (`zh` / `en`: what it holds)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("version") != 1:
            raise ValueError("expected version: 1")
        return build(data)
    except (OSError, yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"无法读取{zh} {path}：{exc} (cannot read {en})") from exc
