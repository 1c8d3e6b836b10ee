"""Where the ``schemas/`` data package is: found by import, from a checkout and from an installed wheel."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

__all__ = ["schema_path"]


@cache
def _root() -> Path:
    return Path(str(files("schemas")))


def schema_path(*parts: str) -> Path:
    """A file or folder under ``schemas/``, e.g. ``schema_path("catalog", "items.yaml")``."""
    return _root().joinpath(*parts)
