"""`lianban simulate`: every department as a real local server on 127.0.0.1, plus HRSS's back office.

Prints, as its first stdout line, one JSON object with each department's base URL and the medical WSDL
URL, then serves until stopped. Credentials are generated once into ``<home>/simulators/credentials.json``
(mode 0600) and never printed; key rings come from the hub's key directory (each department's own key).
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from connectors.hrss.frontend import FrontendDB
from lianban import keystore
from lianban.crypto.batch import BatchOpener
from lianban.crypto.suites import get_suite
from lianban.envelopes import hub_signing_name, suite_of
from lianban.setup import ensure_keys
from simulators.engine import DepartmentEngine
from simulators.faults import FaultInjector, parse_faults
from simulators.hrss_backoffice import HrssBackOffice
from simulators.signing import SigningMiddleware

REST_DEPARTMENTS = ("health", "housing_fund")
ALL_ENDPOINTS = ("medical", *REST_DEPARTMENTS, "wanshi_tong")


def load_credentials(home: Path) -> dict[str, dict[str, str]]:
    """Per-department login/password (app id/secret), created on first use."""
    path = home / "simulators" / "credentials.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        creds = {d: {"login": f"lianban-{d}", "password": secrets.token_urlsafe(24)} for d in ALL_ENDPOINTS}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(creds, fh)
    loaded: dict[str, dict[str, str]] = json.loads(path.read_text())
    return loaded


@dataclass
class Simulation:
    """Running servers and threads; `urls` is what `lianban simulate` prints."""

    urls: dict[str, str] = field(default_factory=dict)
    servers: list[uvicorn.Server] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    backoffice: HrssBackOffice | None = None
    engines: dict[str, DepartmentEngine] = field(default_factory=dict)

    def stop(self) -> None:
        if self.backoffice:
            self.backoffice.stop()
        for server in self.servers:
            server.should_exit = True
        for thread in self.threads:
            thread.join(timeout=10)


def serve(app: Any, port: int = 0) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Run `app` on 127.0.0.1 in a thread; returns the server, its thread and its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True, name=f"sim-{port}")
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("simulator server failed to start (port in use?)")
        threading.Event().wait(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{bound}"


def department_opener(keys_dir: Path, department: str) -> BatchOpener:
    """What the department holds to open batches: its own private keys, the hub's public signing keys."""
    suite = suite_of(department)
    recipient, _ = keystore.names_for(department)
    hub = keystore.load(keys_dir, hub_signing_name(suite), public_only=True)
    return BatchOpener(suite, keystore.load(keys_dir, recipient).private, hub.public)


def response_signer(app: Any, keys_dir: Path, party: str) -> SigningMiddleware:
    """Wrap `app` so every answer is signed with the party's active response-signing key."""
    keys = keystore.load(keys_dir, keystore.names_for(party)[1])
    kid, private = keys.active_private()
    return SigningMiddleware(app, get_suite(keys.suite), kid, private)


def _department_app(name: str, engine: DepartmentEngine, creds: dict[str, str]) -> Any:
    if name == "medical":
        from simulators.medical import create_app as medical_app

        return medical_app(engine, creds["login"], creds["password"])
    from simulators.rest_department import create_app as rest_app

    codes = importlib.import_module(f"connectors.{name}.statuses").CODES
    return rest_app(engine, creds["login"], creds["password"], codes)


def start(home: Path, keys_dir: Path, frontend_url: str | None, step_seconds: float,
          ports: dict[str, int] | None = None, faults: str | None = None) -> Simulation:
    """Start every simulated department (and the HRSS back office when `frontend_url` is given).

    Each server sits behind a :class:`~simulators.faults.FaultInjector`: `faults` is a spec as described in
    :mod:`simulators.faults` (a ValueError names its bad part or an unknown department), and every
    department's faults can be changed later through ``POST /_sim/faults``.
    """
    from simulators.wanshi_tong import create_app as wanshi_app

    plan = parse_faults(faults)
    unknown = sorted(set(plan) - set(ALL_ENDPOINTS))
    if unknown:
        raise ValueError(f"fault spec names unknown department {unknown[0]!r}; "
                         f"simulated departments are {', '.join(ALL_ENDPOINTS)}")
    ports, creds, sim = ports or {}, load_credentials(home), Simulation()
    store = home / "simulators"
    ensure_keys(keys_dir)
    apps: dict[str, Any] = {}
    for name in ("medical", *REST_DEPARTMENTS):
        sim.engines[name] = DepartmentEngine(name, department_opener(keys_dir, name), store / f"{name}.db",
                                             step_seconds)
        apps[name] = _department_app(name, sim.engines[name], creds[name])
    wanshi = creds["wanshi_tong"]
    apps["wanshi_tong"] = wanshi_app(store / "wanshi_tong.db", wanshi["login"], wanshi["password"])
    for name, app in apps.items():
        signed = response_signer(app, keys_dir, name)
        server, thread, url = serve(FaultInjector(signed, name, plan.get(name)), ports.get(name, 0))
        sim.servers.append(server)
        sim.threads.append(thread)
        sim.urls[name] = url
    sim.urls["medical_wsdl"] = f"{sim.urls['medical']}/soap/medical?wsdl"
    if frontend_url:
        sim.backoffice = HrssBackOffice(FrontendDB(frontend_url), step_seconds)
        thread = threading.Thread(target=sim.backoffice.run, daemon=True, name="hrss-backoffice")
        thread.start()
        sim.threads.append(thread)
    return sim
