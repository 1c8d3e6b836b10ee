"""A process of our own for module-level functions: answers, exceptions, a lost child, and an end."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lianban import gc_tuning
from lianban.errors import FatalError
from lianban.pipeline.offload import Offload, ProcessLost, after_reply, serve


def offload_children() -> list[int]:
    """The pids of this process's offload children."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and b"lianban.pipeline.offload" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except (OSError, IndexError, ValueError):  # a process gone meanwhile
            continue
    return found


class Odd(Exception):
    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} {b}")


def refuse(text: str) -> None:
    raise FatalError(text)


def odd() -> None:
    raise Odd("kept", "here")


def _served(*calls: tuple[object, ...]) -> list[tuple[str, object]]:
    """What the child's loop answers to `calls`, run here over in-memory pipes."""
    import io
    import pickle

    requests, answers = io.BytesIO(), io.BytesIO()
    for fn, *args in calls:
        pickle.dump((fn, tuple(args), {}), requests)
    requests.seek(0)
    serve(requests, answers)
    answers.seek(0)
    return [pickle.load(answers) for _ in calls]


def test_calls_are_answered_in_another_process_in_order() -> None:
    with Offload() as child:
        futures = [child.submit(os.getpid) for _ in range(3)] + [child.submit(sorted, [3, 1, 2])]
        pids = {f.result(timeout=30) for f in futures[:3]}
        assert pids != {os.getpid()} and len(pids) == 1
        assert futures[3].result() == [1, 2, 3]


def test_the_child_collects_garbage_for_batch_work() -> None:
    with Offload() as child:
        assert child.submit(gc.get_threshold).result(timeout=30) == gc_tuning.THRESHOLDS  # not CPython's own


def test_an_exception_comes_back_as_raised_and_the_child_goes_on() -> None:
    with Offload() as child:
        with pytest.raises(ValueError, match="invalid literal"):
            child.submit(int, "x").result(timeout=30)
        assert child.submit(abs, -2).result() == 2


def test_an_exception_that_cannot_be_rebuilt_comes_back_by_its_type_alone() -> None:
    (kind, refused), (_, odd_one), (ok, value) = _served((refuse, "规则无法运行"), (odd,), (abs, -3))
    assert kind == "error" and isinstance(refused, FatalError) and str(refused) == "规则无法运行"
    assert isinstance(odd_one, RuntimeError) and "Odd" in str(odd_one)
    assert "kept" not in str(odd_one)  # its type, never its message
    assert (ok, value) == ("ok", 3)


def test_a_killed_child_is_lost_for_the_call_under_way_and_those_after() -> None:
    child = Offload()
    try:
        assert child.submit(abs, -1).result(timeout=30) == 1
        assert child.pid in offload_children()
        os.kill(child.pid, signal.SIGKILL)
        with pytest.raises(ProcessLost):
            child.submit(time.sleep, 0).result()
        with pytest.raises(ProcessLost):
            child.submit(abs, -1).result()
    finally:
        child.shutdown()


def test_the_child_ends_when_shut_down() -> None:
    child = Offload()
    assert child.submit(abs, -1).result(timeout=30) == 1
    assert child.pid in offload_children()
    child.shutdown()
    assert child.pid not in offload_children()


_PARENT = """
import sys, time
from lianban.pipeline.offload import Offload
child = Offload()
assert child.submit(abs, -1).result(timeout=30) == 1
child.submit(time.sleep, 300)  # a long call: the child does not read its pipe until it ends
print(child.pid, flush=True)
time.sleep(300)
"""


def _running(pid: int) -> bool:
    """Whether `pid` is alive (a zombie left for init to reap has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_child_whose_parent_is_killed_during_a_call_ends_too() -> None:
    """A parent killed while its child works on a long call (a delivery run's second process): the child does
    not work on alone, it ends within a second or so."""
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert _running(pid)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(pid)
    finally:
        parent.kill()


_done: list[str] = []


def later(text: str) -> int:
    """Answers how much was done before it, and leaves `text` to do once that answer is sent."""
    after_reply(lambda: _done.append(text))
    return len(_done)


def done() -> list[str]:
    return list(_done)


def test_work_left_after_a_reply_is_done_before_the_next_call_is_read() -> None:
    _done.clear()
    answers = _served((later, "a"), (later, "b"), (done,))
    assert answers == [("ok", 0), ("ok", 1), ("ok", ["a", "b"])]  # each answered before its work ahead was done


def later_then_fail(text: str) -> None:
    after_reply(lambda: _done.append(text))
    raise FatalError("refused after leaving work ahead")


def breaking_later() -> str:
    after_reply(lambda: _done.append(str(1 / 0)))
    return "answered"


def test_work_ahead_is_dropped_when_its_call_fails_and_one_that_fails_is_only_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    _done.clear()
    answers = _served((later, "kept"), (later_then_fail, "dropped"), (breaking_later,), (done,))
    assert [a[0] for a in answers] == ["ok", "error", "ok", "ok"]
    assert answers[3] == ("ok", ["kept"])  # the failed call's work was not done; the failing work changed nothing
    assert any("ZeroDivisionError" in r.getMessage() for r in caplog.records)
