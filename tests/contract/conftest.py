"""The shared contract suite's fixtures: every registered connector against its real simulator.

The parameters come from the registry (``schemas/catalog/departments.yaml`` via
:func:`connectors.registered`), so a new connector is tested here without a line of test code. A test asks
for the fixture that names the connectors it applies to:

    live              every registered connector
    live_department   connectors with submit/poll (:class:`lianban.wire.contract.DepartmentConnector`)
    live_sink         connectors with push (:class:`lianban.wire.contract.StatusSink`)
    live_soap         connectors whose department's ``transport`` is ``soap``

All simulators run once per session (:func:`simulators.runner.start`, a fast status clock, the keys in
``<contract home>/keys``); each test builds its connector the way production does (an
``AIRFLOW_CONN_DEPT_*`` connection → :func:`lianban.wire.settings.department_settings` →
:func:`connectors.load_connector`, which checks every answer's signature with the department's public key
from ``LIANBAN_KEYS_DIR``, set to the simulation's keys for every contract test), seals its batches with
those keys as the hub does (:mod:`simulators.kit`) and leaves the simulator's faults cleared.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_kit import STEP_SECONDS, LiveDepartment, role

from lianban.app.registry import registered
from lianban.domain.catalog import load_catalog
from simulators.runner import Simulation, load_credentials, start

#: (test name, department) → (the connector bug that makes the test fail, the exception it fails with). Each
#: entry is an xfail(strict=True, raises=...): once the connector is fixed the test passes, strict xfail turns
#: that into a failure, and the entry goes.
#: (test, department) → (reason, exception) for connector bugs not fixed yet; each becomes a strict xfail.
KNOWN_BUGS: dict[tuple[str, str], tuple[str, type[BaseException]]] = {}


ALL = sorted(registered())
PARAMETERS: dict[str, list[str]] = {
    "live": ALL,
    "live_department": [d for d in ALL if role(d) == "department"],
    "live_sink": [d for d in ALL if role(d) == "sink"],
    "live_soap": [d for d in ALL if load_catalog().departments[d].transport == "soap"],
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture, departments in PARAMETERS.items():
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, departments, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in (i for i in items if i.path.is_relative_to(here)):
        params = getattr(getattr(item, "callspec", None), "params", {})
        for department in (params[f] for f in PARAMETERS if f in params):  # other parameters are no department
            bug = KNOWN_BUGS.get((getattr(item, "originalname", item.name), department))
            if bug:
                item.add_marker(pytest.mark.xfail(strict=True, reason=bug[0], raises=bug[1]))


# -- the simulators and one department in them -----------------------------------------------------------
@pytest.fixture(scope="session")
def contract_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract")


@pytest.fixture(scope="session")
def contract_keys(contract_home: Path) -> Path:
    """The simulation's keys: the departments' (recipient, response signing) and the hub's (signing)."""
    return contract_home / "keys"


@pytest.fixture(autouse=True)
def _keys_of_the_simulation(contract_keys: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connectors verify answers with the public keys in LIANBAN_KEYS_DIR: the simulation's. Set for
    each contract test (not process-wide, so it cannot leak into the tests that run after this suite)."""
    monkeypatch.setenv("LIANBAN_KEYS_DIR", str(contract_keys))


@pytest.fixture(scope="session")
def contract_simulation(contract_home: Path, contract_keys: Path) -> Iterator[Simulation]:
    sim = start(contract_home, contract_keys, None, step_seconds=STEP_SECONDS)
    yield sim
    sim.stop()


def _live(request: pytest.FixtureRequest, sim: Simulation, home: Path) -> Iterator[LiveDepartment]:
    name: str = request.param
    if name not in sim.urls:
        pytest.fail(f"{name} is registered in schemas/catalog/departments.yaml but simulators.runner.start() "
                    f"serves no simulator for it; add one there (see tests/contract/README.md)")
    creds = load_credentials(home)[name]
    live = LiveDepartment(name, sim.urls[name], creds["login"], creds["password"], role(name), home / "keys")
    live.set_faults()
    yield live
    live.set_faults()


@pytest.fixture
def live(request: pytest.FixtureRequest, contract_simulation: Simulation,
         contract_home: Path) -> Iterator[LiveDepartment]:
    yield from _live(request, contract_simulation, contract_home)


@pytest.fixture
def live_department(request: pytest.FixtureRequest, contract_simulation: Simulation,
                    contract_home: Path) -> Iterator[LiveDepartment]:
    yield from _live(request, contract_simulation, contract_home)


@pytest.fixture
def live_sink(request: pytest.FixtureRequest, contract_simulation: Simulation,
              contract_home: Path) -> Iterator[LiveDepartment]:
    yield from _live(request, contract_simulation, contract_home)


@pytest.fixture
def live_soap(request: pytest.FixtureRequest, contract_simulation: Simulation,
              contract_home: Path) -> Iterator[LiveDepartment]:
    yield from _live(request, contract_simulation, contract_home)
