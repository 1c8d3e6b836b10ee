"""The suite in a process of its own, so that staging does not wait for Great Expectations' fixed cost.

Importing GX and building the suite cost about 2.5 s of CPU per process on the 2-core machine, and the frame's
derived columns, the suite's run and the Data Docs more per chunk: a 10,000-record staging run took 60 % longer
with GX than with the same rules applied directly, and a thread could not hide it (the GIL). So staging hands
its chunks to a worker process, ``python -m lianban.pipeline.validate.worker``, started when the staging
process first needs it and kept for the life of that process (a test session or a long-lived worker pays GX
once, as before). The worker imports GX and builds the suite on the other core while staging loads its keys
and reads its first rows; it then judges each chunk with the same :class:`ChunkValidator`, keeps the masked
result for the run's Data Docs (:class:`RunDocs`) and renders them when the run ends.

Nothing is judged any other way. When the worker cannot be started or is lost, the run carries on with the suite
in its own process, with one warning that names what happened (no value from the data is in it); the Data Docs
then hold the chunks judged after that. A worker that ended between two of a run's calls (killed while idle,
where an OOM kill most often lands) is lost the same way, not replaced quietly: it held the run's Data Docs so
far. A rule that cannot run is a :class:`FatalError` in the worker, raised again in staging with the same
sentence.

The chunks cross a pipe between the two processes as their columns (:mod:`lianban.domain.columns`: staging's
process never imports pandas; the worker makes each frame), pickled (the worker's stdout is kept for its answers
alone, anything else it prints goes to stderr). The worker ends when the pipe closes: at the staging process's
exit, or when that process is killed.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lianban import gc_tuning
from lianban.errors import FatalError

if TYPE_CHECKING:  # this module stays light: a staging process starts the worker before its own imports
    from lianban.domain.columns import Columns
    from lianban.domain.reasons import Reason

log = logging.getLogger("lianban.validate")
#: the worker's Arrow buffers (the frames' text columns) from the C library's malloc, not Arrow's own mimalloc pool,
#: which kept what a run freed: five runs of 10,000 rows left the worker at 255–266 MB against 241–242 MB, the
#: same CPU within 3 %
ARROW_POOL = "system"
#: what GX imports when it can, for data sources the worker never has (it judges pandas frames): told they are not
#: installed, as GX's compatibility modules allow (SQLAlchemy, for its SQL data sources: 19 MB once the suite is
#: built, 24 MB after a run of 10,000 rows)
NOT_IMPORTED = ("sqlalchemy",)


class WorkerLost(Exception):
    """The worker process is gone (it could not start, died, or answered what it should not)."""


class _Worker:
    """One worker process and its pipe; requests one at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.owner = os.getpid()

    def ask(self, request: tuple[Any, ...]) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            pickle.dump(request, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            kind, answer = pickle.load(self.proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
            raise WorkerLost(f"{type(exc).__name__} (worker exit code {self.proc.poll()})") from None
        if kind == "fatal":
            raise FatalError(answer)
        if kind != "ok":
            raise WorkerLost(f"worker answered {kind}: {answer}")
        return answer

    def close(self, wait: bool = True) -> None:
        """The pipe closed: the worker ends; waited for unless `wait` is False."""
        if self.proc.stdin is not None:
            with suppress(OSError):  # a request left in the buffer of a worker that died: nobody reads it
                self.proc.stdin.close()
        if wait:
            self._reap(10)

    def _reap(self, timeout: float) -> None:
        """Waited for, killed if it has not ended within `timeout` seconds."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def end(self) -> None:
        """At this process's exit: the pipe closed, and the worker stopped and waited for if this process started
        it (nobody is left to read its answers). A run that found nothing new exits while the worker is still
        loading GX: left to end on its own, it went on loading for about a second of CPU, holding the output
        streams it shares with this process (a caller reading them to their end waited for it). Waited for, its
        CPU time is always counted in this process's children's, as a caller measuring a run counts it (left
        to end on its own, it was counted only when it happened to end first). A forked child that inherited
        this handler only closes its copy of the pipe: the worker is its parent's."""
        self.close(wait=False)
        if self.owner == os.getpid():
            with suppress(OSError):  # already gone
                self.proc.terminate()
            self._reap(5)


_lock = threading.Lock()
_worker: _Worker | None = None


def _the_worker() -> _Worker:
    """This process's worker, started on first need (a forked child starts its own)."""
    global _worker
    if _worker is None or _worker.owner != os.getpid() or _worker.proc.poll() is not None:
        _worker = _Worker()
        atexit.register(_worker.end)
    return _worker


def prestart() -> None:
    """Start this process's worker now, if it is not running (a staging job's first step: the worker's imports
    then overlap the job's own)."""
    with _lock, suppress(OSError):  # the run that needs it will say
        _the_worker()


def _forget_worker() -> None:
    global _worker
    if _worker is not None:
        _worker.close()
    _worker = None


def _still(ours: _Worker | None) -> _Worker:
    """`ours` (the worker a run began with), if it is still this process's and running; else WorkerLost: a new
    worker would not hold what the run left in it (its Data Docs so far)."""
    if ours is None or ours is not _worker or ours.owner != os.getpid():
        raise WorkerLost("worker gone between calls")
    if (code := ours.proc.poll()) is not None:
        raise WorkerLost(f"worker ended between calls (exit code {code})")
    return ours


class Judge:
    """One staging run's judge: made when the run begins (the worker starts warming up, if it is not running
    yet), :meth:`submit` per chunk (answered in order, while staging goes on with the chunks before), :meth:`finish`
    when the run ends (its Data Docs rendered)."""

    def __init__(self, docs_dir: Path | None) -> None:
        self.docs_dir = docs_dir
        self.remote = True
        self._local_docs: Any = None
        self._run = os.urandom(8).hex()  # the worker keeps one run's Data Docs at a time, by this name
        self._talk = ThreadPoolExecutor(1, thread_name_prefix="lianban-judge")  # one conversation, in order
        self._judging = False  # a chunk submitted: the run has Data Docs to finish
        self._worker: _Worker | None = None  # the worker this run began with: it holds the run's Data Docs
        self._judged_there = 0  # chunks the worker answered: in its Data Docs, lost with it
        self._rendering: Future[Path | None] | None = None  # the Data Docs, once every chunk is submitted
        with _lock:
            try:
                self._worker = _the_worker()
            except OSError as exc:
                self._lost(WorkerLost(type(exc).__name__))

    def submit(self, columns: Columns) -> Future[list[list[Reason]]]:
        """Each row's reasons (empty = valid), in the order of the chunk's `columns`, when judged."""
        self._judging = True
        return self._talk.submit(self._reasons, columns)

    def reasons(self, columns: Columns) -> list[list[Reason]]:
        return self.submit(columns).result()

    def _reasons(self, columns: Columns) -> list[list[Reason]]:
        if self.remote:
            docs = str(self.docs_dir) if self.docs_dir is not None else None
            answer = self._call("judge", (self._run, docs, columns))
            if self.remote:
                self._judged_there += 1
                return list(answer)
        result = _judged(columns)
        if self.docs_dir is not None:
            self._docs().add(result.gx_result)
        return result.reasons

    def all_submitted(self) -> None:
        """No chunk follows those submitted: the run's Data Docs are rendered as soon as they are judged, while
        staging writes its last chunks (about 0.75 s of the worker's at 100,000 rows, which :meth:`finish` waited
        for at the run's end while the other core idled). A chunk submitted after this is still judged, but
        the Data Docs rendered hold only those before it."""
        if self._judging and self._rendering is None:
            self._rendering = self._talk.submit(self._finish)

    def finish(self) -> Path | None:
        """The run's Data Docs rendered (None without a docs directory or a chunk judged). A run that judged
        nothing (most scheduled runs: nothing new in the 前置库) does not wait for the worker to load the suite
        (about a second) only to hear that there is nothing to render."""
        try:
            self.all_submitted()
            return self._rendering.result() if self._rendering is not None else None
        finally:
            self._talk.shutdown()

    def _finish(self) -> Path | None:
        built = self._call("finish", self._run) if self.remote else None
        if self._local_docs is not None:  # the worker was lost: the chunks judged here since
            return self._local_docs.build()
        return Path(built) if built else None

    def _call(self, kind: str, payload: Any) -> Any:
        with _lock:
            if not self.remote:
                return None
            try:
                return _still(self._worker).ask((kind, payload))
            except WorkerLost as lost:
                self._lost(lost)
                return None

    def _lost(self, lost: WorkerLost) -> None:
        if self._judged_there:  # the verdicts stand; the report of how they were reached went with the worker
            log.warning("校验子进程不可用，本次入库改在本进程校验；此前由子进程校验的 %d 批不在本次校验报告"
                        "（Data Docs）中 (validation worker lost: %s; the run's Data Docs lack the chunks it judged)",
                        self._judged_there, lost)
        else:
            log.warning("校验子进程不可用，本次入库改在本进程校验 (validation worker lost: %s)", lost)
        if self._worker is _worker:  # not a worker started since for another run
            _forget_worker()
        self.remote = False

    def _docs(self) -> Any:
        from lianban.pipeline.validate.docs import RunDocs

        if self._local_docs is None:
            assert self.docs_dir is not None
            self._local_docs = RunDocs(self.docs_dir)
        return self._local_docs


def _judged(columns: Columns) -> Any:
    """The suite's :class:`~lianban.pipeline.validate.runner.ChunkResult` for a chunk's columns (their frame made
    here: pandas is the suite's alone)."""
    from lianban.domain.rules.frame import frame_of
    from lianban.pipeline.validate.runner import validator

    return validator().run(frame_of(columns))


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The worker's loop: GX and the suite built at once, then one answer per request until the pipe closes."""
    from lianban.pipeline.validate.docs import RunDocs
    from lianban.pipeline.validate.runner import validator

    validator()
    runs: dict[str, RunDocs] = {}  # the Data Docs of the run under way (by its name), until it finishes
    while True:
        try:
            kind, payload = pickle.load(requests)
        except EOFError:
            return
        try:
            answer: Any = None
            if kind == "judge":
                run, docs_dir, columns = payload
                result = _judged(columns)
                if docs_dir is not None:
                    if run not in runs:  # a new run: one left unfinished (its process crashed) is dropped
                        runs = {run: RunDocs(Path(docs_dir))}
                    runs[run].add(result.gx_result)
                answer = result.reasons
            elif (docs := runs.pop(payload, None)) is not None:  # finish
                built = docs.build()
                answer = str(built) if built else None
            reply: tuple[str, Any] = ("ok", answer)
        except FatalError as fatal:
            reply = ("fatal", str(fatal))
        pickle.dump(reply, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def main() -> None:
    """Answers go to the original stdout; anything else printed goes to stderr."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING)
    logging.disable(logging.INFO)  # GX tells at INFO what it does (temporary directories): not for the task log
    gc_tuning.tune()
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", ARROW_POOL)  # read as Arrow makes its first buffer
    for name in NOT_IMPORTED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # an import of it fails: ImportError
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
