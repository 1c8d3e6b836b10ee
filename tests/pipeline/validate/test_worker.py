"""The suite in its worker process (lianban.pipeline.validate.worker): the same verdicts as in this process, the
chunks answered in order while staging goes on, a lost worker never stops the run, and a killed staging process
leaves no worker behind."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.columns import record_columns
from lianban.domain.rules.frame import from_records
from lianban.pipeline.stage import stage
from lianban.pipeline.validate import worker
from lianban.pipeline.validate.runner import validator
from simulators.people import generate
from tests.pipeline.validate.test_suite import mixed_records

ROOT = Path(__file__).resolve().parents[3]


def test_the_worker_gives_the_reasons_this_process_would_in_the_order_asked() -> None:
    records = mixed_records()
    chunks = [record_columns(records[:60]), record_columns(records[60:])]
    judge = worker.Judge(None)
    pending = [judge.submit(chunk) for chunk in chunks]  # both asked before either answer is read
    assert [p.result(timeout=120) for p in pending] == [validator().run(from_records(records[:60])).reasons,
                                                        validator().run(from_records(records[60:])).reasons]
    assert judge.remote and judge.finish() is None
    assert any(pending[0].result()) and any(pending[1].result())


def test_a_run_that_judged_nothing_finishes_without_waiting_for_the_worker(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Most scheduled runs find nothing new: they end without asking the worker, which would first load GX."""
    asked: list[object] = []
    monkeypatch.setattr(worker._Worker, "ask", lambda _self, request: asked.append(request[0]))
    assert worker.Judge(tmp_path / "docs").finish() is None
    assert asked == [] and not (tmp_path / "docs").exists()


def _apps_two_broken(paths: Paths) -> list[dict[str, Any]]:
    """40 applications in the 前置库, two of them invalid: one in the first chunk of 10 (judged by the worker),
    one in the last (judged after the worker is lost)."""
    apps = list(generate(40, seed=31))
    for broken in (5, 35):
        apps[broken] = {**apps[broken], "id_number": apps[broken]["id_number"][:17] + "x"}
    FrontendDB(paths.frontend_url).insert_applications(apps)
    return apps


def _staged_losing_the_worker(paths: Paths, docs: Path, caplog: pytest.LogCaptureFixture,
                              apps: list[dict[str, Any]]) -> str:
    """A run that loses its worker stages every row, judged right, and renders Data Docs; its one warning (no
    value from the data in it)."""
    with caplog.at_level(logging.WARNING, logger="lianban.validate"):
        result = stage(FrontendDB(paths.frontend_url), paths.ledger_url, paths.keys_dir, chunk=10,
                       docs_dir=docs, suite_rows=10)
    assert result.extracted == 40 and result.staged == 38 and result.quarantined == 2
    assert result.data_docs and Path(result.data_docs).exists()
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "lianban.validate"]
    assert "校验子进程不可用" in warning and "此前由子进程校验的 1 批不在本次校验报告（Data Docs）中" in warning
    assert not any(str(a[k]) in warning for a in apps for k in ("id_number", "name", "phone") if a[k])
    assert worker.Judge(None).remote  # the next run starts a worker again
    return warning


def test_a_worker_lost_mid_run_leaves_the_run_to_this_process(paths: Paths, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    apps = _apps_two_broken(paths)
    asked, ask = [], worker._Worker.ask

    def dies_after_the_first_chunk(self: worker._Worker, request: tuple[object, ...]) -> object:
        asked.append(request[0])
        if len(asked) == 2:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        return ask(self, request)

    monkeypatch.setattr(worker._Worker, "ask", dies_after_the_first_chunk)
    _staged_losing_the_worker(paths, tmp_path / "docs", caplog, apps)


def test_a_worker_that_dies_while_idle_is_lost_with_a_warning_not_replaced_quietly(
        paths: Paths, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed between two judged chunks (where an OOM kill lands: the worker waits most of a run), the worker
    took the run's Data Docs so far with it: the operator is told, as for a worker lost during a call, and the
    rest of the run is judged here, not by a worker started quietly."""
    apps = _apps_two_broken(paths)
    answered, ask = [], worker._Worker.ask

    def dies_idle_after_the_first_chunk(self: worker._Worker, request: tuple[object, ...]) -> object:
        answer = ask(self, request)
        answered.append(request[0])
        if answered == ["judge"]:  # answered, then killed while it waits for the next chunk
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        return answer

    monkeypatch.setattr(worker._Worker, "ask", dies_idle_after_the_first_chunk)
    warning = _staged_losing_the_worker(paths, tmp_path / "docs", caplog, apps)
    assert "ended between calls" in warning
    assert answered == ["judge"]


def test_at_exit_the_worker_is_stopped_not_left_to_load_gx_unless_a_parent_process_started_it() -> None:
    """A run that found nothing new exits while its worker still loads GX: the worker is stopped, not left to
    finish loading (a second of CPU) while it holds the output streams it shares with the run, and waited for (so
    that its CPU counts in the run's, as a caller measuring the run sees it). A forked child that inherited the
    handler leaves its parent's worker alone (it ends when the parent closes its pipe)."""
    ours = worker._Worker()
    ours.end()
    assert ours.proc.returncode == -signal.SIGTERM  # already reaped when end() returns
    parents = worker._Worker()
    parents.owner = -1  # as seen from a forked child
    parents.end()
    assert parents.proc.wait(timeout=120) == 0  # it read its pipe's end once loaded, and ended on its own


def test_a_killed_staging_process_leaves_no_worker_behind() -> None:
    script = ("import os, sys, time; from lianban.pipeline.validate import worker; worker.Judge(None); "
              "print(worker._the_worker().proc.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 60  # the worker may still be importing GX: it reads its pipe's end after
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (ended, not yet reaped by init) is not alive
        return stat.read().split()[2] != "Z"


def test_the_worker_takes_arrows_buffers_from_the_c_library_which_gives_freed_memory_back() -> None:
    """Not from Arrow's own pool (mimalloc), which kept what each run of the suite freed."""
    script = ("import sys\nfrom lianban.pipeline.validate.worker import main\nmain()\nimport pyarrow\n"
              "print(pyarrow.default_memory_pool().backend_name, file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run([sys.executable, "-c", script], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, check=True, env=env)
    assert done.stderr.strip().splitlines()[-1] == "system"


def test_the_worker_leaves_out_what_gx_imports_for_what_it_never_does() -> None:
    """GX's SQL data sources (SQLAlchemy: told it is not installed) and the KL-divergence charts (Altair: stood
    in for until touched) are the worker's 40 MB of nothing; it still builds the suite and judges."""
    script = ("import sys\nfrom lianban.pipeline.validate.worker import main\nmain()\n"
              "from lianban.pipeline.validate.runner import validator\n"
              "from tests.pipeline.validate.test_suite import mixed_records\n"
              "from lianban.domain.rules.frame import from_records\n"
              "held = sum(map(bool, validator().run(from_records(mixed_records())).reasons))\n"
              "print(sys.modules.get('sqlalchemy'), type(sys.modules['altair']).__name__, held > 0, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, check=True, cwd=ROOT)
    assert done.stderr.strip().splitlines()[-1] == "None _Deferred True"
