"""The lianban CLI run as an operator types it: in a process of its own, against one home (none of the caller's
LIANBAN_* settings or department connections), on a terminal wide enough that no table cell is cut."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lianban(home: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """``lianban <args>`` with LIANBAN_HOME=`home` (and `extra_env`), from the repository's root."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_")) and k not in ("TTY_COMPATIBLE", "FORCE_COLOR")}
    env.update(LIANBAN_HOME=str(home), COLUMNS="200", **extra_env)
    return subprocess.run([sys.executable, "-m", "lianban.app.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
