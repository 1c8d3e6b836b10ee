"""`lianban connectors new` (lianban.app.scaffold): a toy department scaffolded into a copy of the repository
imports, passes its own generated tests once its status table is filled, satisfies the connector contract
and talks to the shared REST simulator."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from typer.testing import CliRunner

import connectors
from lianban.app.cli import app
from lianban.app.scaffold import REPO, Scaffold, catalog_line, plan, register_department, scaffold
from lianban.crypto.batch import BatchOpener, seal_batch
from lianban.domain.statuses import Status
from lianban.errors import ConfigError, RejectedError
from lianban.keys import keysets
from lianban.keys.names import hub_signing_name, names_for
from lianban.wire.contract import DepartmentConnector, SealedItem
from lianban.wire.gateway import GatewayAuth
from lianban.wire.ids import aad
from lianban.wire.settings import TransportSettings
from lianban.wire.signatures import AnswerCheck
from lianban.wire.transport import make_session
from simulators.engine import DepartmentEngine
from simulators.rest_department import create_app, serve_in_background
from simulators.runner import response_signer

NAME = "toy_affairs"
SUITE = "SM"  # the toy is not in the repository's catalog: its suite is chosen here


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of what the scaffold reads: the department catalog."""
    (tmp_path / "schemas" / "catalog").mkdir(parents=True)
    shutil.copy(REPO / "schemas" / "catalog" / "departments.yaml", tmp_path / "schemas" / "catalog")
    return tmp_path


@pytest.fixture
def toy(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scaffold]:
    """The toy department scaffolded under `root`, importable as ``connectors.toy_affairs``."""
    spec = Scaffold(NAME, "玩具事务局", root)
    scaffold(spec)
    monkeypatch.setattr(connectors, "__path__", [*connectors.__path__, str(root / "connectors")])
    yield spec
    forget_toy()


def forget_toy() -> None:
    """Drop the toy's modules so the next import reads the files as they are now."""
    for module in [m for m in sys.modules if m.startswith(f"connectors.{NAME}")]:
        del sys.modules[module]


def fill_status_table(spec: Scaffold) -> None:
    """What the department's IT staff do: uncomment the seven rows (their own codes would go on the left)."""
    path = spec.root / "connectors" / NAME / "statuses.py"
    path.write_text(path.read_text(encoding="utf-8").replace('    # "CODE_', '    "CODE_'), encoding="utf-8")


def generated_tests(spec: Scaffold) -> ModuleType:
    forget_toy()
    path = spec.root / "tests" / "connectors" / NAME / f"test_{NAME}.py"
    loaded = importlib.util.spec_from_file_location(f"generated_test_{NAME}", path)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def run_all(module: ModuleType) -> None:
    for name in dir(module):
        if name.startswith("test_"):
            getattr(module, name)()


def test_the_package_schema_and_tests_are_written(toy: Scaffold) -> None:
    written = sorted(str(p.relative_to(toy.root)) for p in toy.root.rglob("*") if p.is_file())
    assert written == sorted([
        f"connectors/{NAME}/README.md", f"connectors/{NAME}/__init__.py", f"connectors/{NAME}/connector.py",
        f"connectors/{NAME}/statuses.py", "schemas/catalog/departments.yaml", f"schemas/{NAME}/openapi.yaml",
        f"tests/connectors/{NAME}/test_{NAME}.py"])
    openapi = yaml.safe_load((toy.root / "schemas" / NAME / "openapi.yaml").read_text(encoding="utf-8"))
    assert openapi["info"]["title"] == "玩具事务局 退休一件事联办接口"
    assert "AIRFLOW_CONN_DEPT_TOY_AFFAIRS" in (toy.root / "connectors" / NAME / "README.md").read_text("utf-8")


def test_generated_tests_fail_until_the_status_table_is_filled(toy: Scaffold) -> None:
    with pytest.raises(AssertionError, match="STATUSES lacks a code"):
        run_all(generated_tests(toy))
    fill_status_table(toy)
    run_all(generated_tests(toy))


def toy_keys(keys_dir: Path) -> None:
    """What `lianban keys init` makes once the toy is registered: its recipient and signing keys, the hub's."""
    for name in (*names_for(NAME), hub_signing_name(SUITE)):
        keysets.ensure(keys_dir, name, SUITE)


def seal_for_toy(keys_dir: Path, *deliveries: tuple[str, str, str]) -> tuple[dict[str, object], list[SealedItem]]:
    """(key, case_no, item_code) … sealed in one batch for the toy, as the hub's deliver step does."""
    recipient = keysets.load(keys_dir, names_for(NAME)[0], public_only=True)
    signer_kid, signer_key = keysets.load(keys_dir, hub_signing_name(SUITE)).active_private()
    sealed = seal_batch(SUITE, recipient.active, recipient.public[recipient.active], signer_kid, signer_key, NAME,
                        [(aad(*d), {"name": "测试"}) for d in deliveries])
    return sealed.header, [SealedItem(*d, envelope=e) for d, e in zip(deliveries, sealed.envelopes, strict=True)]


def test_the_filled_connector_satisfies_the_contract_and_talks_to_the_rest_simulator(
        toy: Scaffold, tmp_path: Path) -> None:
    fill_status_table(toy)
    module = importlib.import_module(f"connectors.{NAME}.connector")
    statuses = importlib.import_module(f"connectors.{NAME}.statuses")
    assert set(statuses.STATUSES.values()) == set(Status)
    keys_dir = tmp_path / "keys"
    toy_keys(keys_dir)
    opener = BatchOpener(SUITE, keysets.load(keys_dir, names_for(NAME)[0]).private,
                         keysets.load(keys_dir, hub_signing_name(SUITE), public_only=True).public)
    engine = DepartmentEngine(NAME, opener, tmp_path / "toy.db", 0)
    department = response_signer(create_app(engine, "hub", "s3cret", statuses.CODES), keys_dir, NAME)
    with serve_in_background(department) as url:
        session = make_session(TransportSettings(response_check=AnswerCheck.load(keys_dir, NAME)))
        session.auth = GatewayAuth("hub", "s3cret")
        connector = module.ToyAffairsConnector(url, session)
        assert isinstance(connector, DepartmentConnector)
        assert connector.health().ok
        seal, deliveries = seal_for_toy(keys_dir, ("K1", "BZ1", "99"))
        [receipt] = connector.submit(deliveries, seal)
        assert not receipt.accepted and receipt.reason  # no item of the catalog belongs to a toy department
        assert connector.poll(["K1"]) == []
        with pytest.raises(RejectedError) as refused:  # the same sealed batch again: refused whole
            connector.submit(deliveries, seal)
        assert refused.value.code == "BATCH_REPLAY" and refused.value.reason
        assert engine.stats() == {"unique": 0, "duplicates": 0, "rejected": 1, "refused_batches": 1}


@pytest.mark.parametrize("name", ["Toy", "toy-affairs", "1toy", "class", "toy affairs", ""])
def test_a_name_that_is_not_a_lower_case_identifier_is_refused(root: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="Python 标识符"):
        scaffold(Scaffold(name, "x", root))
    assert not (root / "connectors").exists()


@pytest.mark.parametrize("name", ["health", "hrss"])
def test_a_registered_department_is_refused(root: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=r"已在 schemas/catalog/departments\.yaml 中注册"):
        scaffold(Scaffold(name, "x", root))


def test_existing_files_are_never_overwritten(toy: Scaffold) -> None:
    statuses = toy.root / "connectors" / NAME / "statuses.py"
    statuses.write_text("# edited by the department\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"connectors/{NAME}"):
        scaffold(toy)
    assert statuses.read_text(encoding="utf-8") == "# edited by the department\n"


def test_register_adds_the_catalog_line(root: Path) -> None:
    spec = Scaffold(NAME, "玩具事务局", root)
    register_department(spec)
    departments = yaml.safe_load((root / "schemas" / "catalog" / "departments.yaml").read_text("utf-8"))
    assert departments["departments"][-1] == {"key": NAME, "name": "玩具事务局", "transport": "rest",
                                              "connector": "connectors.toy_affairs.connector:ToyAffairsConnector"}
    assert catalog_line(Scaffold("x", "a: b")).startswith('  - {key: x, name: "a: b"')


def test_the_cli_scaffolds_prints_the_catalog_line_and_refuses_twice(root: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["connectors", "new", NAME, "--title", "玩具事务局", "--root", str(root)])
    assert first.exit_code == 0, first.output
    assert "connectors.toy_affairs.connector:ToyAffairsConnector" in first.output
    again = runner.invoke(app, ["connectors", "new", NAME, "--root", str(root), "--register"])
    assert again.exit_code == 2 and "不会覆盖" in again.output
    assert NAME not in (root / "schemas" / "catalog" / "departments.yaml").read_text("utf-8")


def test_the_scaffolded_documents_name_only_files_that_exist(root: Path) -> None:
    """The README and API document a department's IT staff start from pointed them to lianban/rest_client.py,
    lianban/response_signing.py and lianban/gateway_auth.py, gone since the wire code moved (connectors/_rest.py,
    lianban/wire/)."""
    spec = Scaffold(NAME, "玩具事务局", root)
    own = (f"connectors/{NAME}/", f"schemas/{NAME}/", f"tests/connectors/{NAME}/")
    named = {path for text in plan(spec).values()
             for path in re.findall(r"(?:lianban|connectors|simulators|schemas|tests)/[\w./-]+\.(?:py|yaml|md)", text)}
    assert named and [p for p in sorted(named) if not p.startswith(own) and not (REPO / p).exists()] == []
