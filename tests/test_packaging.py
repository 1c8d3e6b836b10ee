"""Packaging tells the truth: the wheel carries the core, the connectors and the schemas they read, not the simulators.

The wheel is built once per module with the project's own uv (``make install`` puts it in ``.tools/bin/uv``), then
checked twice: by its file list, and by unpacking it and loading the catalog from it in a process that cannot see
the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".tools" / "bin" / "uv"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not UV.exists():
        pytest.skip(f"{UV} is missing; run `make install` to create the project's uv")
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    done = subprocess.run([str(UV), "build", "--wheel", "--out-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"uv build failed:\n{done.stdout}\n{done.stderr}"
    (built,) = out.glob("lianban-*.whl")
    return built


def test_wheel_carries_the_schemas_and_not_the_simulators(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "schemas/__init__.py",
        "schemas/catalog/items.yaml",
        "schemas/catalog/departments.yaml",
        "schemas/medical/medical.wsdl",
        "schemas/medical/medical.xsd",
        "schemas/wanshi_tong/codes.yaml",
        "lianban/ledger/migrations/env.py",
        "lianban/ledger/migrations/script.py.mako",
        "lianban/app/templates/connector/connector.py.tmpl",
    }
    expected |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "schemas").glob("*/openapi.yaml")}
    versions = {p.relative_to(ROOT).as_posix() for p in (ROOT / "lianban/ledger/migrations/versions").glob("*.py")}
    assert versions, "no migration versions in the checkout"
    expected |= versions
    assert sorted(expected - names) == []
    assert sorted(n for n in names if n.startswith(("simulators/", "tests/", "dags/", "bench/"))) == []


def test_installed_wheel_finds_its_catalog_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = (
        "import lianban.domain.catalog, schemas\n"
        "from connectors.wanshi_tong.connector import load_codes\n"
        "catalog = lianban.domain.catalog.load_catalog()\n"
        "assert len(catalog.items) >= 14, len(catalog.items)\n"
        "assert set(catalog.items) <= set(load_codes().items)\n"
        "print(lianban.domain.catalog.__file__)\n"
        "print(schemas.__file__)\n"
    )
    # PYTHONPATH comes before the venv's site-packages, whose editable install points at the checkout
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for printed in done.stdout.split():
        assert Path(printed).resolve().is_relative_to(site.resolve()), f"{printed} is not from the unpacked wheel"
    assert len(done.stdout.split()) == 2
