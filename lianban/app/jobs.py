"""The pipeline steps wired to their real source, connectors and ledger: what DAG tasks and the CLI call.

Each job reads its settings from the environment (:class:`lianban.app.config.Paths`, ``AIRFLOW_CONN_DEPT_*``),
runs one step, and returns a small dict of counts: safe for XCom, never a record. None creates a database: a
ledger or 前置库 that is not there is a ConfigError naming it (``lianban init`` / ``seed`` make them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from lianban.app.config import Paths, department_settings
from lianban.app.redact import install as _install_redaction
from lianban.app.registry import SINK, load_department, load_sink
from lianban.domain.catalog import load_catalog, window
from lianban.domain.liaisons import SMS_GATEWAY
from lianban.errors import ConfigError, LianbanError, NotConfigured, RetriableError
from lianban.gc_tuning import tune as _tune_gc

if TYPE_CHECKING:
    from concurrent.futures import Future

    from lianban.pipeline.alerts import CheckResult
    from lianban.pipeline.deliver import DeliverResult
    from lianban.pipeline.offload import Offload
    from lianban.wire.contract import DepartmentConnector, Peer
    from lianban.wire.gateway import NonceMemory
    from lianban.wire.settings import DepartmentSettings

alerts = logging.getLogger("lianban.alerts")
log = logging.getLogger(__name__)
_install_redaction()  # every task that imports the jobs logs through the redaction layer
_tune_gc()  # and collects garbage for batch work (lianban.gc_tuning)


def pushed_departments() -> list[str]:
    """Departments that receive pushed records, from the catalog (fixed: task count never grows with data)."""
    return load_catalog().pushed_departments()


def pushed_department(department: str) -> str:
    """`department`, when it receives pushed records; otherwise a ConfigError listing those that do."""
    pushed = pushed_departments()
    if department not in pushed:
        raise ConfigError(f"部门 {department!r} 没有需要投递或查询的事项，可选：{'、'.join(pushed)} "
                          f"(no records are pushed to department {department!r}; choose one of {', '.join(pushed)})")
    return department


def _frontend(paths: Paths) -> Any:
    from connectors.hrss.frontend import FrontendDB

    return FrontendDB(paths.existing_frontend())


def stage(progress: Callable[[int, int | None], None] | None = None) -> dict[str, Any]:
    """Extract new approvals from the HRSS 前置库, validate, route, seal and write the outbox (`progress`: rows
    read so far, for a command's progress bar)."""
    from lianban.pipeline.validate.worker import prestart

    prestart()  # the validation suite's worker imports GX while this process imports the pipeline
    from lianban.pipeline.stage import stage as run

    paths = Paths.from_env()
    ledger = paths.existing_ledger()
    docs = paths.home / "data_docs" / f"stage-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"  # this run's GX Data Docs
    return run(_frontend(paths), ledger, paths.keys_dir, docs_dir=docs, progress=progress).as_dict()


#: due batches from which a delivery run takes more processes for its department (``extra.processes``,
#: :data:`lianban.wire.settings.DEFAULT_PROCESSES`): a run long enough to be the last one going (100,000
#: deliveries in batches of 1,000). From 40 batches of 500, health's 42 took one too, on a machine already busy:
#: 23.8–25.7 s against 25.5–26.2 s, three runs each (100: 24.3–25.8 s against 26.6–27.6 s); in batches of 1,000,
#: from 50 (housing fund's 67 taking one too) no faster: 19.7 / 19.7 s against 18.9 / 19.5 s
SECOND_PROCESS_BATCHES = 100
#: seconds between a delivery run's looks, while another department's deliveries are due, at whether they still
#: are: its more processes join once none is (:class:`_Helpers`)
JOIN_LOOK_SECONDS = 2.0
#: seconds another department's next due delivery may stand still before its deliveries count as not going out:
#: no run is claiming them (its task not started, paused, or waiting for a slot), so this run does not wait for it;
#: a run starting beside this one (imports, keys, its connector) claims well within it
IDLE_SECONDS = 30.0


def deliver(department: str) -> dict[str, Any]:
    """Deliver the department's due outbox rows in batches: in this process and, for a backlog of at least
    ``SECOND_PROCESS_BATCHES`` batches, in ``extra.processes`` - 1 more at once (each claims its own batches and
    has its own lanes; the department's rate is shared by them all); their counts added up. While another
    department's deliveries are due too (its run has the other core), the more processes join only once they are
    done or no run is claiming them, if this backlog is still that large, and without a rate limit to share
    (:class:`_Helpers`)."""
    from lianban.pipeline.lanes import merged

    paths = Paths.from_env()
    department, ledger = pushed_department(department), paths.existing_ledger()
    settings = department_settings(department)
    more = settings.processes - 1 if _large_backlog(ledger, department, settings) else 0
    waiting = _others_due(ledger, department) if more > 0 and settings.rate_limit is None else {}
    later = bool(waiting)  # and no rate limit to share
    helpers = _Helpers(department, settings, ledger)
    processes = len(helpers.start(more)) + 1 if more and not later else 1
    finished = threading.Event()
    watch = threading.Thread(target=helpers.join_when_alone, args=(more, finished, waiting), name="lianban-join")
    done = False
    try:
        if later:
            watch.start()
        results = [deliver_share(department, settings, processes)]
        finished.set()
        if watch.is_alive():
            watch.join()
        results += _helped(department, helpers.pending)
        done = True
    finally:
        finished.set()
        for helper in helpers.started:  # waited for once answered (its CPU then counts as this run's); after a
            helper.shutdown(wait=done, cancel_futures=True)  # failure not: it ends after its call, or with this process
    return merged(results).as_dict()


def _large_backlog(ledger: str, department: str, settings: DepartmentSettings) -> bool:
    """Whether `department` has ``SECOND_PROCESS_BATCHES`` batches or more due now: enough for more processes."""
    from lianban.pipeline.deliver import due_batches

    return due_batches(ledger, department, settings.batch_size, SECOND_PROCESS_BATCHES) >= SECOND_PROCESS_BATCHES


def _others_due(ledger: str, department: str) -> dict[str, int]:
    """Each other pushed department whose deliveries are due now (one waiting to retry later is not), with the id of
    the one its run would claim next."""
    from lianban.pipeline.deliver import next_due

    heads = {other: next_due(ledger, other) for other in pushed_departments() if other != department}
    return {other: head for other, head in heads.items() if head is not None}


class _Going:
    """Whether other departments' deliveries are going out: each one's next due delivery, and since when it is."""

    def __init__(self, heads: dict[str, int]) -> None:
        now = time.monotonic()
        self.heads, self.since = dict(heads), dict.fromkeys(heads, now)

    def still(self, heads: dict[str, int]) -> bool:
        """With `heads` (:func:`_others_due`) looked at now: whether one of them moved within ``IDLE_SECONDS`` (a
        department due for the first time counts as moving, its run maybe starting)."""
        now = time.monotonic()
        self.since = {d: self.since.get(d, now) if self.heads.get(d) == head else now for d, head in heads.items()}
        self.heads = dict(heads)
        return any(now - since < IDLE_SECONDS for since in self.since.values())


class _Helpers:
    """A delivery run's more processes, each given its share of the run (:func:`deliver_share`) as it starts.

    Three departments' runs at once, each with a second process, were six processes on a 2-core machine: 703 MB
    together at a million records, over the 500 MB a backfill may take, for no more speed (the cores were busy).
    So while another department's deliveries are due, a run starts alone and looks every ``JOIN_LOOK_SECONDS``;
    once none is going out (that run is done, its department waits to be retried, or no run has claimed any for
    ``IDLE_SECONDS``: its task not started, paused, or waiting for a slot), its more processes join if its own
    backlog is still ``SECOND_PROCESS_BATCHES`` or more: medical, two thirds of the deliveries, is then alone on
    the machine. A department with a rate limit takes them at once, as before: each process's lanes take
    their share of the limit as they start, and one joining later would add to it."""

    def __init__(self, department: str, settings: DepartmentSettings, ledger: str) -> None:
        self.department, self.settings, self.ledger = department, settings, ledger
        self.started: list[Offload] = []
        self.pending: list[Future[DeliverResult]] = []

    def start(self, count: int) -> list[Offload]:
        """Up to `count` processes started, then each given its share of the run (the rate shared by those started
        and this one); those started."""
        self.started = _started(count)
        processes = len(self.started) + 1
        self.pending = [helper.submit(deliver_share, self.department, self.settings, processes)
                        for helper in self.started]
        return self.started

    def join_when_alone(self, count: int, finished: threading.Event, waiting: dict[str, int]) -> None:
        """Until the run is `finished`: once no other department's deliveries are going out (`waiting`: those due
        when the run started, :func:`_others_due`), `count` processes started if this backlog is still large. A
        look that fails, however (a raw driver error from the ledger, say), leaves the run to this process, said
        once by the error's type alone: never a traceback from this thread, whose text would carry the
        statement's parameters."""
        try:
            going = _Going(waiting)
            while not finished.wait(JOIN_LOOK_SECONDS):
                if going.still(_others_due(self.ledger, self.department)):
                    continue
                if _large_backlog(self.ledger, self.department, self.settings):
                    self.start(count)
                return
        except Exception as exc:  # a thread beside the run: nothing it meets may end the run or print its text
            log.warning("投递辅助进程未能加入，本次以 1 个进程投递 (the delivery processes could not join: %s)",
                        type(exc).__name__)


def _started(count: int) -> list[Offload]:
    """Up to `count` helper processes; fewer when one cannot be started (no memory, too many processes), said
    once: the run goes on with those it has."""
    from lianban.pipeline import offload

    started: list[Offload] = []
    for _ in range(count):
        try:
            started.append(offload.Offload())
        except OSError as exc:
            log.warning("投递辅助进程无法启动，本次以 %d 个进程投递 (a delivery process could not start: %s)",
                        len(started) + 1, type(exc).__name__)
            break
    return started


def deliver_share(department: str, settings: DepartmentSettings, processes: int = 1) -> DeliverResult:
    """One process's share of a delivery run (:func:`deliver`), with `settings` as resolved by the run (inside
    Airflow only the task's own process can look connections up)."""
    from lianban.pipeline.deliver import deliver as run

    paths = Paths.from_env()
    peer, *lanes = _lanes(department, settings, paths, processes)
    return run(peer, paths.existing_ledger(), settings.batch_size, paths.keys_dir, lanes=lanes)


def _helped(department: str, pending: list[Future[DeliverResult]]) -> list[DeliverResult]:
    """The other processes' results; one that was lost is left out (what it had claimed falls due again when
    its lease ends: nothing is lost), and said."""
    from lianban.pipeline.offload import ProcessLost

    results = []
    for future in pending:
        try:
            results.append(future.result())
        except ProcessLost as exc:
            alerts.warning("告警 ALERT: %s 的投递子进程中断（%s）：其已领取的记录在租约到期后重新投递 (a delivery "
                           "process was lost; what it had claimed falls due again)", department, exc)
    return results


def _lanes(department: str, settings: DepartmentSettings, paths: Paths,
           processes: int = 1) -> list[Peer[DepartmentConnector]]:
    """One connection to `department` per lane (``extra.lanes``), the rate it allows shared between them (and
    between the `processes` that run at once)."""
    answers_seen = _answers_seen(paths)
    return [load_department(department, settings.per_lane(processes), paths.keys_dir, answers_seen)
            for _ in range(settings.lanes)]


def _answers_seen(paths: Paths) -> NonceMemory:
    """Where the nonces of the parties' signed answers are remembered: the ledger, which every process and run of
    the hub shares, so an answer replayed to another one is refused as one replayed to the same is."""
    from lianban.ledger.db import session_factory
    from lianban.ledger.nonces import LedgerNonces

    return LedgerNonces(session_factory(paths.ledger_url))


def collect_hrss() -> dict[str, Any]:
    """Read HRSS's own items' statuses from its 前置库 status log."""
    from lianban.pipeline.status_log import collect_hrss as run

    paths = Paths.from_env()
    ledger = paths.existing_ledger()
    return run(_frontend(paths), ledger, paths.keys_dir).as_dict()


def request_payments() -> dict[str, Any]:
    """Ask HRSS (its 前置库) to pay every reward health approved (item 13); HRSS's confirmation completes it."""
    from lianban.pipeline.rewards import request_payments as run

    paths = Paths.from_env()
    ledger = paths.existing_ledger()
    return run(_frontend(paths), ledger, paths.keys_dir).as_dict()


def supplements() -> dict[str, Any]:
    """Take HRSS's new 补正 submissions into the ledger, then forward the due ones to every department that asked,
    each on its own: a department down (or misconfigured) leaves its supplements due and never stops the others
    (its entry is ``{"error": why}``)."""
    results = {window(): _isolated(take_supplements)}
    paths = Paths.from_env()
    for department in pushed_departments():
        results[department] = _isolated(partial(_forward_supplements, department, paths, paths.existing_ledger()))
    return results


def take_supplements() -> dict[str, Any]:
    """Take HRSS's new 补正 submissions into the ledger (the DAG then forwards them per department)."""
    from lianban.pipeline.supplements import collect_supplements

    paths = Paths.from_env()
    return collect_supplements(_frontend(paths), paths.existing_ledger()).as_dict()


def forward_supplements(department: str) -> dict[str, Any]:
    """Forward the department's due 补正 submissions: a task of its own, in the department's pool, so a slow or
    silent department delays only its own forwarding and polling. A connection missing or misconfigured fails
    the task (Airflow retries it and the duty desk is told), never a success with the error inside."""
    paths = Paths.from_env()
    return _forward_supplements(pushed_department(department), paths, paths.existing_ledger())


def _forward_supplements(department: str, paths: Paths, ledger: str) -> dict[str, Any]:
    from lianban.pipeline.supplements import forward_supplements

    settings = department_settings(department)
    peer = load_department(department, settings, paths.keys_dir, _answers_seen(paths))
    return forward_supplements(peer, ledger, settings.batch_size, paths.keys_dir).as_dict()


def _isolated(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One source's result, or the sentence saying why it failed (alerted, :func:`result_or_why`), so the others
    still run."""
    result = result_or_why(step)
    if "error" in result:
        alerts.error("告警 ALERT: 补正转交失败：%s", result["error"])
    return result


def poll(department: str) -> dict[str, Any]:
    """Poll a department for the status of its delivered, unfinished items."""
    from lianban.pipeline.feedback import poll_department

    paths = Paths.from_env()
    department, ledger = pushed_department(department), paths.existing_ledger()
    peer, *lanes = _lanes(department, department_settings(department), paths)
    return poll_department(peer, ledger, paths.keys_dir, lanes=lanes).as_dict()


def report(retry_parked: bool = False) -> dict[str, Any]:
    """Push unreported status events to 皖事通办; `retry_parked`: first put back the events it refused (once the
    platform's connection is loaded: a slip in it changes nothing)."""
    from lianban.pipeline.report import report as run
    from lianban.pipeline.report import requeue_parked

    paths = Paths.from_env()
    ledger = paths.existing_ledger()
    sink = load_sink(department_settings(SINK), paths.keys_dir, _answers_seen(paths))
    requeued = {"requeued": requeue_parked(ledger)} if retry_parked else {}
    return {**requeued, **run(sink, ledger, paths.keys_dir).as_dict()}


def release_quarantined(quarantine_id: int, note: str, operator: str) -> dict[str, Any]:
    """An operator lets a quarantined row go as it is; its 前置库 row is flagged for taking again."""
    from lianban.pipeline.decisions import release

    paths = Paths.from_env()
    frontend = _frontend(paths)  # unchanged, flagged new (before the release is committed): the next stage takes it
    return release(paths.existing_ledger(), paths.keys_dir, quarantine_id, note, operator,
                   flag=lambda seq: frontend.correct(seq, {})).as_dict()


def reject_quarantined(quarantine_id: int, note: str, operator: str) -> dict[str, Any]:
    """An operator refuses a quarantined application; its held case's items are told 不予受理."""
    from lianban.pipeline.decisions import reject

    paths = Paths.from_env()
    return reject(paths.existing_ledger(), paths.keys_dir, quarantine_id, note, operator).as_dict()


def health_checks() -> dict[str, Any]:
    """Check every connected party step by step (``lianban connectors check``), the SMS gateway too when its
    connection is configured (``skipped`` when not), and keep each result with its time; a failure names its
    step and reason (never a secret). Counts and party names only."""
    from lianban.app.diagnose import Outcome, check_department, passed
    from lianban.ledger import health
    from lianban.ledger.db import session_factory

    paths, failed = Paths.from_env(), []
    parties = [k for k, d in load_catalog().departments.items() if d.connector]
    skipped = [] if _configured(SMS_GATEWAY) else [SMS_GATEWAY]
    results = {party: check_department(party) for party in [*parties, SMS_GATEWAY] if party not in skipped}
    with session_factory(paths.existing_ledger()).begin() as session:
        for party, steps in results.items():
            bad = next((r for r in steps if r.outcome is Outcome.FAILED), None)
            health.record(session, party, passed(steps), bad.step if bad else None, bad.detail if bad else None)
            failed += [party] if bad else []
    return {"checked": len(results), "failed": failed, "skipped": skipped}


def _configured(party: str) -> bool:
    """Whether connection ``dept_<party>`` is there (set but wrong, it is: its check says what is wrong); when it
    is not, a log line says it goes unchecked."""
    try:
        department_settings(party)
    except NotConfigured:
        log.info("未配置连接 dept_%s，本次定时连接检查不含它 (dept_%s is not configured: not checked)", party, party)
        return False
    except ConfigError:
        return True
    return True


def alerts_check() -> dict[str, Any]:
    """Tell the liaisons of every incident opened or cleared since the last check (lianban.pipeline.alerts)."""
    from lianban.app.alerting import channels_from_env
    from lianban.domain.liaisons import load_liaisons
    from lianban.pipeline.alerts import check

    liaisons, channels = load_liaisons(), channels_from_env()
    return _all_told(check(Paths.from_env().existing_ledger(), liaisons, channels), "告警")


def _all_told(result: CheckResult, what: str) -> dict[str, Any]:
    """`result`'s counts; a RetriableError when a message went out on no channel (kept, and sent by the next
    run or the task's retry): a task that told nobody must not look done."""
    if result.untold:
        why = f"（{'；'.join(result.reasons)}）" if result.reasons else ""
        raise RetriableError(f"{what}未能发出：{result.untold} 条在所有渠道（{'、'.join(result.failed)}）均发送失败"
                             f"{why}，已保留，下次运行时重发；请检查 LIANBAN_SMTP_URL 与 dept_sms ({result.untold} "
                             f"message(s) went out on no channel; kept for the next run)")
    return result.as_dict()


def record_task_failure(dag_id: str, task_id: str, run_id: str) -> None:
    """An Airflow task failed (its on_failure_callback): kept for the duty desk's alert."""
    from lianban.ledger import health
    from lianban.ledger.db import session_factory

    with session_factory(Paths.from_env().existing_ledger()).begin() as session:
        health.task_failed(session, dag_id, task_id, run_id)


def daily_summary(day: str | None = None) -> dict[str, Any]:
    """Each liaison's summary of `day` (YYYY-MM-DD; default today in Beijing), once a day (lianban.pipeline.daily)."""
    from datetime import date

    from lianban.app.alerting import channels_from_env
    from lianban.domain.liaisons import load_liaisons
    from lianban.ledger.time_limits import beijing_today
    from lianban.pipeline.daily import send_daily

    liaisons, channels = load_liaisons(), channels_from_env()
    when = date.fromisoformat(day) if day else beijing_today()
    return _all_told(send_daily(Paths.from_env().existing_ledger(), liaisons, channels, when), "每日汇总")


def archive_evidence(day: str | None = None) -> dict[str, Any]:
    """Last month's evidence archive (a Beijing month, before `day`'s; default today in Beijing) into
    ``<home>/archive``, once: the first daily run of a month writes it, later runs find it there; and any month
    before it, since the ledger's first, with no archive there (no run in it: the host down; or its archive moved
    away rather than copied: written again). Copying them off-host stays the operator's (docs/deploy.md §6).
    XCom: the month, whether it was written, and the earlier months written."""
    from datetime import date

    from lianban.app.setup import make_folder
    from lianban.ledger.db import session_factory
    from lianban.ledger.evidence_archive import archive_once, month_before, months_missed
    from lianban.ledger.time_limits import beijing_today

    paths = Paths.from_env()
    month = month_before(date.fromisoformat(day) if day else beijing_today())
    out = paths.home / "archive"
    make_folder(out, "LIANBAN_HOME")
    written: dict[str, Any] = {}
    with session_factory(paths.existing_ledger())() as session:
        for each in [*months_missed(session, out, month), month]:
            written[each] = archive_once(session, each, out, paths.keys_dir)
    for each, path in written.items():
        if path:
            log.info("evidence archive of %s written to %s: copy it off-host", each, path)
    return {"month": month, "written": written[month] is not None,
            "earlier": [each for each, path in written.items() if path and each != month]}


# -- 双告知 (issue 13): 到龄提醒 and 待遇告知 by SMS, and the retirement-wave forecast ------------------------------
REMINDER_MONTHS_ENV = "LIANBAN_REMINDER_MONTHS"
SEND_PAGE, SEND_PAGES = 500, 400  # notices per send, and at most this many sends per run (200 000 notices)


def reminder_months(env: dict[str, str] | None = None) -> int:
    """The reminder window in months ahead (``LIANBAN_REMINDER_MONTHS``, default 3, 0–24)."""
    import os

    from lianban.pipeline.reminders import DEFAULT_MONTHS

    raw = (os.environ if env is None else env).get(REMINDER_MONTHS_ENV, "").strip()
    if not raw:
        return DEFAULT_MONTHS
    if not raw.isdecimal() or int(raw) > 24:  # isdigit() takes "²", which int() refuses
        raise ConfigError(f"{REMINDER_MONTHS_ENV} 应为 0–24 的整数（提前提醒的月数） "
                          f"({REMINDER_MONTHS_ENV} must be a whole number of months, 0-24)")
    return int(raw)


def _sms_gateway() -> Any:
    from connectors.sms.connector import SmsConnector

    return SmsConnector.from_settings(department_settings("sms"))


def plan_reminders(day: str | None = None) -> dict[str, Any]:
    """到龄提醒: plan a reminder for everyone in HRSS's register reaching statutory age within the window from
    `day` (YYYY-MM-DD; default today in Beijing), once per person and retirement month."""
    from datetime import date

    from lianban.ledger.time_limits import beijing_today
    from lianban.pipeline.reminders import plan_reminders as run

    paths = Paths.from_env()
    when = date.fromisoformat(day) if day else beijing_today()
    ledger = paths.existing_ledger()
    return run(_frontend(paths).register, ledger, paths.keys_dir, when, reminder_months()).as_dict()


def plan_pension_notices() -> dict[str, Any]:
    """待遇告知: plan one SMS for every pension HRSS approved since the last run."""
    from lianban.pipeline.pensions import plan_pension_notices as run

    paths = Paths.from_env()
    ledger = paths.existing_ledger()
    return run(_frontend(paths).register, ledger, paths.keys_dir).as_dict()


def send_notices() -> dict[str, Any]:
    """Send every due notice through the SMS gateway (quiet hours respected, exactly once)."""
    from lianban.domain.sms import load_templates
    from lianban.pipeline.sms_notices import send_due

    paths, gateway, book = Paths.from_env(), _sms_gateway(), load_templates()
    ledger, total = paths.existing_ledger(), dict.fromkeys(("sent", "deferred", "invalid", "dead"), 0)
    for _ in range(SEND_PAGES):  # page after page while pages come back full (a day's wave is thousands)
        page = send_due(gateway, book, ledger, paths.keys_dir, SEND_PAGE)
        for name in total:
            total[name] += getattr(page, name)
        if page.stopped_by or page.sent + page.deferred + page.invalid + page.dead < SEND_PAGE:
            return {**total, "stopped_by": page.stopped_by}
    return {**total, "stopped_by": None}


def collect_notice_receipts() -> dict[str, Any]:
    """Read the gateway's delivery receipts; a failed delivery is sent again (bounded), then listed."""
    from lianban.pipeline.sms_notices import collect_receipts

    return collect_receipts(_sms_gateway(), Paths.from_env().existing_ledger()).as_dict()


def notices_run(day: str | None = None) -> dict[str, Any]:
    """The four steps of the lianban_notices DAG in order (``lianban notices run``), each run whatever became of
    the one before, as the DAG's tasks are (trigger rule all_done): a step that failed is ``{"error": why}``."""
    Paths.from_env().existing_ledger()  # no ledger is an operator slip, not one step's failure
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "reminders": partial(plan_reminders, day), "pensions": plan_pension_notices, "sent": send_notices,
        "receipts": collect_notice_receipts}
    return {name: result_or_why(step) for name, step in steps.items()}


def result_or_why(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`step`'s result (one source's, one step's: the others run whatever became of it), or ``{"error": why}`` in
    one sentence with no personal data: a LianbanError's own (ID- and mobile-number-shaped runs masked), a
    database error as the command line says it (what SQLite said of
    the file, or its kind only: its message may carry a URL with its password), anything else by its kind only
    (its message may hold a value it read)."""
    from sqlalchemy.exc import SQLAlchemyError

    from lianban.app.db_trouble import database_trouble
    from lianban.domain.identity import redact_text

    try:
        return step()
    except LianbanError as exc:
        return {"error": redact_text(str(exc))}
    except SQLAlchemyError as exc:
        return {"error": database_trouble(exc)}
    except Exception as exc:
        return {"error": f"意外错误（{type(exc).__name__}）(unexpected error)"}


def forecast(months: int, day: str | None = None) -> dict[str, Any]:
    """The retirement-wave forecast for `months` months from the month after `day` (default today in Beijing)."""
    from datetime import date

    from lianban.domain.retirement import month_index
    from lianban.ledger.time_limits import beijing_today
    from lianban.pipeline.forecast import forecast as run

    paths = Paths.from_env()
    when = date.fromisoformat(day) if day else beijing_today()
    ledger = paths.existing_ledger()
    return run(_frontend(paths).register, ledger, month_index(when.year, when.month) + 1, months)
