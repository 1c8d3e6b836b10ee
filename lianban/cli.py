"""The `lianban` command: set-up, seeding, simulators, single steps and the demo.

Operator-facing text is Chinese first, English after; `--json` prints one JSON object for machines.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from lianban import jobs
from lianban.cli_connectors import connectors_app
from lianban.errors import LianbanError
from lianban.settings import Paths

app = typer.Typer(help="lianban 联办：退休一件事数据交换枢纽 (data-exchange hub)", no_args_is_help=True)
run_app = typer.Typer(help="单步运行流水线 (run one pipeline step without Airflow)", no_args_is_help=True)
keys_app = typer.Typer(help="密钥管理 (key rings)", no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(keys_app, name="keys")
app.add_typer(connectors_app, name="connectors")
audit_app = typer.Typer(help="证据日志 (evidence log)", no_args_is_help=True)
deliveries_app = typer.Typer(help="投递与死信 (deliveries and dead letters)", no_args_is_help=True)
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(audit_app, name="audit")
console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON object")]


def _emit(data: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    table = Table(title=title, show_header=False)
    for key, value in data.items():
        table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value))
    console.print(table)


@app.command()
def init() -> None:
    """初始化：密钥、台账库结构 (create key rings, migrate the ledger)."""
    from lianban.setup import init as run

    run(Paths.from_env())
    typer.echo("已初始化 (initialised)")


@app.command()
def seed(records: Annotated[int, typer.Option(min=1)] = 200,
         seed_value: Annotated[int, typer.Option("--seed")] = 20250101, as_json: JsonFlag = False) -> None:
    """向人社前置库写入合成的退休审批记录 (fill the HRSS 前置库 with synthetic approvals)."""
    from lianban.setup import seed as run

    written = run(Paths.from_env(), records, seed_value)
    _emit({"written": written, "frontend": Paths.from_env().frontend_url}, as_json, "前置库已写入 (seeded)")


@app.command()
def simulate(step: Annotated[float, typer.Option(help="seconds per status step")] = 60.0,
             with_hrss: Annotated[bool, typer.Option(help="also run HRSS's back office")] = True,
             faults: Annotated[str, typer.Option(envvar="LIANBAN_SIM_FAULTS",
                                                 help="fault injection, see simulators/faults.py")] = "") -> None:
    """启动各部门模拟服务 (start the department simulators); first line: JSON of URLs."""
    from simulators.runner import start

    paths = Paths.from_env()
    try:
        sim = start(paths.home, paths.keys_dir, paths.frontend_url if with_hrss else None, step,
                    faults=faults or None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    typer.echo(json.dumps(sim.urls), nl=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sim.stop()


@run_app.command("stage")
def run_stage(as_json: JsonFlag = False) -> None:
    """抽取、校验、分发、加密并写入台账 (extract → stage)."""
    _emit(jobs.stage(), as_json, "抽取入账 (staged)")


@run_app.command("deliver")
def run_deliver(department: str, as_json: JsonFlag = False) -> None:
    """向一个部门投递待发记录 (deliver one department's outbox)."""
    _emit(jobs.deliver(department), as_json, f"投递 {department}")


@run_app.command("collect")
def run_collect(as_json: JsonFlag = False) -> None:
    """归集各事项状态 (collect HRSS's log and poll every department)."""
    results = {"hrss": jobs.collect_hrss(), **{d: jobs.poll(d) for d in jobs.pushed_departments()}}
    _emit(results, as_json, "状态归集 (collected)")


@run_app.command("report")
def run_report(as_json: JsonFlag = False) -> None:
    """推送状态至皖事通办 (push status events to 皖事通办)."""
    _emit(jobs.report(), as_json, "推送皖事通办 (reported)")


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """台账进度 (ledger progress)."""
    from lianban.report import progress

    _emit(progress(Paths.from_env().ledger_url).as_dict(), as_json, "办件进度 (progress)")


RINGS = ("hub", "vault", "evidence")  # SM4 rings: blind index, at-rest vault, evidence chain HMAC


def _key_sets(keys_dir: Path) -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in keys_dir.glob("*.json")
                  if not p.name.endswith(".pub.json") and p.stem not in RINGS and p.stem != "credentials")


@keys_app.command("init")
def keys_init(hub_only: Annotated[bool, typer.Option(help="production: only the hub's own keys")] = False) -> None:
    """创建缺失的密钥；生产环境用 --hub-only，部门公钥用 keys import 导入 (create missing keys)."""
    from lianban.setup import ensure_hub_keys, ensure_keys

    paths = Paths.from_env()
    (ensure_hub_keys if hub_only else ensure_keys)(paths.keys_dir)
    typer.echo(f"密钥已就绪 (keys ready) in {paths.keys_dir}")


@keys_app.command("import")
def keys_import(name: str, source: Path) -> None:
    """导入对方的公钥文件，如 medical-recipient、medical-signing (install another party's public keys)."""
    from lianban import keystore

    ks = keystore.import_public(Paths.from_env().keys_dir, name, source)
    typer.echo(f"{name}: 已导入公钥 (imported) {sorted(ks.public)}，当前 (active) {ks.active}")


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """列出密钥标识与状态，从不显示密钥本身 (key ids only, never key material)."""
    from lianban import keystore
    from lianban.keys import load_ring

    keys_dir = Paths.from_env().keys_dir
    listing: dict[str, Any] = {r: {"kind": "SM4", "active": (ring := load_ring(keys_dir, r)).active,
                                   "keys": sorted(ring.keys)} for r in RINGS}
    for name in _key_sets(keys_dir):
        ks = keystore.load(keys_dir, name)
        listing[name] = {"kind": ks.suite, "active": ks.active, "keys": sorted(ks.public),
                         "private_held": sorted(ks.private)}
    _emit(listing, as_json, "密钥 (keys)")


@keys_app.command("rotate")
def keys_rotate(name: str) -> None:
    """轮换：新密钥加密/签名，旧密钥在停用前仍可解密/验签 (new key seals; old keys open until retired)."""
    from lianban import keystore
    from lianban.keys import rotate_ring

    keys_dir = Paths.from_env().keys_dir
    active = rotate_ring(keys_dir, name).active if name in RINGS else keystore.rotate(keys_dir, name).active
    typer.echo(f"{name}: 新的当前密钥 (now active) {active}")


@keys_app.command("retire")
def keys_retire(name: str, kid: str) -> None:
    """停用一个旧密钥：此后用它加密或签名的内容一律拒收 (retire: what it sealed or signed is refused)."""
    from lianban import keystore
    from lianban.keys import retire_ring_key

    keys_dir = Paths.from_env().keys_dir
    if name in RINGS:
        retire_ring_key(keys_dir, name, kid)
    else:
        keystore.retire(keys_dir, name, kid)
    typer.echo(f"{name}: 已停用 (retired) {kid}")


@app.command()
def demo(records: Annotated[int, typer.Option(min=1)] = 200, as_json: JsonFlag = False,
         rounds: Annotated[int, typer.Option(help="round limit")] = 25,
         step: Annotated[float, typer.Option(help="simulated seconds per status step")] = 3.0,
         home: Annotated[Path | None, typer.Option(help="demo folder (wiped first)")] = None) -> None:
    """一键演示：播种、启动模拟部门、经 Airflow 运行两个 DAG 直至办结 (the whole exchange, end to end)."""
    from lianban.demo import DemoOptions, run_demo
    from lianban.demo_view import print_round, print_summary

    opts = DemoOptions(records=records, max_rounds=rounds, step_seconds=step,
                       **({"home": home.resolve()} if home else {}))
    summary = run_demo(opts, on_round=None if as_json else print_round)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary)
    if not summary["complete"]:
        raise typer.Exit(1)


DeadStates = Annotated[list[str] | None, typer.Option("--state", help="refused and/or dead (default both)")]


@deliveries_app.command("list")
def deliveries_list(department: Annotated[str | None, typer.Option(help="one department")] = None,
                    state: DeadStates = None, as_json: JsonFlag = False) -> None:
    """列出死信：被部门拒收或重试耗尽的投递 (dead letters: refused or out of retries)."""
    from lianban.ledger.store import DEAD_STATES
    from lianban.pipeline.dead_letters import list_dead

    rows = list_dead(Paths.from_env().ledger_url, department, state or DEAD_STATES)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
        return
    table = Table(title=f"死信 (dead letters): {len(rows)}")
    for column in ("部门", "办件编号", "事项", "状态", "次数", "原因"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.department, r.case_no, r.item_code, r.state, str(r.attempts), r.last_error or "")
    console.print(table)


@deliveries_app.command("retry")
def deliveries_retry(department: Annotated[str | None, typer.Option(help="one department")] = None,
                     state: DeadStates = None) -> None:
    """把死信重新排队（保留幂等键，部门不会重复办理）(requeue dead letters; idempotency keeps them single)."""
    from lianban.ledger.store import DEAD_STATES
    from lianban.pipeline.dead_letters import requeue

    count = requeue(Paths.from_env().ledger_url, department, state or DEAD_STATES)
    typer.echo(f"已重新排队 {count} 条 (requeued)，下一轮投递时发送")


@app.command()
def quarantine(as_json: JsonFlag = False) -> None:
    """隔离区：未通过校验的记录及原因（脱敏显示），供人社前置库修正后重新同步 (quarantined records, masked)."""
    from sqlalchemy import select

    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Quarantine

    with session_factory(Paths.from_env().ledger_url)() as session:
        rows = [{"source_seq": q.source_seq, "case_no": q.case_no, "state": q.state,
                 "reasons": json.loads(q.reasons), "record": json.loads(q.masked)}
                for q in session.scalars(select(Quarantine).order_by(Quarantine.id))]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"隔离记录 (quarantined): {len(rows)}")
    for column in ("序号", "办件编号", "姓名", "身份证号码", "联系电话", "原因"):
        table.add_column(column)
    for r in rows:
        rec = r["record"]
        table.add_row(str(r["source_seq"]), r["case_no"], rec["name"], rec["id_number"], rec["phone"],
                      "；".join(r["reasons"]))
    console.print(table)
    console.print("修正人社前置库中的记录并将其同步标志 TBBZ 置回 0，下一轮即重新抽取"
                  " (fix the record at the source and reset TBBZ to 0)")


@audit_app.command("verify")
def audit_verify(archive: Annotated[Path | None, typer.Option(help="verify an archive file alone")] = None,
                 as_json: JsonFlag = False) -> None:
    """校验证据链：任一条被篡改、删除或重排即指出第一条 (walk the chain, name the first bad entry)."""
    from lianban import evidence
    from lianban.ledger.db import session_factory

    if archive:
        verdict = evidence.verify_archive(archive)
    else:
        with session_factory(Paths.from_env().ledger_url)() as session:
            verdict = evidence.verify_ledger(session)
    _emit(verdict.as_dict(), as_json, "证据链校验 (evidence chain)")
    if not verdict.ok:
        raise typer.Exit(1)


@audit_app.command("archive")
def audit_archive(month: Annotated[str, typer.Option(help="YYYY-MM")],
                  out: Annotated[Path, typer.Option(help="folder for the archive")] = Path("var/archive")) -> None:
    """按月归档证据日志（可独立校验）(write a self-verifying monthly archive)."""
    from lianban import evidence
    from lianban.ledger.db import session_factory

    with session_factory(Paths.from_env().ledger_url)() as session:
        path = evidence.archive_month(session, month, out)
    typer.echo(f"已归档 (archived): {path}")


def main() -> None:
    from lianban.redact import install

    install()
    try:
        app()
    except LianbanError as exc:
        console.print(f"[red]错误 (error):[/red] {exc}")
        raise SystemExit(2) from None
    except SQLAlchemyError as exc:  # the message may carry a URL with a password: name the kind only
        console.print(f"[red]错误 (error):[/red] 数据库不可用或结构不符 ({type(exc).__name__})；请检查 "
                      f"LIANBAN_LEDGER_URL / LIANBAN_FRONTEND_URL 并运行 `lianban init` (database unavailable)")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
