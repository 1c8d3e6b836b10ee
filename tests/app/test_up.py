"""`lianban up` / `lianban down` (lianban.app.up): the real Airflow on this machine, and stopping it by pid.

The fast tests start plain processes through the launcher's own bookkeeping; the airflow-marked one runs the
command an operator runs, against a real LocalExecutor Airflow on SQLite, and asks its REST API.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from lianban.app.airflow_api import AirflowApi
from lianban.app.config import Paths
from lianban.app.processes import Started, alive, launch, poll_until, start_time
from lianban.app.up import LIANBAN_DAGS, State, UpOptions, airflow_env, api_port, down, save_state
from lianban.errors import ConfigError, FatalError

REPO = Path(__file__).resolve().parents[2]


def _paths(tmp_path: Path) -> Paths:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return Paths.from_env({"LIANBAN_HOME": str(home)})


def processes_of(home: Path) -> list[int]:
    """Every live process whose environment names `home` as LIANBAN_HOME (what `up` started, and their children)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if f"LIANBAN_HOME={home}".encode() in environ and start_time(int(proc.name)) is not None:
            found.append(int(proc.name))
    return found


def _cmdline(pid: int) -> str:
    """What a process left behind runs (for the failure message)."""
    try:
        return f"{pid}: " + (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:300]
    except OSError:
        return f"{pid}: gone"


def test_down_stops_each_process_group_it_started_children_included_and_says_what(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    env = {**os.environ, "LIANBAN_HOME": str(paths.home)}
    logs = tmp_path / "logs"
    logs.mkdir()
    stubborn = "trap '' TERM; sleep 300 & sleep 300"  # ignores TERM: only the KILL after the grace ends it
    state = State(url="http://127.0.0.1:1", executor="local",
                  processes=[launch("polite", ["sleep", "300"], env, logs),
                             launch("stubborn", ["bash", "-c", stubborn], env, logs)])
    save_state(paths, state)
    assert len(poll_until(lambda: processes_of(paths.home), lambda p: len(p) >= 3, 10)) >= 3  # a shell + its child

    result = down(paths, grace=2.0)

    assert sorted(result["stopped"]) == ["polite", "stubborn"]
    # the leaders are gone when down returns; a KILLed child may need a moment of a loaded machine to exit
    assert poll_until(lambda: processes_of(paths.home), lambda p: p == [], 10) == []
    assert down(paths)["stopped"] == []  # idempotent: nothing left, nothing said stopped


def test_down_stops_a_child_that_moved_to_a_process_group_of_its_own(tmp_path: Path) -> None:
    """Airflow runs each task in a process group of its own: stopping the scheduler's group alone left a task
    that was running behind."""
    paths = _paths(tmp_path)
    env = {**os.environ, "LIANBAN_HOME": str(paths.home)}
    logs = tmp_path / "logs"
    logs.mkdir()
    save_state(paths, State(url="http://127.0.0.1:1", executor="local",
                            processes=[launch("scheduler", ["bash", "-c", "setsid sleep 300 & wait"], env, logs)]))
    assert len(poll_until(lambda: processes_of(paths.home), lambda p: len(p) >= 2, 10)) >= 2

    assert down(paths, grace=2.0)["stopped"] == ["scheduler"]
    assert processes_of(paths.home) == []


def test_down_leaves_alone_a_pid_that_now_belongs_to_another_program(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    other = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        reused = Started("scheduler", other.pid, "1", str(tmp_path / "scheduler.log"))  # not its start time
        save_state(paths, State(url="http://127.0.0.1:1", executor="local", processes=[reused]))
        assert down(paths)["stopped"] == []
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_busy_port_and_a_celery_setup_without_broker_are_one_sentence_each(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"端口 {port} 已被占用"):
            api_port(port)
    secrets = {"fernet_key": "k", "api_secret_key": "s", "jwt_secret": "j"}
    with pytest.raises(ConfigError, match="LIANBAN_BROKER_URL"):
        airflow_env(_paths(tmp_path), UpOptions(executor="celery", db_url="postgresql+psycopg://x/y"), 8080, secrets)
    with pytest.raises(ConfigError, match="LIANBAN_AIRFLOW_DB_URL"):
        airflow_env(_paths(tmp_path), UpOptions(executor="celery", broker_url="redis://x"), 8080, secrets)


class _Probe:
    """A socket whose bind to port 0 gets the next of `offered` (the kernel offering a closed probe's port again)."""

    offered: ClassVar[list[int]] = []

    def __enter__(self) -> _Probe:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def bind(self, address: tuple[str, int]) -> None:
        self.port = address[1] or self.offered.pop(0)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


def test_each_server_up_starts_gets_its_own_port_when_the_kernel_offers_one_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lianban.app.up as up

    monkeypatch.setattr(up, "_CHOSEN", set())
    monkeypatch.setattr(up.socket, "socket", _Probe)
    monkeypatch.setattr(_Probe, "offered", [40001, 40001, 40002, 40003, 40002, 40009, 40004])
    api = api_port(0)
    env = airflow_env(_paths(tmp_path), UpOptions(), api, {"fernet_key": "k", "api_secret_key": "s", "jwt_secret": "j"})
    logs = {int(env[f"AIRFLOW__LOGGING__{which}_LOG_SERVER_PORT"]) for which in ("WORKER", "TRIGGER")}
    assert api == 40001 and logs == {40002, 40003}
    assert api_port(40009) == 40009 and up.free_port() == 40004  # a port asked for by --port is not offered again


def test_an_api_server_that_exits_is_told_at_once_not_after_the_whole_wait(tmp_path: Path) -> None:
    from lianban.app.up import _unpause

    server = launch("api-server", [sys.executable, "-c", "raise SystemExit(1)"], os.environ, tmp_path, REPO)
    state = State(url="http://127.0.0.1:9", executor="local", processes=[server])  # nothing listens there
    poll_until(lambda: alive(server), lambda up: not up, 30)
    with pytest.raises(FatalError, match="已退出"):  # not "未在 60 秒内就绪": it does not wait out the timeout
        _unpause(state, "pw", 60, tmp_path)


def test_up_unpauses_every_dag_of_the_repository_the_notices_among_them() -> None:
    import re

    declared = {m for f in (REPO / "dags").glob("*.py") for m in re.findall(r'dag_id="([a-z_]+)"', f.read_text())}
    assert "lianban_notices" in declared and set(LIANBAN_DAGS) == declared


def test_every_process_is_told_the_same_secrets_and_the_repository_dags(tmp_path: Path) -> None:
    secrets = {"fernet_key": "k", "api_secret_key": "s", "jwt_secret": "j"}
    env = airflow_env(_paths(tmp_path), UpOptions(), 8123, secrets)
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO / "dags")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8123/execution/"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:///")
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert (env["AIRFLOW__API_AUTH__JWT_SECRET"], env["AIRFLOW__CORE__LOAD_EXAMPLES"]) == ("j", "False")


# -- the real thing ----------------------------------------------------------------------------------------
def lianban(home: Path, *args: str, timeout: float = 420) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIANBAN_HOME": str(home)}
    for name in ("LIANBAN_LEDGER_URL", "LIANBAN_FRONTEND_URL", "LIANBAN_KEYS_DIR", "LIANBAN_AIRFLOW_DB_URL"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "lianban.app.cli", *args], env=env, cwd=REPO, text=True,
                          capture_output=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    home = tmp_path_factory.mktemp("up") / "home"
    result = lianban(home, "up", "--port", "0", "--records", "8", "--json")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield home, json.loads(result.stdout)
    finally:
        lianban(home, "down")
        for pid in processes_of(home):  # never leave a process behind, even when the test failed
            os.kill(pid, signal.SIGKILL)


@pytest.mark.airflow
def test_up_starts_a_working_airflow_and_down_leaves_nothing_behind(
        started: tuple[Path, dict[str, Any]]) -> None:
    home, info = started
    assert info["executor"] == "local" and info["user"] == "operator"
    assert set(info["processes"]) == {"simulators", "hub-api", "api-server", "scheduler", "dag-processor",
                                      "triggerer"}
    password = json.loads(Path(str(info["password_file"])).read_text())["operator"]
    api = AirflowApi(str(info["url"]), "operator", password)
    dags = api.dags()
    assert set(dags) == set(LIANBAN_DAGS)  # every DAG the repository has, the 双告知 notices' among them
    assert {d: dags[d]["is_paused"] for d in dags} == dict.fromkeys(dags, False)

    for dag_id in ("lianban_exchange", "lianban_feedback"):  # on schedule: unpausing starts the latest interval
        def kinds(dag: str = dag_id) -> set[str]:
            return {r["run_type"] for r in api.call("GET", f"/dags/{dag}/dagRuns")["dag_runs"]}

        assert "scheduled" in (poll_until(kinds, lambda k: "scheduled" in k, 60) or set()), dag_id
    run_id = api.trigger("lianban_exchange")
    assert api.wait_run("lianban_exchange", run_id, timeout=300) == "success"
    delivered = {t["task_id"]: t["state"] for t in api.task_instances("lianban_exchange", run_id)}
    assert set(delivered.values()) == {"success"} and len(delivered) == 4

    again = json.loads(lianban(home, "up", "--json").stdout)
    assert again["already_up"] is True and again["url"] == info["url"]

    stopped = json.loads(lianban(home, "down", "--json").stdout)
    assert set(stopped["stopped"]) == set(info["processes"])
    assert [_cmdline(pid) for pid in processes_of(home)] == [] and not (home / "up.json").exists()
    assert json.loads(lianban(home, "down", "--json").stdout)["stopped"] == []
    assert not alive(Started("api-server", int(info["processes"]["api-server"]), "", ""))


def test_a_damaged_state_file_is_one_sentence_saying_what_to_do(tmp_path: Path) -> None:
    """up.json cut short (a full disk) made `lianban down` end in a JSONDecodeError traceback."""
    paths = _paths(tmp_path)
    paths.home.mkdir(parents=True, exist_ok=True)
    (paths.home / "up.json").write_text('{"url": "http://127.0.0.1:8080", "executor": "local", "proc', "utf-8")
    with pytest.raises(ConfigError, match=r"up\.json 已损坏.*再删除该文件"):
        down(paths)
