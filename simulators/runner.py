"""`lianban simulate`: every department as a real local server on 127.0.0.1, plus HRSS's back office and the
applicants who bring 补正 materials to the HRSS window (:mod:`simulators.applicant`).

The departments come from the catalog (``schemas/catalog/departments.yaml``), so a department registered
there is simulated without a line here. Each catalog transport has one simulator (:data:`APPS`)::

    soap    the 医疗保障局 SOAP service (simulators/medical.py)
    rest    the shared REST gateway (simulators/rest_department.py) answering with the department's own
            codes: ``connectors.<name>.statuses.CODES`` and, when the module has it, ``ENGINE_ERRORS``
            (engine refusal code → the department's error code; else rest_department.ERROR_CODES)

plus 皖事通办 (:data:`SINK`), the status sink, with its own app, and the SMS gateway (:data:`SMS`,
simulators/sms.py) the hub sends liaison alerts through. Prints, as its first stdout line, one JSON
object with each department's base URL and every SOAP department's WSDL URL (``<name>_wsdl``), then serves
until stopped. Credentials are generated into ``<home>/simulators/credentials.json`` (mode 0600; a department
missing from an existing file is added) and never printed; key rings come from the hub's key directory (each
department's own key).
"""

from __future__ import annotations

import importlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from connectors.hrss.frontend import FrontendDB
from lianban.crypto.batch import BatchOpener
from lianban.crypto.suites import get_suite
from lianban.domain.catalog import load_catalog
from lianban.keys import keysets
from lianban.keys.files import write_private_json
from lianban.keys.names import hub_signing_name, names_for, suite_of
from lianban.keys.provision import ensure_keys
from simulators.applicant import Pending, SimulatedApplicant
from simulators.callbacks import CallbackPusher, hub_answers
from simulators.engine import DepartmentEngine
from simulators.faults import FaultInjector, parse_faults
from simulators.hrss_backoffice import HrssBackOffice
from simulators.signing import SigningMiddleware

SINK = "wanshi_tong"  # 皖事通办: receives status events, runs no department engine
SMS = "sms"  # the SMS gateway the hub sends liaison alerts and notices through (not a department)


def departments() -> list[str]:
    """Catalog departments served by a simulator with a department engine (a transport in :data:`APPS`)."""
    return [key for key, d in load_catalog().departments.items() if d.transport in APPS and key != SINK]


def endpoints() -> list[str]:
    """Everything `start` serves: the departments, then the sink, then the SMS gateway."""
    return [*departments(), SINK, SMS]


def load_credentials(home: Path) -> dict[str, dict[str, str]]:
    """Per-department login/password (app id/secret), created on first use for every endpoint."""
    path = home / "simulators" / "credentials.json"
    creds: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}
    missing = [d for d in endpoints() if d not in creds]
    if missing:
        creds.update({d: {"login": f"lianban-{d}", "password": secrets.token_urlsafe(24)} for d in missing})
        write_private_json(path, creds)  # written whole, then swapped in: no half-written credentials
    return creds


@dataclass
class Simulation:
    """Running servers and threads; `urls` is what `lianban simulate` prints."""

    urls: dict[str, str] = field(default_factory=dict)
    servers: list[uvicorn.Server] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    backoffice: HrssBackOffice | None = None
    engines: dict[str, DepartmentEngine] = field(default_factory=dict)
    applicant: SimulatedApplicant | None = None
    pushers: dict[str, CallbackPusher] = field(default_factory=dict)  # departments in callback mode

    def pending_supplements(self) -> list[Pending]:
        """Every item a department or HRSS's back office holds at 补正资料, waiting for the applicant's materials
        (the simulated world reads its own records, never the hub's ledger)."""
        waiting = [p for engine in self.engines.values() for p in engine.awaiting_supplement()]
        return waiting + (self.backoffice.awaiting_supplement() if self.backoffice else [])

    def stop(self) -> None:
        for pusher in self.pushers.values():
            pusher.stop()
        if self.applicant:
            self.applicant.stop()
        if self.backoffice:
            self.backoffice.stop()
        for server in self.servers:
            server.should_exit = True
        for thread in self.threads:
            thread.join(timeout=10)


START_TIMEOUT = 10.0


def serve(app: Any, port: int = 0) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Run `app` on 127.0.0.1 in a thread; returns the server, its thread and its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True, name=f"sim-{port}")
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"simulator server on port {port} failed to start (port in use?)")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{bound}"


def ensure_department_keys(keys_dir: Path, department: str) -> None:
    """The keys a simulated department needs, also when it owns no pushed item yet (then
    :func:`~lianban.app.setup.ensure_keys` makes none): its recipient and signing keys, the hub's for its suite."""
    suite = suite_of(department)
    for name in (*names_for(department), hub_signing_name(suite)):
        keysets.ensure(keys_dir, name, suite)


def department_opener(keys_dir: Path, department: str) -> BatchOpener:
    """What the department holds to open batches: its own private keys, the hub's public signing keys, and its
    own name, so that a batch addressed to another department is refused as such (DEPT)."""
    suite = suite_of(department)
    recipient, _ = names_for(department)
    hub = keysets.load(keys_dir, hub_signing_name(suite), public_only=True)
    return BatchOpener(suite, keysets.load(keys_dir, recipient).private, hub.public, department=department)


def response_signer(app: Any, keys_dir: Path, party: str) -> SigningMiddleware:
    """Wrap `app` so every answer is signed with the party's active response-signing key."""
    keys = keysets.load(keys_dir, names_for(party)[1])
    kid, private = keys.active_private()
    return SigningMiddleware(app, get_suite(keys.suite), kid, private)


def _soap_app(engine: DepartmentEngine, creds: dict[str, str]) -> Any:
    from simulators.medical import create_app

    return create_app(engine, creds["login"], creds["password"])


def _rest_app(engine: DepartmentEngine, creds: dict[str, str]) -> Any:
    """The shared REST gateway speaking the department's own codes from ``connectors/<name>/statuses.py``."""
    from simulators.rest_department import create_app

    statuses = importlib.import_module(f"connectors.{engine.department}.statuses")
    return create_app(engine, creds["login"], creds["password"], statuses.CODES,
                      getattr(statuses, "ENGINE_ERRORS", None))


def _sms_app(creds: dict[str, str]) -> Any:
    from simulators.sms import create_app

    return create_app(creds["login"], creds["password"])


#: catalog transport → the simulator app for a department reached that way
APPS: dict[str, Callable[[DepartmentEngine, dict[str, str]], Any]] = {"soap": _soap_app, "rest": _rest_app}


def start(home: Path, keys_dir: Path, frontend_url: str | None, step_seconds: float,
          ports: dict[str, int] | None = None, faults: str | None = None,
          push: Sequence[str] = (), hub_url: str | None = None) -> Simulation:
    """Start every simulated department (and the HRSS back office when `frontend_url` is given).

    Each server sits behind a :class:`~simulators.faults.FaultInjector`: `faults` is a spec as described in
    :mod:`simulators.faults` (a ValueError names its bad part or an unknown department), and every
    department's faults can be changed later through ``POST /_sim/faults``. The REST departments in `push`
    also push their status changes to the hub at `hub_url` (:mod:`simulators.callbacks`); they still answer
    polls.
    """
    from simulators.wanshi_tong import create_app as wanshi_app

    plan, served = parse_faults(faults), endpoints()
    unknown = sorted(set(plan) - set(served))
    if unknown:
        raise ValueError(f"fault spec names unknown department {unknown[0]!r}; "
                         f"simulated departments are {', '.join(served)}")
    _check_push(push, hub_url)
    ports, creds, sim = ports or {}, load_credentials(home), Simulation()
    store, transports = home / "simulators", {k: d.transport for k, d in load_catalog().departments.items()}
    ensure_keys(keys_dir)
    apps: dict[str, Any] = {}
    for name in departments():
        ensure_department_keys(keys_dir, name)
        sim.engines[name] = DepartmentEngine(name, department_opener(keys_dir, name), store / f"{name}.db",
                                             step_seconds)
        apps[name] = APPS[transports[name]](sim.engines[name], creds[name])
    sink = creds[SINK]
    apps[SINK] = wanshi_app(store / f"{SINK}.db", sink["login"], sink["password"])
    apps[SMS] = _sms_app(creds[SMS])
    for name, app in apps.items():
        signed = app if name == SMS else response_signer(app, keys_dir, name)  # the SMS gateway signs nothing
        server, thread, url = serve(FaultInjector(signed, name, plan.get(name)), ports.get(name, 0))
        sim.servers.append(server)
        sim.threads.append(thread)
        sim.urls[name] = url
        if transports.get(name) == "soap":
            from simulators.medical import SOAP_PATH

            sim.urls[f"{name}_wsdl"] = f"{url}{SOAP_PATH}?wsdl"
    for name in push:
        sim.pushers[name] = _pusher(sim.engines[name], creds[name], keys_dir, str(hub_url), step_seconds)
        _run(sim, f"push-{name}", sim.pushers[name].run)
    if frontend_url:
        frontend = FrontendDB(frontend_url)
        sim.backoffice = HrssBackOffice(frontend, step_seconds)
        sim.applicant = SimulatedApplicant(frontend, sim.pending_supplements, step_seconds)
        for name, worker in (("hrss-backoffice", sim.backoffice.run), ("applicants", sim.applicant.run)):
            _run(sim, name, worker)
    return sim


def _run(sim: Simulation, name: str, worker: Callable[[], None]) -> None:
    thread = threading.Thread(target=worker, daemon=True, name=name)
    thread.start()
    sim.threads.append(thread)


def _check_push(push: Sequence[str], hub_url: str | None) -> None:
    transports = {k: d.transport for k, d in load_catalog().departments.items()}
    wrong = [d for d in push if transports.get(d) != "rest" or d == SINK]
    if wrong:
        rest = [k for k, t in transports.items() if t == "rest" and k != SINK]
        raise ValueError(f"only REST departments can push their statuses ({', '.join(rest)}), not {wrong[0]!r}")
    if push and not hub_url:
        raise ValueError("departments that push need the hub's URL (lianban serve prints it)")


def _pusher(engine: DepartmentEngine, creds: dict[str, str], keys_dir: Path, hub_url: str,
            step_seconds: float) -> CallbackPusher:
    """Housing fund (say) pushing to the hub as it goes: every step, at most every second."""
    statuses = importlib.import_module(f"connectors.{engine.department}.statuses")
    return CallbackPusher(engine, statuses.CODES, hub_url, creds["login"], creds["password"],
                          hub_answers(keys_dir, engine.department), interval=min(max(step_seconds, 0.1), 1.0))
