"""docker/docker-compose.yaml is a valid Compose file that keeps the rules a reviewer checks by eye.

No Docker engine runs here, so the file is checked statically: against the Compose Specification's JSON Schema
(vendored beside this file, see ``compose-spec.NOTICE``), by Debian's ``docker-compose config`` when that
binary is on PATH, and by the invariants below (health checks, one image, CeleryExecutor, separate databases,
no secret in the file, scalable workers).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy.engine import make_url

from tests.docker.conftest import DOCKER, ROOT

SCHEMA = Path(__file__).with_name("compose-spec.json")
#: services that run to completion and exit: no health check, never restarted (named in docs/deploy.md)
ONE_SHOTS = {"airflow-init", "lianban-init", "trial-seed", "trial-connections"}
TRIAL = {"trial-seed", "simulators", "trial-connections"}
#: a required variable: ${NAME:?message} (no default: a forgotten .env stops `docker compose` instead of
#: starting with a guessable password)
REQUIRED = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN")


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment is written as a mapping throughout"
    return {k: str(v) for k, v in env.items()}


def airflow_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services.items() if "AIRFLOW__CORE__EXECUTOR" in environment(s)}


def test_the_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_the_schema_check_refuses_a_misspelt_key_and_a_wrong_type(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-worker"]["restrat"] = "always"
    broken["services"]["redis"]["expose"] = "6379"  # a list, not a string
    errors = schema_errors(broken)
    assert any("restrat" in e for e in errors), errors
    assert any(e.startswith("services/redis/expose") for e in errors), errors


def deployment_folder(tmp_path: Path) -> Path:
    """docker/ as an operator prepares it: .env and departments.env from the examples, the secrets files."""
    folder = tmp_path / "docker"
    shutil.copytree(DOCKER, folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(folder / ".env.example", folder / ".env")
    shutil.copy(folder / "departments.env.example", folder / "departments.env")
    for name in ("airflow_fernet_key", "airflow_jwt_secret", "airflow_api_secret_key"):
        (folder / "secrets" / name).write_text("dev\n")
    return folder


def docker_compose(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not on PATH (Debian: apt-get install docker-compose); "
                    "the JSON Schema check above still runs")
    return subprocess.run([binary, *args], cwd=folder, capture_output=True, text=True, timeout=60)


def test_docker_compose_config_accepts_the_file_with_the_example_settings(tmp_path: Path) -> None:
    done = docker_compose(deployment_folder(tmp_path), "--profile", "trial", "--profile", "flower", "config", "-q")
    assert done.returncode == 0, done.stderr


def test_docker_compose_refuses_to_start_without_the_passwords(tmp_path: Path) -> None:
    folder = deployment_folder(tmp_path)
    (folder / ".env").unlink()
    done = docker_compose(folder, "config", "-q")
    assert done.returncode != 0
    assert "in docker/.env" in done.stderr, done.stderr


def test_every_long_running_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    unchecked = {name for name, s in services.items() if "healthcheck" not in s}
    assert unchecked == ONE_SHOTS
    assert {name: services[name].get("restart") for name in ONE_SHOTS} == dict.fromkeys(ONE_SHOTS, "no")
    assert all(services[name].get("restart") in ("always", "unless-stopped") for name in services.keys() - ONE_SHOTS)


def test_one_shots_are_awaited_to_completion_and_documented(services: dict[str, dict[str, Any]]) -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert sorted(n for n in ONE_SHOTS if f"`{n}`" not in guide) == []
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            expected = "service_completed_successfully" if needed in ONE_SHOTS else "service_healthy"
            assert condition["condition"] == expected, f"{name} → {needed}"


def test_airflow_runs_the_celery_executor_everywhere_with_one_shared_jwt_secret(
        services: dict[str, dict[str, Any]]) -> None:
    airflow = airflow_services(services)
    assert {"airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "airflow-worker", "flower", "trial-connections"} == set(airflow)
    for name, service in airflow.items():
        env = environment(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/lianban/dags", name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET_CMD"] == "cat /run/secrets/airflow_jwt_secret", name
        assert "airflow_jwt_secret" in service["secrets"], name


def test_metadata_and_ledger_are_separate_databases_created_by_the_init_script(
        services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["airflow-scheduler"])
    metadata = make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    ledger = make_url(env["LIANBAN_LEDGER_URL"])
    assert (metadata.host, ledger.host) == ("postgres", "postgres")
    assert metadata.database != ledger.database
    assert metadata.username != ledger.username
    assert ledger.drivername == "postgresql+psycopg"
    script = (DOCKER / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    created = dict(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+);", script))
    assert created[str(metadata.database)] == metadata.username
    assert created[str(ledger.database)] == ledger.username
    mounted = [v for v in services["postgres"]["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert mounted == ["./postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-init-databases.sh:ro"]


def plaintext_secrets(services: dict[str, dict[str, Any]], secrets: dict[str, Any]) -> list[str]:
    """Each environment value that carries a secret not drawn from .env (required) or a Docker secret."""
    found = []
    for name, service in services.items():
        for key, value in environment(service).items():
            if key.endswith("_CMD"):
                drawn = re.fullmatch(r"cat /run/secrets/(\w+)", value)
                ok = bool(drawn) and drawn.group(1) in secrets and drawn.group(1) in service.get("secrets", [])
            elif value.startswith(("postgresql", "db+postgresql", "redis://")):
                password = make_url(value.removeprefix("db+")).password
                ok = password is None or bool(REQUIRED.match(str(password)))
            else:
                ok = not SECRET_KEY.search(key) or bool(REQUIRED.match(value))
            if not ok:
                found.append(f"{name}: {key}")
    return found


def test_no_secret_is_written_in_the_file(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    assert plaintext_secrets(services, compose["secrets"]) == []
    assert "AIRFLOW_CONN_" not in json.dumps(compose)  # department connections: departments.env or Airflow
    for secret in compose["secrets"].values():
        assert re.fullmatch(r"\$\{[A-Z_]+_FILE:-\./secrets/\w+\}", secret["file"]), secret
    assert (DOCKER / "secrets" / ".gitignore").read_text().splitlines()[1:] == ["*", "!.gitignore"]


def test_the_secret_check_catches_a_literal_password_and_a_default(compose: dict[str, Any],
                                                                   services: dict[str, dict[str, Any]]) -> None:
    leaky = copy.deepcopy(services)
    leaky["postgres"]["environment"]["POSTGRES_PASSWORD"] = "${POSTGRES_PASSWORD:-airflow}"
    leaky["lianban-api"]["environment"] = {"LIANBAN_LEDGER_URL": "postgresql+psycopg://u:hunter2@postgres/x"}
    leaky["airflow-worker"]["environment"]["AIRFLOW__CORE__FERNET_KEY_CMD"] = "cat /etc/fernet"
    assert plaintext_secrets(leaky, compose["secrets"]) == [
        "postgres: POSTGRES_PASSWORD", "airflow-worker: AIRFLOW__CORE__FERNET_KEY_CMD",
        "lianban-api: LIANBAN_LEDGER_URL"]


def test_the_example_settings_hold_only_placeholders() -> None:
    lines = (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines()
    settings = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    passwords = {k: v for k, v in settings.items() if "PASSWORD" in k}
    assert passwords and all(v.startswith("change-me") for v in passwords.values()), passwords
    assert "change-me-lianban-db@" in settings["LIANBAN_FRONTEND_URL"]
    examples = (DOCKER / "departments.env.example").read_text(encoding="utf-8").splitlines()
    assert all(line.startswith("#") for line in examples), "departments.env.example only shows commented examples"


def test_workers_scale_and_nothing_pins_a_container_name(services: dict[str, dict[str, Any]]) -> None:
    assert [n for n, s in services.items() if "container_name" in s] == []
    worker = services["airflow-worker"]
    assert "ports" not in worker
    assert worker["command"] == ["celery", "worker"]
    assert environment(worker)["DUMB_INIT_SETSID"] == "0"


def test_every_lianban_service_runs_the_one_image_built_from_the_dockerfile(
        services: dict[str, dict[str, Any]]) -> None:
    ours = {n: s for n, s in services.items() if n not in ("postgres", "redis")}
    assert {(s["image"], s["build"]["context"], s["build"]["dockerfile"]) for s in ours.values()} == {
        ("${LIANBAN_IMAGE:-lianban:0.1.0}", "..", "docker/Dockerfile")}
    assert {"lianban-api", "simulators", "airflow-worker"} <= set(ours)


def test_the_keys_folder_is_one_volume_wherever_lianban_runs(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        env = environment(service)
        if "LIANBAN_KEYS_DIR" in env:
            assert f"${{LIANBAN_KEYS_SOURCE:-lianban-keys}}:{env['LIANBAN_KEYS_DIR']}" in service["volumes"], name
            assert env["LIANBAN_LEDGER_URL"].endswith("@postgres:5432/lianban_ledger"), name
    assert {n for n, s in services.items() if "LIANBAN_KEYS_DIR" in environment(s)} == services.keys() - {
        "postgres", "redis"}


def test_the_simulators_are_reachable_only_in_the_trial_profile(services: dict[str, dict[str, Any]]) -> None:
    profiled = {n: s["profiles"] for n, s in services.items() if "profiles" in s}
    assert profiled == {"flower": ["flower"], **{name: ["trial"] for name in TRIAL}}
    importing = {n for n, s in services.items() if environment(s).get("PYTHONPATH") == "/opt/lianban"}
    assert importing == {"trial-seed", "simulators"}
    assert services["lianban-api"]["command"][:3] == ["uvicorn", "--factory", "lianban.app.api:app_from_env"]


def test_every_department_has_its_airflow_pool_created_at_init() -> None:
    from lianban.domain.catalog import load_catalog

    pools = json.loads((Path(__file__).resolve().parents[2] / "docker" / "pools.json").read_text())
    assert set(pools) == {f"lianban_{d}" for d in load_catalog().pushed_departments()}
    assert all(p["slots"] >= 1 for p in pools.values())
