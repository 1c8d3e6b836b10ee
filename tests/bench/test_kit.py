"""What the benches share: their own home and settings, seeding, children that start, say they did, and stop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import kit


def test_a_bench_takes_none_of_the_callers_lianban_settings_or_connections(tmp_path: Path) -> None:
    caller = {"LIANBAN_LEDGER_URL": "sqlite:////elsewhere/ledger.db", "AIRFLOW_CONN_DEPT_MEDICAL": "bogus",
              "LIANBAN_HOME": "/elsewhere", "PATH": "/usr/bin"}
    assert kit.own_env(tmp_path, caller) == {"PATH": "/usr/bin", "LIANBAN_HOME": str(tmp_path)}


def test_seeding_writes_every_row_across_chunks(tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from connectors.hrss.frontend import FrontendDB, applications
    from lianban.app.config import Paths

    url = Paths.from_env(kit.fresh_home(tmp_path / "home")).frontend_url
    assert kit.seed(url, kit.people(kit.SEED_CHUNK + 7)) == kit.SEED_CHUNK + 7
    with FrontendDB(url).engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(applications)).scalar() == kit.SEED_CHUNK + 7


def test_a_child_that_dies_before_saying_it_started_is_an_error_naming_its_log(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    with pytest.raises(RuntimeError, match=r"did not start \(exit 3\), see .*child\.log"):
        kit.start([sys.executable, "-c", "import sys; sys.stderr.write('no port'); sys.exit(3)"], {}, log)
    assert log.read_text() == "no port"


def test_a_child_that_ignores_terminate_is_killed(tmp_path: Path) -> None:
    stubborn = ("import json, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print(json.dumps({'url': 'x'}), flush=True); time.sleep(60)")
    proc, said = kit.start([sys.executable, "-c", stubborn], {})
    assert said == {"url": "x"}
    kit.stop(proc, timeout=0.5)
    assert proc.returncode == -9


def test_the_simulators_are_told_their_home_clock_and_faults(tmp_path: Path) -> None:
    args, log = kit.simulate_args({"LIANBAN_HOME": str(tmp_path)}, 5.0, with_hrss=True, faults="medical:down")
    assert args[-5:] == ["--step", "5.0", "--with-hrss", "--faults", "medical:down"]
    assert log == tmp_path / "logs" / "simulators.log" and log.parent.is_dir()
    assert "--no-with-hrss" in kit.simulate_args({"LIANBAN_HOME": str(tmp_path)})[0]


def test_a_failing_lianban_step_is_an_error_with_what_it_said_or_nothing_when_not_checked(tmp_path: Path) -> None:
    env = kit.own_env(tmp_path)
    with pytest.raises(RuntimeError, match=r"lianban run deliver nosuch failed \(2\): .*部门 'nosuch'"):
        kit.cli(env, "run", "deliver", "nosuch")
    assert kit.cli(env, "run", "deliver", "nosuch", check=False) == {}


def test_make_bench_stops_with_the_failed_steps_words(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bench import pipeline

    def failing(*_: object) -> None:
        raise RuntimeError("lianban run stage failed (1): 台账无法打开")

    monkeypatch.setattr(pipeline, "run", failing)
    with pytest.raises(SystemExit, match="台账无法打开"):
        pipeline.main(["--records", "10", "--home", str(tmp_path)])


def test_a_result_is_saved_as_readable_utf8_json_in_a_folder_made_for_it(tmp_path: Path) -> None:
    path = kit.save(tmp_path / "results" / "x.json", {"stage": "入库", "n": 1})
    assert path.read_bytes().decode("utf-8") == '{\n  "stage": "入库",\n  "n": 1\n}'
