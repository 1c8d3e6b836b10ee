"""Every lianban process collects garbage for batch work (lianban.gc_tuning): its entry points, each run in a
process of its own as it runs for real (the offload child: tests/pipeline/test_offload.py), and its threads share one
malloc arena."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from lianban.gc_tuning import THRESHOLDS

ENTRY_POINTS = {
    # a DAG task imports the jobs; so does every `lianban run` step
    "jobs": "import lianban.app.jobs",
    # the CLI (the simulators and the hub's API run in its process)
    "cli": "sys.argv = ['lianban', '--help']\nfrom lianban.app.cli import main\ntry:\n    main()\n"
           "except SystemExit:\n    pass",
    # the validation suite's worker process, ending at once on an empty pipe
    "suite worker": "from lianban.pipeline.validate.worker import main\nmain()",
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_an_entry_point_sets_the_collector_for_batch_work(entry: str) -> None:
    script = f"import gc, sys\n{ENTRY_POINTS[entry]}\nprint(gc.get_threshold(), file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", script], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120, check=True)
    assert ast.literal_eval(done.stderr.strip().splitlines()[-1]) == THRESHOLDS
    assert THRESHOLDS != (700, 10, 10)  # CPython's own: the entry point changed them


ARENAS = """
import ctypes, sys, threading
from lianban.gc_tuning import tune
if sys.argv[1] == "tuned":
    tune()
def churn():
    for _ in range(200):
        blocks = [bytes(20_000) for _ in range(20)]  # above pymalloc's 512 bytes, below mmap's threshold
        del blocks
threads = [threading.Thread(target=churn) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()  # glibc's account of its arenas, on stderr
"""


@pytest.mark.parametrize("way", ["tuned", "as started"])
def test_a_tuned_process_keeps_one_malloc_arena_for_all_its_threads(way: str) -> None:
    """An arena per thread keeps what that thread freed; a lianban process's threads share the main one."""
    done = subprocess.run([sys.executable, "-c", ARENAS, way], capture_output=True, text=True, timeout=60,
                          check=True)
    arenas = done.stderr.count("Arena ")
    assert arenas == 1 if way == "tuned" else arenas > 1
