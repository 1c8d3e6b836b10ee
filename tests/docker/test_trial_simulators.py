"""docker/trial/simulate.py: the simulated departments reachable from other containers, and their connections
written for ``airflow connections import`` (the compose file's ``trial`` profile).

Run for real against a fresh installation: the departments answer through the relay at the public ports, the
medical WSDL names the public address (what a worker in another container calls), Airflow's own connection
file loader reads the file, no credential reaches stdout, and SIGTERM stops it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lianban.app.config import Paths
from lianban.app.setup import init
from simulators.runner import endpoints, load_credentials
from tests.docker.conftest import DOCKER, ROOT

SCRIPT = DOCKER / "trial" / "simulate.py"


def free_run(count: int, avoid: range = range(0)) -> int:
    """A first port of `count` consecutive free loopback ports, below the kernel's ephemeral range (where the
    other tests' servers and client sockets take their ports) and outside `avoid`."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]) if Path(
        "/proc/sys/net/ipv4/ip_local_port_range").exists() else 32768
    for _ in range(100):
        base = random.randrange(10000, low - count)
        if set(range(base, base + count)) & set(avoid):
            continue
        if all(_free(port) for port in range(base, base + count)):
            return base
    raise RuntimeError("no free port run")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """One installation (keys, ledger, 前置库 tables) for the module: the simulators only read it."""
    installed = Paths.from_env({"LIANBAN_HOME": str(tmp_path_factory.mktemp("trial") / "home")})
    init(installed, with_frontend=True)
    return installed


Trial = tuple[subprocess.Popen[str], dict[str, object], int]


def start_trial(paths: Paths) -> Trial:
    """simulate.py as the compose service runs it, with free ports; returns it, its first line, the public base.

    Free ports are only free when probed: a port taken by another test in between makes the script exit with
    "address already in use", and then it starts again on other ports (any other exit fails the test)."""
    for _ in range(3):
        process, first, public = _launch(paths)
        if first:
            return process, json.loads(first), public
        process.wait(timeout=10)
        error = process.stderr.read() if process.stderr else ""
        if "address already in use" not in error:
            break
    pytest.fail(f"simulate.py exited: {error}")


def _launch(paths: Paths) -> tuple[subprocess.Popen[str], str, int]:
    count = len(endpoints())
    public = free_run(count)
    loopback = free_run(count, avoid=range(public, public + count))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LIANBAN_HOME": str(paths.home), "LIANBAN_TRIAL_HOST": "127.0.0.1",
           "LIANBAN_TRIAL_BIND": "127.0.0.1", "LIANBAN_TRIAL_STEP": "1", "LIANBAN_TRIAL_PUBLIC_PORT": str(public),
           "LIANBAN_TRIAL_LOOPBACK_PORT": str(loopback)}
    for variable in ("LIANBAN_LEDGER_URL", "LIANBAN_FRONTEND_URL", "LIANBAN_KEYS_DIR"):
        env.pop(variable, None)
    process = subprocess.Popen([sys.executable, str(SCRIPT)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline(), public


@pytest.fixture(scope="module")
def trial(paths: Paths) -> Iterator[Trial]:
    running = start_trial(paths)
    yield running
    running[0].kill()
    running[0].communicate(timeout=10)


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read()


def test_departments_answer_at_the_public_ports(trial: Trial) -> None:
    _, printed, public = trial
    expected = {name: f"http://127.0.0.1:{public + i}" for i, name in enumerate(endpoints())}
    assert printed["departments"] == expected
    assert get(f"{expected['medical']}/health")[0] == 200
    status, wsdl = get(f"{expected['medical']}/soap/medical?wsdl")
    assert status == 200 and f'location="{expected["medical"]}/soap/medical"'.encode() in wsdl


def test_the_connections_file_is_private_and_airflow_reads_it(
        trial: Trial, paths: Paths) -> None:
    from airflow.secrets.local_filesystem import load_connections_dict

    _, printed, public = trial
    path = Path(str(printed["connections"]))
    assert path == paths.home / "simulators" / "airflow-connections.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_connections_dict(str(path))
    assert sorted(loaded) == sorted(f"dept_{name}" for name in endpoints())
    medical = loaded["dept_medical"]
    assert (medical.host, medical.port, medical.login) == ("127.0.0.1", public, "lianban-medical")
    assert medical.extra_dejson["wsdl"] == f"http://127.0.0.1:{public}/soap/medical?wsdl"


def test_no_credential_is_printed_and_sigterm_stops_it(paths: Paths) -> None:
    process, _, _ = start_trial(paths)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    passwords = [c["password"] for c in load_credentials(paths.home).values()]
    assert not [p for p in passwords if p in out or p in err]
