"""What staging costs, and what GX adds to it: ``python -m bench.stage [--records N ...] [--repeat R]``.

For each N, seeds N synthetic approvals into a fresh 前置库 once (``var/bench/stage-n<N>``), then stages a copy
of it in a fresh process per run (as ``lianban run stage`` does: imports, keys, the GX suite, Data Docs), R
times each way:

- ``gx``: as in production — every chunk validated by the Great Expectations suite in its worker process
  (:mod:`lianban.pipeline.validate.worker`), Data Docs rendered;
- ``direct``: the same rules applied without GX (:func:`lianban.domain.rules.evaluate`) in the staging process,
  no Data Docs — what staging would cost if GX cost nothing.

Prints, per N and way, the best run (by wall time: from the process's start to the run recorded, not the
process's exit): wall and CPU seconds (the
staging process and, for ``gx``, the suite's worker), records/s, CPU ms per record and peak RSS, and GX's share
(``gx`` over ``direct``, wall and CPU). Writes ``bench/results/stage.json``. Wall times need a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.kit import ROOT, save

RESULTS = ROOT / "bench" / "results" / "stage.json"
WAYS = ("gx", "direct")


def _without_gx() -> None:
    """This process validates with the rules directly: the run's judge (the suite in its worker) replaced."""
    import lianban.pipeline.stage as stage_module
    from lianban.domain.catalog import load_catalog
    from lianban.domain.columns import Columns
    from lianban.domain.rules import Reason, evaluate
    from lianban.domain.rules.frame import frame_of

    class Direct:
        def __init__(self, docs_dir: Path | None) -> None:
            del docs_dir

        def submit(self, columns: Columns) -> Future[list[list[Reason]]]:
            """The chunk's columns made a frame and judged here, as the suite's worker would judge them."""
            judged: Future[list[list[Reason]]] = Future()
            judged.set_result(evaluate(frame_of(columns), load_catalog()))
            return judged

        def all_submitted(self) -> None:
            """No Data Docs here to render early."""

        def finish(self) -> None:
            return None

    stage_module.Judge = Direct  # type: ignore[assignment,misc]


def once(way: str, home: Path) -> None:
    """Stage everything in `home`'s 前置库 (child process), as ``lianban run stage`` does (its first step starts
    the suite's worker, :func:`lianban.app.jobs.stage`, and collects garbage as every lianban process does,
    :mod:`lianban.gc_tuning`); prints the counts as JSON."""
    from lianban import gc_tuning

    gc_tuning.tune()
    if way == "gx":
        from lianban.pipeline.validate.worker import prestart

        prestart()
    from connectors.hrss.frontend import FrontendDB
    from lianban.app.config import Paths
    from lianban.pipeline.stage import stage
    from lianban.pipeline.validate.worker import _forget_worker

    if way == "direct":
        _without_gx()
    paths = Paths.from_env({"LIANBAN_HOME": str(home)})
    docs = home / "data_docs" / "bench" if way == "gx" else None
    result = stage(FrontendDB(paths.frontend_url), paths.ledger_url, paths.keys_dir, docs_dir=docs)
    ended = time.monotonic()  # the system's clock: the bench subtracts its own start time
    _forget_worker()  # the suite's worker ended, so its CPU time counts (RUSAGE_CHILDREN)
    own, worker = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"counts": result.as_dict(), "ended": ended,
                      "cpu_s": round(own.ru_utime + own.ru_stime + worker.ru_utime + worker.ru_stime, 2),
                      "staging_cpu_s": round(own.ru_utime + own.ru_stime, 2),
                      "peak_rss_mb": round(max(own.ru_maxrss, worker.ru_maxrss) / 1024, 1)}))


def _seeded(records: int, base: Path) -> Path:
    from bench.kit import fresh_home, people, seed
    from lianban.app.config import Paths

    pristine = base / f"stage-n{records}" / "pristine"
    shutil.rmtree(pristine.parent, ignore_errors=True)
    seed(Paths.from_env(fresh_home(pristine)).frontend_url, people(records))
    return pristine


def _run(way: str, pristine: Path, records: int) -> dict[str, Any]:
    home = pristine.parent / way
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(pristine, home)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bench.stage", "--once", way, str(home)], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, check=True)
    said = json.loads(done.stdout.strip().splitlines()[-1])
    wall = said.pop("ended") - started  # from the process's start to the run recorded (not its exit)
    assert said["counts"]["extracted"] == records, said
    return {"wall_s": round(wall, 2), "records_per_s": round(records / wall, 1),
            "cpu_ms_per_record": round(said["cpu_s"] * 1000 / records, 3), **said}


def measure(records: int, repeat: int, base: Path) -> dict[str, Any]:
    """Best of `repeat` runs each way (by wall time), and GX's share."""
    pristine = _seeded(records, base)
    best = {way: min((_run(way, pristine, records) for _ in range(repeat)), key=lambda r: r["wall_s"])
            for way in WAYS}
    gx, direct = best["gx"], best["direct"]
    return {"records": records, **best,
            "gx_extra_wall_pct": round(100 * (gx["wall_s"] / direct["wall_s"] - 1), 1),
            "gx_extra_cpu_pct": round(100 * (gx["cpu_s"] / direct["cpu_s"] - 1), 1)}


def table(r: dict[str, Any]) -> str:
    lines = [f"staging {r['records']:,} records (fresh process each, best of the runs by wall time)"]
    for way in WAYS:
        w = r[way]
        lines.append(f"  {way:<7} wall {w['wall_s']:>7.2f} s  {w['records_per_s']:>8,.0f} records/s  cpu "
                     f"{w['cpu_s']:>7.2f} s  {w['cpu_ms_per_record']:.3f} ms/record (staging process "
                     f"{w['staging_cpu_s']:.2f} s)  peak RSS {w['peak_rss_mb']} MB")
    lines.append(f"  GX adds {r['gx_extra_wall_pct']:+.1f} % wall, {r['gx_extra_cpu_pct']:+.1f} % CPU")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stage", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[10_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--once", nargs=2, metavar=("WAY", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.once:
        once(args.once[0], Path(args.once[1]))
        return
    results = [measure(n, args.repeat, args.home) for n in args.records]
    for result in results:
        print(table(result))
    env = {"python": platform.python_version(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "at": datetime.now(UTC).isoformat(timespec="seconds")}
    save(RESULTS, {"runs": results, "env": env})


if __name__ == "__main__":
    main(sys.argv[1:])
