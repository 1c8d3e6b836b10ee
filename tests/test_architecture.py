"""The import rules in ``.importlinter`` hold, and the check (``lint-imports``, run by ``make lint``) catches a breach.

A copy of the packages is broken on purpose, one forbidden import at a time, and ``lint-imports`` must fail
naming the contract and the offending import line: the core layers, the core below ``lianban.app`` importing
connectors, anything but ``dags/`` importing Airflow, connectors importing simulators or the app, and one
department importing another. The real tree must keep every contract, and every department package must be
named in the independence contract (it is listed by hand).
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
COPIED = ("lianban", "connectors", "simulators", "schemas")


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """lint-imports on the packages under ``cwd`` (they shadow the editable install), without a cache."""
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the packages and ``.importlinter`` for the whole module; each test undoes its edit."""
    root = tmp_path_factory.mktemp("tree")
    for name in COPIED:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / ".importlinter", root / ".importlinter")
    return root


@pytest.fixture
def edit(tree: Path) -> Iterator[Callable[[str, str], int]]:
    """``edit(path, line)`` appends ``line`` to a copied module and returns its line number; undone after."""
    originals: dict[Path, str] = {}

    def append(relative: str, line: str) -> int:
        path = tree / relative
        text = originals.setdefault(path, path.read_text(encoding="utf-8"))
        path.write_text(text.rstrip("\n") + "\n" + line + "\n", encoding="utf-8")
        return len(text.rstrip("\n").splitlines()) + 1

    yield append
    for path, text in originals.items():
        path.write_text(text, encoding="utf-8")


def contract_name(contract_id: str) -> str:
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter", encoding="utf-8")
    return config[f"importlinter:contract:{contract_id}"]["name"]


BREACHES = [
    pytest.param("lianban/domain/catalog.py", "connectors.medical", "core-below-app-no-connectors",
                 id="domain-imports-a-connector"),
    pytest.param("lianban/pipeline/deliver.py", "simulators.medical", "core-below-app-no-connectors",
                 id="pipeline-imports-a-simulator"),
    pytest.param("lianban/crypto/hashing.py", "lianban.app.config", "core-layers",
                 id="crypto-imports-the-app"),
    pytest.param("lianban/wire/transport.py", "airflow", "only-dags-import-airflow",
                 id="wire-imports-airflow"),
    pytest.param("lianban/app/jobs.py", "airflow", "only-dags-import-airflow",
                 id="app-imports-airflow"),
    pytest.param("simulators/engine.py", "airflow", "only-dags-import-airflow",
                 id="simulator-imports-airflow"),
    pytest.param("connectors/medical/connector.py", "simulators.medical", "connectors-no-simulators-or-app",
                 id="connector-imports-a-simulator"),
    pytest.param("connectors/_rest.py", "lianban.app.registry", "connectors-no-simulators-or-app",
                 id="shared-rest-dialect-imports-the-app"),
    pytest.param("connectors/health/connector.py", "connectors.medical", "departments-independent",
                 id="one-department-imports-another"),
]


@pytest.mark.parametrize(("module_file", "imported", "contract_id"), BREACHES)
def test_a_forbidden_import_breaks_its_contract(
    tree: Path, edit: Callable[[str, str], int], module_file: str, imported: str, contract_id: str
) -> None:
    line_number = edit(module_file, f"import {imported}  # noqa")
    importer = module_file.removesuffix(".py").replace("/", ".")

    result = lint_imports(tree, "--contract", contract_id)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"{contract_name(contract_id)} BROKEN" in output, output
    assert f"{importer} -> {imported} (l.{line_number})" in output, output


def test_a_new_core_module_outside_every_layer_breaks_the_layers_contract(tree: Path) -> None:
    stray = tree / "lianban" / "helpers.py"
    stray.write_text('"""Belongs to no layer."""\n', encoding="utf-8")
    try:
        result = lint_imports(tree, "--contract", "core-layers")
    finally:
        stray.unlink()

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "The following modules are not listed as layers:\n\n- lianban.helpers" in output, output


def test_the_repository_keeps_every_import_contract() -> None:
    result = lint_imports(REPO)

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_department_package_is_in_the_independence_contract() -> None:
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter", encoding="utf-8")
    listed = set(config["importlinter:contract:departments-independent"]["modules"].split())
    departments = {
        f"connectors.{path.parent.name}"
        for path in (REPO / "connectors").glob("*/__init__.py")
        if not path.parent.name.startswith("_")
    }

    assert listed == departments


def test_the_package_docstring_draws_every_layer_and_module() -> None:
    """``lianban/__init__.py`` names each layer and each module in it, and nothing that is not there."""
    import lianban

    doc = lianban.__doc__ or ""
    root = REPO / "lianban"
    for layer in sorted(p for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        assert re.search(rf"^    {layer.name}\b", doc, re.M), f"layer {layer.name} is not drawn"
        for module in sorted(layer.glob("*.py")):
            if module.stem != "__init__" and not module.stem.startswith("_"):
                assert re.search(rf"\b{module.stem}\b", doc), f"{layer.name}/{module.name} is not named"
        for sub in sorted(p for p in layer.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
            assert f"{sub.name}/" in doc, f"{layer.name}/{sub.name}/ is not named"
