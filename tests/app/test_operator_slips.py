"""Operator slips (issue 8, item 4): every mistake an operator can make at the `lianban` command gets one
sentence, Chinese first, naming what is wrong, and exit 2; never a traceback, never a secret. And only
`lianban init` (and `seed`, for the 前置库) creates a database: a typo'd SQLite path stays a typo.

One table, run through the real CLI (``python -m lianban.app.cli``) as subprocesses, each case in its own
copy of a home made once by ``lianban init`` + ``lianban seed``. The cases run concurrently (each is a whole
interpreter start-up; one at a time under pytest-xdist) and one test reports every case that misbehaves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lianban.app.config import connection_json

CJK = re.compile(r"[\u4e00-\u9fff]")
PASSWORD = "Slip-Pa55w0rd-7"  # must never be printed
CONN = "AIRFLOW_CONN_DEPT_MEDICAL"
MEDICAL = connection_json("http://127.0.0.1:9", "hub", PASSWORD)  # well-formed; nothing listens there

Breaker = Callable[[Path], None]  # damage done to the case's home (its path) before the command runs


def put(rel: str, body: str | bytes) -> Breaker:
    """Overwrite home/`rel` with `body`."""
    def go(home: Path) -> None:
        path = home / rel
        path.unlink(missing_ok=True)
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return go


def edit(rel: str, **changes: Any) -> Breaker:
    """Change top-level fields of the JSON file home/`rel`."""
    def go(home: Path) -> None:
        path = home / rel
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return go


def first_key(rel: str, value: str) -> Breaker:
    """Replace the active key of ring home/`rel` with `value` (base64 text, or not)."""
    def go(home: Path) -> None:
        path = home / rel
        body = json.loads(path.read_text())
        body["keys"][body["active"]] = value
        path.write_text(json.dumps(body))
    return go


def folder_instead(rel: str) -> Breaker:
    def go(home: Path) -> None:
        (home / rel).unlink()
        (home / rel).mkdir()
    return go


def unreadable(rel: str) -> Breaker:
    def go(home: Path) -> None:
        (home / rel).chmod(0)
    return go


def remove(rel: str) -> Breaker:
    def go(home: Path) -> None:
        (home / rel).unlink()
    return go


def file_at(rel: str) -> Breaker:
    """A regular file at `rel`, relative to the case folder (the home's parent)."""
    def go(home: Path) -> None:
        (home.parent / rel).write_text("a file, not a folder\n")
    return go


@dataclass(frozen=True)
class Slip:
    name: str
    args: tuple[str, ...]
    words: tuple[str, ...]  # what must be named in the output; {home} and {dir} (the case folder) are filled in
    env: Mapping[str, str] = field(default_factory=dict)
    home: str = "seeded"  # "seeded": a copy of the init+seed template; "empty": an empty folder; "none"
    breaks: Breaker | None = None
    absent: tuple[str, ...] = ()  # paths that must still not exist afterwards
    code: int = 2


UNINITIALISED = ("status", "quarantine", "deliveries list", "deliveries retry", "supplements list",
                 "supplements retry", "audit verify",
                 "audit archive --month 2025-01", "run stage", "run deliver medical", "run collect", "run supplements",
                 "run report")

SLIPS = [
    # 1. a ledger URL SQLAlchemy cannot use: the variable and the scheme, never the rest of the URL
    Slip("ledger-url-unknown-driver", ("status",), ("LIANBAN_LEDGER_URL", "mysql+nosuchdriver"),
         env={"LIANBAN_LEDGER_URL": f"mysql+nosuchdriver://hub:{PASSWORD}@db.example.test/ledger"}),
    Slip("ledger-url-unknown-scheme", ("deliveries", "list"), ("LIANBAN_LEDGER_URL", "foo"),
         env={"LIANBAN_LEDGER_URL": "foo://bar"}),
    Slip("ledger-url-plain-path", ("init",), ("LIANBAN_LEDGER_URL", "sqlite:///"), home="none",
         env={"LIANBAN_LEDGER_URL": "ledger.db"}, absent=("{home}",)),
    Slip("frontend-url-plain-path", ("run", "stage"), ("LIANBAN_FRONTEND_URL",),
         env={"LIANBAN_FRONTEND_URL": "hrss_frontend.db"}),
    # 2. only `lianban init` creates the ledger (and `seed` the 前置库)
    Slip("ledger-parent-is-a-file", ("status",), ("台账数据库不存在", "{dir}/afile", "lianban init"),
         env={"LIANBAN_LEDGER_URL": "sqlite:///{dir}/afile/ledger.db"}, breaks=file_at("afile")),
    Slip("init-ledger-parent-is-a-file", ("init",), ("无法创建台账数据库", "{dir}/afile", "LIANBAN_LEDGER_URL"),
         home="empty", env={"LIANBAN_LEDGER_URL": "sqlite:///{dir}/afile/ledger.db"}, breaks=file_at("afile")),
    Slip("ledger-typo", ("status",), ("台账数据库不存在", "{home}/ledgr.db", "lianban init"),
         env={"LIANBAN_LEDGER_URL": "sqlite:///{home}/ledgr.db"}, absent=("{home}/ledgr.db",)),
    *(Slip(f"uninitialised-{'-'.join(cmd.split()[:2])}", tuple(cmd.split()),
           ("台账数据库不存在", "{home}/ledger.db", "lianban init"), home="empty",
           env={CONN: MEDICAL}, absent=("{home}/ledger.db", "{home}/hrss_frontend.db")) for cmd in UNINITIALISED),
    Slip("frontend-missing-stage", ("run", "stage"), ("人社前置库不存在", "{home}/hrss_frontend.db", "lianban seed"),
         breaks=remove("hrss_frontend.db"), absent=("{home}/hrss_frontend.db",)),
    Slip("frontend-missing-simulate", ("simulate",), ("人社前置库不存在", "LIANBAN_FRONTEND_URL"),
         breaks=remove("hrss_frontend.db"), absent=("{home}/hrss_frontend.db",)),
    Slip("home-is-a-file-status", ("status",), ("{home}", "LIANBAN_HOME"), home="none",
         breaks=lambda home: home.write_text("not a folder\n")),
    Slip("home-is-a-file-init", ("init",), ("{home}", "LIANBAN_HOME"), home="none",
         breaks=lambda home: home.write_text("not a folder\n")),
    # 3. key files that do not read
    Slip("key-not-json", ("keys", "list"), ("keys/hub.json", "JSON"), breaks=put("keys/hub.json", "not json")),
    Slip("key-not-utf8", ("keys", "list"), ("keys/vault.json", "UTF-8"), breaks=put("keys/vault.json", b"\xff\xfe")),
    Slip("key-a-folder", ("run", "stage"), ("keys/vault.json", "目录"), breaks=folder_instead("keys/vault.json")),
    Slip("key-wrong-shape", ("run", "stage"), ("keys/hub.json", "active"), breaks=put("keys/hub.json", "[1, 2]")),
    Slip("key-bad-base64", ("audit", "verify"), ("keys/evidence.json", "base64"),
         breaks=first_key("keys/evidence.json", "!!not base64!!")),
    Slip("key-wrong-length", ("audit", "verify"), ("keys/evidence.json", "16"),
         breaks=first_key("keys/evidence.json", "AAAA")),
    Slip("key-set-unknown-suite", ("audit", "archive", "--month", "2025-01", "--out", "{dir}/archive"),
         ("keys/hub-signing-sm.json", "ROT13"), breaks=edit("keys/hub-signing-sm.json", suite="ROT13")),
    Slip("key-set-wrong-shape", ("run", "deliver", "medical"), ("keys/medical-signing.pub.json", "suite"),
         env={CONN: MEDICAL}, breaks=edit("keys/medical-signing.pub.json", keys=["a"])),
    Slip("key-missing", ("audit", "verify"), ("keys/evidence.json", "lianban keys init"),
         breaks=remove("keys/evidence.json")),
    *([] if os.geteuid() == 0 else [  # root reads a mode-000 file anyway
        Slip("key-unreadable", ("keys", "list"), ("keys/hub.json", "权限"), breaks=unreadable("keys/hub.json"))]),
    Slip("key-import-missing-file", ("keys", "import", "medical-recipient", "{dir}/nowhere.pub.json"),
         ("{dir}/nowhere.pub.json",)),
    Slip("key-import-not-json", ("keys", "import", "medical-recipient", "{dir}/afile"), ("{dir}/afile", "JSON"),
         breaks=file_at("afile")),
    # 4. dead-letter states
    Slip("deliveries-list-bogus-state", ("deliveries", "list", "--state", "bogus"), ("--state", "refused", "dead")),
    Slip("deliveries-retry-bogus-state", ("deliveries", "retry", "--state", "bogus"), ("--state", "refused", "dead")),
    Slip("deliveries-unknown-department", ("deliveries", "list", "--department", "nosuchdept"), ("nosuchdept",)),
    # 5. department connections
    Slip("conn-missing", ("run", "deliver", "medical"), (CONN,)),
    Slip("conn-no-host", ("run", "deliver", "medical"), ("dept_medical", "host"), env={CONN: '{"port": 1}'}),
    Slip("conn-port-not-a-number", ("run", "deliver", "medical"), ("dept_medical", "port"),
         env={CONN: '{"host": "medical.example.test", "port": "eighty"}'}),
    Slip("conn-uri-port-not-a-number", ("run", "deliver", "medical"), ("dept_medical", "port"),
         env={CONN: f"http://hub:{PASSWORD}@medical.example.test:eighty"}),
    Slip("conn-extra-not-json", ("run", "deliver", "medical"), ("dept_medical", "extra"),
         env={CONN: '{"host": "medical.example.test", "extra": "{not json"}'}),
    Slip("check-extra-not-json", ("connectors", "check", "medical"), ("dept_medical", "extra"),
         env={CONN: '{"host": "medical.example.test", "extra": "{not json"}'}),
    Slip("check-unknown-department", ("connectors", "check", "nosuchdept"), ("nosuchdept",)),
    # 6. rotating or retiring what is not there
    Slip("rotate-unknown-name", ("keys", "rotate", "nosuchkey"), ("nosuchkey", "vault")),
    Slip("retire-unknown-name", ("keys", "retire", "nosuchkey", "k1"), ("nosuchkey", "vault")),
    Slip("retire-unknown-kid", ("keys", "retire", "vault", "vault-19990101-000000"),
         ("vault-19990101-000000", "lianban keys list")),
    # 7. the rest
    Slip("deliver-unknown-department", ("run", "deliver", "nosuchdept"), ("nosuchdept", "medical")),
    Slip("archive-bad-month", ("audit", "archive", "--month", "2025-13"), ("--month", "2025-13", "YYYY-MM")),
    Slip("verify-missing-archive", ("audit", "verify", "--archive", "{dir}/no/such/file"),
         ("{dir}/no/such/file", "--archive")),
    Slip("verify-not-an-archive", ("audit", "verify", "--archive", "{dir}/afile"),
         ("{dir}/afile", "lianban audit archive"), breaks=file_at("afile")),
]


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str
    new_databases: list[str]  # *.db files that appeared under the case folder
    present: list[str]  # `absent` paths that exist
    words: tuple[str, ...]


def _env(home: Path, pycache: Path) -> dict[str, str]:
    """No inherited LIANBAN_* or AIRFLOW_CONN_* setting. Bytecode goes to a shared folder outside the tree, so
    only the first of these many interpreters compiles lianban and its dependencies (even where
    PYTHONDONTWRITEBYTECODE is set)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_")) and k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "LIANBAN_HOME": str(home), "PYTHONPYCACHEPREFIX": str(pycache)}


def _cli(args: tuple[str, ...], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lianban.app.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


def _databases(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*.db")} if folder.is_dir() else set()


@dataclass(frozen=True)
class Template:
    home: Path  # made the operator's way: `lianban init`, then `lianban seed`
    pycache: Path


def _run(slip: Slip, template: Template, root: Path) -> Outcome:
    case = root / slip.name
    case.mkdir()
    home = case / "home"
    if slip.home == "seeded":
        shutil.copytree(template.home, home)
    elif slip.home == "empty":
        home.mkdir()
    if slip.breaks:
        slip.breaks(home)

    def fill(text: str) -> str:
        return text.replace("{home}", str(home)).replace("{dir}", str(case))

    before = _databases(case)
    env = {**_env(home, template.pycache), **{k: fill(v) for k, v in slip.env.items()}}
    done = _cli(tuple(fill(a) for a in slip.args), env, case)
    return Outcome(done.returncode, done.stdout + done.stderr, sorted(str(p) for p in _databases(case) - before),
                   [fill(a) for a in slip.absent if Path(fill(a)).exists()], tuple(fill(w) for w in slip.words))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """One home made the operator's way, `lianban init` then `lianban seed` (the 前置库), copied per case."""
    root = tmp_path_factory.mktemp("slips")
    made = Template(root / "template", root / "pycache")
    for args in (("init",), ("seed", "--records", "2")):
        done = _cli(args, _env(made.home, made.pycache), root)
        assert done.returncode == 0, done.stdout + done.stderr
    return made


def _problems(slip: Slip, got: Outcome) -> list[str]:
    problems = []
    if got.code != slip.code:
        problems.append(f"exit {got.code}, expected {slip.code}")
    if "Traceback" in got.output:
        problems.append("a traceback")
    if not CJK.search(got.output.strip().splitlines()[0] if got.output.strip() else ""):
        problems.append("no Chinese on the first line")
    problems += [f"does not name {w!r}" for w in got.words if w not in got.output]
    if PASSWORD in got.output:
        problems.append("prints the password")
    if "db.example.test" in got.output:
        problems.append("prints the URL beyond its scheme")
    problems += [f"created a database {p}" for p in got.new_databases]
    problems += [f"created {p}" for p in got.present]
    return problems


def _workers() -> int:
    """Every CPU when run alone; one under pytest-xdist, whose workers already fill the machine (more would
    starve its timing-sensitive simulator tests)."""
    return 1 if os.environ.get("PYTEST_XDIST_WORKER") else max(2, os.cpu_count() or 2)


def test_every_slip_is_one_chinese_sentence_and_exit_2(template: Template, tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        outcomes = list(zip(SLIPS, pool.map(lambda s: _run(s, template, tmp_path), SLIPS), strict=True))
    failures = {slip.name: (problems, got.output) for slip, got in outcomes if (problems := _problems(slip, got))}
    report = "\n\n".join(f"{name}: {'; '.join(p)}\n{output}" for name, (p, output) in failures.items())
    assert not failures, f"{len(failures)} of {len(SLIPS)} slips misbehave:\n\n{report}"


def test_the_table_covers_every_kind_of_slip() -> None:
    names = {s.name for s in SLIPS}
    for prefix in ("ledger-url-", "ledger-typo", "uninitialised-", "key-", "deliveries-", "conn-", "rotate-",
                   "retire-", "deliver-unknown", "archive-bad-month", "verify-missing-archive", "home-is-a-file"):
        assert any(n.startswith(prefix) for n in names), prefix
    assert len(names) == len(SLIPS)
