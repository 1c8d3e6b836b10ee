"""The one way key material reaches the disk: whole JSON files, mode 0600, swapped in atomically.

A reader never sees a half-written file: the body goes to a temporary file in the same folder (created
0600, so it is never readable by others, not even for a moment), then replaces the target in one rename.
Folders are created 0700.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_private_json"]


def write_private_json(path: Path, body: Any) -> None:
    """Write `body` as JSON to `path` (mode 0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(body, fh)
    os.replace(tmp, path)
