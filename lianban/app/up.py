"""`lianban up` / `lianban down`: the real Airflow on this machine, without Docker, for an operator to watch.

`up` prepares ``<home>/airflow`` (AIRFLOW_HOME) and configures Airflow through the environment only (no
airflow.cfg is edited): the repository's ``dags/`` and ``plugins/``, no examples, the metadata database, the
executor, the simulators' department connections (``AIRFLOW_CONN_DEPT_*`` from ``lianban simulate``'s
``connections.env``), the ledger, and the pools of ``docker/pools.json``. Then, each as its own process group
with its log under ``<home>/logs/up/``, all bound to 127.0.0.1::

    simulators      lianban simulate (the departments, 皖事通办, the SMS gateway, HRSS's back office)
    hub-api         lianban serve (the applicant's progress query, department callbacks)
    api-server      airflow api-server (UI, REST API, the execution API the tasks talk to)
    scheduler       airflow scheduler (LocalExecutor: it runs the tasks itself)
    dag-processor   airflow dag-processor
    triggerer       airflow triggerer
    worker-N        airflow celery worker, hostname lianban-worker-N@HOST (CeleryExecutor only)

Their pids are in ``<home>/up.json``; `up` waits until the API server answers and the lianban DAGs are
parsed, unpauses them through the REST API, and returns what to print. `down` stops what ``up.json`` names:
TERM to each process group, KILL after a grace period, a pid that now belongs to another program left alone.

Executors: ``local`` (default) is Airflow 3's LocalExecutor on SQLite under ``<home>/airflow`` (Airflow 3.3
runs it there; it is what ``airflow standalone`` does), or on any metadata database given
(``LIANBAN_AIRFLOW_DB_URL``). ``celery`` needs a broker (``LIANBAN_BROKER_URL``, e.g. Redis from
``scripts/ensure-redis.sh``) and a PostgreSQL metadata database; it also shortens Airflow's heartbeat
timeouts so a worker that dies mid-task is noticed in seconds (:data:`CELERY_TUNING`).

Login: Airflow's SimpleAuthManager with one admin user, :data:`AIRFLOW_USER`. Its password is generated once
into Airflow's own password file (``<home>/airflow/simple_auth_manager_passwords.json.generated``, mode 0600);
`up` names the file, and the CLI prints the password itself only to an interactive terminal. The JWT, API and
Fernet secrets are generated once into ``<home>/airflow/secrets.json`` (0600) and shared by every process.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from lianban.app.airflow_api import AirflowApi
from lianban.app.config import Paths
from lianban.app.processes import STOP_GRACE_SECONDS, Started, alive, launch, poll_until, stop
from lianban.errors import ConfigError, FatalError
from lianban.keys.files import write_private_json

__all__ = ["AIRFLOW_USER", "LIANBAN_DAGS", "UpOptions", "down", "running", "up"]

REPO = Path(__file__).resolve().parents[2]  # the source checkout: dags/, plugins/, docker/pools.json
AIRFLOW_USER = "operator"
LIANBAN_DAGS = ("lianban_exchange", "lianban_feedback", "lianban_operations", "lianban_daily", "lianban_notices")
STATE_FILE = "up.json"
HOST = "127.0.0.1"
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
#: a Celery worker killed mid-task: its task's heartbeat is missed for 10 s, not 5 minutes, then retried; four
#: task slots per worker, so departments stalled in their pools (2 slots each) never take every slot
CELERY_TUNING = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "10",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
    "LIANBAN_TASK_RETRY_SECONDS": "5",
}


@dataclass(frozen=True)
class UpOptions:
    """What `lianban up` starts; see the module docstring."""

    executor: str = "local"
    port: int = 8080  # the Airflow UI / REST API; 0 picks a free port
    workers: int = 2  # Celery workers (celery only)
    db_url: str | None = None  # Airflow's metadata database; None: SQLite under <home>/airflow
    broker_url: str | None = None  # Celery broker (celery only)
    records: int = 50  # synthetic approvals seeded into a fresh home's 前置库
    step_seconds: float = 20.0  # the simulated departments' status clock
    timeout: float = 240.0  # for the API server to answer and the DAGs to be parsed


@dataclass
class State:
    """``<home>/up.json``."""

    url: str
    executor: str
    processes: list[Started] = field(default_factory=list)
    hub_url: str = ""
    simulators: dict[str, str] = field(default_factory=dict)


def read_state(paths: Paths) -> State | None:
    path = paths.home / STATE_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return State(**{**raw, "processes": [Started(**p) for p in raw["processes"]]})
    except (ValueError, KeyError, TypeError):  # cut short by a full disk, or edited by hand
        raise ConfigError(f"{path} 已损坏，无法得知 lianban up 启动了哪些进程：请用 ps 查看并结束它们（Airflow、"
                          f"模拟部门、枢纽 API），再删除该文件 (unreadable: stop those processes by hand, then "
                          f"delete the file)") from None


def running(paths: Paths) -> State | None:
    """What an earlier `up` started and is still running (None: nothing is)."""
    state = read_state(paths)
    return state if state and any(alive(p) for p in state.processes) else None


def down(paths: Paths, grace: float = STOP_GRACE_SECONDS) -> dict[str, Any]:
    """Stop everything ``up.json`` names (idempotent): ``{"stopped": [names], "home": …}``."""
    state = read_state(paths)
    stopped = stop(state.processes, grace) if state else []
    (paths.home / STATE_FILE).unlink(missing_ok=True)
    return {"stopped": stopped, "home": str(paths.home)}


# -- configuration ----------------------------------------------------------------------------------------
#: ports this process has chosen for its servers: a probe's port, once closed, may be offered again (it once
#: went to the API server and to the triggerer's log server both, and the API server could not bind)
_CHOSEN: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 now, and not one this process chose already."""
    while True:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if port not in _CHOSEN:
            _CHOSEN.add(port)
            return port


def api_port(wanted: int) -> int:
    """`wanted`, checked free on 127.0.0.1 (0: any free port)."""
    if wanted == 0:
        return free_port()
    with socket.socket() as probe:
        try:
            probe.bind((HOST, wanted))
        except OSError:
            raise ConfigError(f"端口 {wanted} 已被占用，请用 --port 指定其他端口（0 为任一空闲端口） "
                              f"(port {wanted} is in use: choose another with --port, 0 for any)") from None
    _CHOSEN.add(wanted)
    return wanted


def secrets_of(airflow_home: Path) -> dict[str, str]:
    """The installation's Airflow secrets, generated once (0600) and shared by every process."""
    path = airflow_home / "secrets.json"
    if path.is_file():
        return dict(json.loads(path.read_text()))
    values = {"jwt_secret": _token(64), "api_secret_key": _token(), "password": _token()[:20],
              "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode()}
    write_private_json(path, values)
    return values


def _token(size: int = 32) -> str:
    """`size` random bytes as URL-safe text (the JWT secret takes 64: HS512 wants a key that long)."""
    return base64.urlsafe_b64encode(os.urandom(size)).decode().rstrip("=")


def password_file(airflow_home: Path) -> Path:
    return airflow_home / "simple_auth_manager_passwords.json.generated"


def airflow_env(paths: Paths, opts: UpOptions, port: int, secrets: Mapping[str, str]) -> dict[str, str]:
    """The environment of every process: lianban's settings and Airflow's configuration (module docstring)."""
    airflow_home = paths.home / "airflow"
    base = f"http://{HOST}:{port}"
    env = {
        **os.environ,
        "LIANBAN_HOME": str(paths.home), "LIANBAN_LEDGER_URL": paths.ledger_url,
        "LIANBAN_FRONTEND_URL": paths.frontend_url, "LIANBAN_KEYS_DIR": str(paths.keys_dir),
        "LIANBAN_LOGS": str(paths.logs),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": EXECUTORS[opts.executor],
        "AIRFLOW__CORE__FERNET_KEY": secrets["fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{AIRFLOW_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file(airflow_home)),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        **metadata_db(opts.db_url or f"sqlite:///{airflow_home / 'airflow.db'}"),
        "AIRFLOW__API__HOST": HOST, "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__SECRET_KEY": secrets["api_secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets["jwt_secret"],
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(paths.logs / "airflow"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    }
    return env | (celery_env(opts) if opts.executor == "celery" else {})


def metadata_db(url: str) -> dict[str, str]:
    """Airflow's metadata database settings; psycopg 3 serves its async engine too (Airflow would pick asyncpg,
    which the lock does not carry)."""
    settings = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url}
    if url.startswith("postgresql+psycopg://"):
        settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = url.replace("+psycopg://", "+psycopg_async://", 1)
    return settings


def celery_env(opts: UpOptions) -> dict[str, str]:
    """The CeleryExecutor's settings: the broker, results in the metadata database, :data:`CELERY_TUNING`."""
    if not opts.broker_url:
        raise ConfigError("CeleryExecutor 需要消息代理：请设置 LIANBAN_BROKER_URL（如 scripts/ensure-redis.sh 打印的 "
                          "redis://127.0.0.1:端口/0） (the CeleryExecutor needs a broker: set LIANBAN_BROKER_URL)")
    if not opts.db_url or not opts.db_url.startswith("postgresql"):
        raise ConfigError("CeleryExecutor 需要 PostgreSQL 元数据库：请设置 LIANBAN_AIRFLOW_DB_URL="
                          "postgresql+psycopg://… (the CeleryExecutor needs a PostgreSQL metadata database)")
    return {"AIRFLOW__CELERY__BROKER_URL": opts.broker_url, "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{opts.db_url}",
            **CELERY_TUNING}


def simulator_connections(paths: Paths) -> dict[str, str]:
    """The ``AIRFLOW_CONN_DEPT_*`` exports `lianban simulate` wrote to ``connections.env``."""
    path = paths.home / "simulators" / "connections.env"
    pairs = (line.removeprefix("export ").split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: shlex.split(value)[0] for name, value in pairs}


# -- up ---------------------------------------------------------------------------------------------------
def up(paths: Paths, opts: UpOptions) -> dict[str, Any]:
    """Start everything (module docstring) unless it is already running; what the CLI prints."""
    state = running(paths)
    if state:
        return summary(paths, state, already_up=True)
    if opts.executor not in EXECUTORS:
        raise ConfigError(f"--executor 只能是 {' 或 '.join(EXECUTORS)} (unknown executor {opts.executor!r})")
    airflow_home, logs = prepare(paths, opts)
    port = api_port(opts.port)
    env = airflow_env(paths, opts, port, secrets_of(airflow_home))
    state = State(url=f"http://{HOST}:{port}", executor=opts.executor)
    try:
        _airflow(env, logs, "db", "migrate")
        _airflow(env, logs, "pools", "import", str(REPO / "docker" / "pools.json"))
        _start_simulators(paths, state, env, opts, logs)
        env.update(simulator_connections(paths))
        hub_port = free_port()
        state.hub_url = f"http://{HOST}:{hub_port}"
        for name, argv in commands(opts, port, hub_port):
            state.processes.append(launch(name, argv, env, logs, REPO))
            save_state(paths, state)
        _unpause(state, secrets_of(airflow_home)["password"], opts.timeout, logs)
    except BaseException:
        stop(state.processes)
        (paths.home / STATE_FILE).unlink(missing_ok=True)
        raise
    return summary(paths, state, already_up=False)


def prepare(paths: Paths, opts: UpOptions) -> tuple[Path, Path]:
    """Keys, ledger and 前置库 (seeded with `opts.records` synthetic approvals when it is new), AIRFLOW_HOME
    with the login's password file, the log folder. Returns (AIRFLOW_HOME, log folder)."""
    from sqlalchemy.engine import make_url

    from lianban.app.config import sqlite_file
    from lianban.app.setup import init, require_simulators, seed

    require_simulators()
    frontend = sqlite_file(make_url(paths.frontend_url))
    fresh = frontend is not None and not frontend.exists()
    init(paths, with_frontend=True)
    if fresh and opts.records:
        seed(paths, opts.records)
    airflow_home, logs = paths.home / "airflow", paths.logs / "up"
    airflow_home.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    write_private_json(password_file(airflow_home), {AIRFLOW_USER: secrets_of(airflow_home)["password"]})
    return airflow_home, logs


#: Airflow's log server (``airflow serve-logs``, a child of the scheduler, the triggerer and each worker) listens
#: on every interface, whatever is configured: left out, since every process here writes its logs to the same
#: folder, which the API server reads (a running task's log too, with a line that no log server answered)
NO_LOG_SERVER = ("--skip-serve-logs",)


def commands(opts: UpOptions, port: int, hub_port: int) -> list[tuple[str, list[str]]]:
    """Every long-running process after the simulators, in start order: (name, argv)."""
    airflow, lianban = str(Path(sys.executable).parent / "airflow"), [sys.executable, "-m", "lianban.app.cli"]
    cmds = [("hub-api", [*lianban, "serve", "--host", HOST, "--port", str(hub_port)]),
            ("api-server", [airflow, "api-server", "--host", HOST, "--port", str(port)]),
            ("scheduler", [airflow, "scheduler", *NO_LOG_SERVER]), ("dag-processor", [airflow, "dag-processor"]),
            ("triggerer", [airflow, "triggerer", *NO_LOG_SERVER])]
    if opts.executor == "celery":
        host = socket.gethostname()
        cmds += [(f"worker-{n}", [airflow, "celery", "worker", "--celery-hostname", f"lianban-worker-{n}@{host}",
                                  *NO_LOG_SERVER]) for n in range(1, opts.workers + 1)]
    return cmds


def _airflow(env: Mapping[str, str], logs: Path, *args: str) -> None:
    """One Airflow CLI command to its end, output to ``logs/airflow-<command>.log``; a failure names that file."""
    log = logs / f"airflow-{'-'.join(args[:2])}.log"
    with open(log, "ab") as out:
        code = subprocess.call([str(Path(sys.executable).parent / "airflow"), *args], env=dict(env), cwd=REPO,
                               stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if code != 0:
        raise FatalError(f"airflow {' '.join(args)} 失败 (exit {code}), see {log}")


def _start_simulators(paths: Paths, state: State, env: Mapping[str, str], opts: UpOptions, logs: Path) -> None:
    """`lianban simulate`, started and waited for: it writes ``connections.env`` before it serves."""
    (paths.home / "simulators" / "connections.env").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "lianban.app.cli", "simulate", "--step", str(opts.step_seconds)]
    sims = launch("simulators", argv, env, logs, REPO)
    state.processes.append(sims)
    save_state(paths, state)
    ready = poll_until(lambda: (paths.home / "simulators" / "connections.env").is_file() or not alive(sims),
                       bool, 60)
    if not ready or not alive(sims):
        raise FatalError(f"模拟部门服务未能启动 (simulators did not start), see {sims.log}")
    state.simulators = {k.removeprefix("AIRFLOW_CONN_DEPT_").lower(): _url(json.loads(v))
                        for k, v in simulator_connections(paths).items()}


def _url(conn: Mapping[str, Any]) -> str:
    return f"{conn.get('schema') or 'http'}://{conn['host']}:{conn['port']}"


def _unpause(state: State, password: str, timeout: float, logs: Path) -> None:
    """Wait for the API server (not past its exit) and the parsed lianban DAGs, then unpause them."""
    server = next((p for p in state.processes if p.name == "api-server"), None)

    def gone() -> bool:
        return server is not None and not alive(server)

    health = poll_until(lambda: gone() or requests.get(f"{state.url}/api/v2/monitor/health", timeout=5).ok, bool,
                        timeout)
    if gone():
        raise FatalError(f"Airflow API 服务已退出 (api-server exited), see {logs}/api-server.log")
    if not health:
        raise FatalError(f"Airflow API 服务未在 {timeout:.0f} 秒内就绪 (api-server not ready), "
                         f"see {logs}/api-server.log")
    api = AirflowApi(state.url, AIRFLOW_USER, password)
    parsed = poll_until(api.dags, lambda d: set(LIANBAN_DAGS) <= set(d), timeout, interval=2.0) or {}
    missing = sorted(set(LIANBAN_DAGS) - set(parsed))
    if missing:
        raise FatalError(f"DAG 未能解析：{', '.join(missing)} (DAGs not parsed), see {logs}/dag-processor.log")
    for dag_id in LIANBAN_DAGS:
        api.unpause(dag_id)


def save_state(paths: Paths, state: State) -> None:
    write_private_json(paths.home / STATE_FILE, asdict(state))


def summary(paths: Paths, state: State, already_up: bool) -> dict[str, Any]:
    """What `lianban up` prints: where to look, who logs in, where the password is, what runs."""
    return {"already_up": already_up, "url": state.url, "user": AIRFLOW_USER,
            "password_file": str(password_file(paths.home / "airflow")), "executor": state.executor,
            "hub_url": state.hub_url, "simulators": state.simulators,
            "processes": {p.name: p.pid for p in state.processes if alive(p)}, "dags": list(LIANBAN_DAGS),
            "logs": str(paths.logs / "up"), "state_file": str(paths.home / STATE_FILE), "home": str(paths.home)}
