"""A process of our own that runs module-level functions: ``python -m lianban.pipeline.offload``.

What :class:`concurrent.futures.ProcessPoolExecutor` with one worker does, without multiprocessing's ways of
starting it: ``spawn`` imports the parent's main module again in the child (an Airflow task's, a script's
without a main guard: the child never starts), and ``fork`` copies a parent that has threads and open ledger
connections. The child is a plain ``python -m`` of this module; calls go to it one at a time over a pipe,
pickled (a function by its module and name), and each comes back as a future's result or exception. If the
child dies, the call under way and every later one raise :class:`ProcessLost`. The child ends when the pipe
closes: at :meth:`Offload.shutdown`, or when the parent exits or is killed; a parent killed during a long call (a
delivery run's second process, :func:`lianban.app.jobs.deliver`) ends the child within a second, as if it had been
killed too (what it had begun in the ledger rolls back; what it had claimed falls due again).
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import suppress
from typing import IO, Any, ParamSpec, TypeVar

from lianban import gc_tuning

__all__ = ["Offload", "ProcessLost", "after_reply"]

P = ParamSpec("P")
T = TypeVar("T")


class ProcessLost(Exception):
    """The child process is gone (it died, or answered what it should not)."""


class Offload(Executor):
    """One child process, calls answered in order (a thread talks to it, so :meth:`submit` never waits)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-m", __name__, str(os.getpid())], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)
        self._talk = ThreadPoolExecutor(1, thread_name_prefix="lianban-offload")

    @property
    def pid(self) -> int:
        return self._proc.pid

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return self._talk.submit(self._call, fn, args, kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Close the pipe once the calls submitted are answered (or cancelled): the child then ends."""
        self._talk.shutdown(wait=wait, cancel_futures=cancel_futures)
        if self._proc.stdin is not None:
            with suppress(OSError):  # a child already gone
                self._proc.stdin.close()
        if wait:
            self._proc.wait()

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            pickle.dump((fn, args, kwargs), self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
            kind, answer = pickle.load(self._proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
            raise ProcessLost(f"{type(exc).__name__} (exit code {self._proc.poll()})") from None
        if kind == "error":
            raise answer
        if kind != "ok":
            raise ProcessLost(f"answered {kind!r}")
        result: T = answer
        return result


_then: list[Callable[[], None]] = []  # what the call just answered left to do (at most one: the latest)


def after_reply(work: Callable[[], None]) -> None:
    """In the child: run `work` once the answer under way has been sent, before the next call is read, so that
    a call can start on what its caller will most likely ask next (the report's reader reads ahead)."""
    _then[:] = [work]


def _run_then() -> None:
    while _then:
        work = _then.pop()
        try:
            work()
        except Exception as exc:  # work ahead is only ever a head start: the call itself does it again
            logging.getLogger(__name__).warning("预读失败，待调用时重做 (work ahead failed: %s)", type(exc).__name__)


def serve(calls: IO[bytes], answers: IO[bytes]) -> None:
    """The child's loop: one answer per call until the pipe closes, then what the call left to do
    (:func:`after_reply`). An exception goes back as it was raised; one that cannot be pickled goes back as a
    RuntimeError naming its type (never its message: it could hold what a log line must not)."""
    while True:
        try:
            fn, args, kwargs = pickle.load(calls)
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(*args, **kwargs))
        except Exception as exc:  # every failure goes back to the caller
            _then.clear()
            reply = ("error", exc)
        answers.write(_pickled(reply))
        answers.flush()
        _run_then()


def _pickled(reply: tuple[str, Any]) -> bytes:
    """`reply` pickled; an exception is also unpickled here first (one whose class takes other arguments than
    its ``args`` would fail only in the parent)."""
    try:
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        if reply[0] == "error":
            pickle.loads(data)
    except Exception as exc:
        unpicklable = RuntimeError(f"{type(reply[1]).__name__} (unpicklable: {type(exc).__name__})")
        data = pickle.dumps(("error", unpicklable))
    return data


ORPHAN_CHECK_SECONDS = 0.5


def _end_with(parent: int) -> None:
    """Exit this process at once when `parent` is no longer its parent (it died: the child was handed to init)."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(1)


def main() -> None:
    """Answers go to the original stdout; anything else printed goes to stderr (the task's log). Started with
    its parent's pid, the child ends when that parent is gone, even during a call."""
    if len(sys.argv) > 1:
        threading.Thread(target=_end_with, args=(int(sys.argv[1]),), daemon=True, name="lianban-parent").start()
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    gc_tuning.tune()
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":  # run as the importable module: after_reply() is called on that one, not on __main__
    import lianban.pipeline.offload

    lianban.pipeline.offload.main()
