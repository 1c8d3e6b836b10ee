"""Issue 3, done when: a toy department made with ``lianban connectors new`` passes the shared contract suite
once its tables are filled. Everything happens in a copy of the repository, as a department engineer would
do it in their checkout: scaffold and register, fill the status table, give it an item (and its 皖事通办
code), then run ``pytest tests/contract -k toy``. No line of runner, demo or contract code names the toy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from lianban.app.scaffold import REPO
from tests.catalog_kit import add_item

NAME = "toy"
ITEM = "15"
#: what a department engineer copies: the code, the schemas, the contract suite and its fixtures
TREE = ("lianban", "connectors", "simulators", "schemas", "tests/contract", "tests/conftest.py", "pyproject.toml",
        ".importlinter")
IGNORED = shutil.ignore_patterns("__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "*.pyc")


def copy_repository(target: Path) -> Path:
    for rel in TREE:
        source, dest = REPO / rel, target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, ignore=IGNORED)
        else:
            shutil.copy2(source, dest)
    return target


def run(root: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in the copy, importing the copy's packages (never the checkout's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_"))}
    env["PYTHONPATH"] = str(root)
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def fill_tables(root: Path) -> None:
    """What the department's IT staff do: their seven status codes, one item, its 皖事通办 code."""
    statuses = root / "connectors" / NAME / "statuses.py"
    statuses.write_text(statuses.read_text(encoding="utf-8").replace('    # "CODE_', '    "WJ_'), encoding="utf-8")
    add_item(root, NAME, ITEM, "玩具申领", (f"341600-WJ-QT-00{ITEM}", "亳州市玩具局"))


def test_a_scaffolded_toy_department_passes_the_contract_suite_once_its_tables_are_filled(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    made = run(root, "-m", "lianban.app.cli", "connectors", "new", NAME, "--title", "玩具局", "--register",
               "--root", str(root), timeout=60)
    assert made.returncode == 0, made.stdout + made.stderr
    assert (root / "connectors" / NAME / "connector.py").exists()
    rules = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=root,
                           env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=60)
    assert rules.returncode == 0 and f"connectors.{NAME}" in (root / ".importlinter").read_text(), rules.stdout
    fill_tables(root)

    suite = run(root, "-m", "pytest", "-q", "tests/contract", "-k", NAME, "-p", "no:cacheprovider",
                f"--basetemp={tmp_path / 'contract-tmp'}", timeout=150)

    report = suite.stdout + suite.stderr
    assert suite.returncode == 0, report[-4000:]
    passed = re.search(r"(\d+) passed", report)
    assert passed and int(passed.group(1)) > 0, report[-2000:]
    assert not re.search(r"\d+ (failed|error|xfailed|skipped)", report), report[-2000:]
