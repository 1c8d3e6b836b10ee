"""End to end, against a naive baseline: ``python -m bench.pipeline [--records N] [--naive-sample S] [--reference R]``.

Generates N synthetic approvals into a fresh 前置库 (``var/bench/n<N>``), starts the department simulators in their
own processes on loopback (``lianban simulate``; their status clock stopped, so only intake is measured), and
times the pipeline as the DAG runs it: ``stage`` (extract → validate → route → minimise → seal → outbox), then
``deliver`` for every department at once, each in its own process (``lianban run deliver DEPT``, as Airflow runs
one task per department) until every receipt is in the ledger. Before any rate is printed, every record must have
arrived once, counted in the ledger and in each department's own store (:mod:`bench.arrivals`); otherwise the
bench stops saying what is missing. Then the naive baseline (:mod:`bench.naive`) on a sample of the same
people: one POST and one commit per record per department.

Prints per-stage times and rates (and the hub's CPU seconds per step: steadier than wall time on a shared
machine, whose load average it prints too), the hub's peak RSS (its processes added up, :mod:`bench.memory`), the
SM2 cost per record, and as its last line
``end-to-end: <records/s> records/s, <ratio>x naive``. When N is above ``--reference`` (10,000), the pipeline
first runs at that size too, and a line sets the CPU per record of both sizes side by side (staging's per
record, the hub's and the simulators' per delivery): the cost must not grow with N. Writes
``bench/results/pipeline-<N>.json``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import arrivals, naive
from bench.kit import ROOT, cli, fresh_home, people, save, seed, simulators, start, stop
from bench.memory import HubMemory
from lianban.pipeline.deliver import BUDGET_SPENT
from lianban.wire.settings import default_batch_size

REFERENCE = 10_000  # the size a larger run's CPU per record is set against


def _departments() -> list[str]:
    from lianban.domain.catalog import load_catalog

    return load_catalog().pushed_departments()


def _deliver(department: str, env: dict[str, str]) -> dict[str, Any]:
    """Runs of ``lianban run deliver`` until one ends for another reason than its time budget (a million
    records outlast one run's budget, as they would outlast one scheduled run), their counts summed."""
    total: dict[str, Any] = {}
    while True:
        one = cli(env, "run", "deliver", department)
        total = {k: total.get(k, 0) + v if isinstance(v, int) else v for k, v in one.items()}
        if not str(one.get("stopped_by")).endswith(BUDGET_SPENT):
            return total


def _deliver_all(env: dict[str, str]) -> tuple[float, dict[str, dict[str, Any]]]:
    started = time.perf_counter()
    with ThreadPoolExecutor(len(_departments())) as pool:
        runs = {d: pool.submit(_deliver, d, env) for d in _departments()}
        results = {d: r.result() for d, r in runs.items()}
    return time.perf_counter() - started, results


def _naive(sample: int, home: Path) -> dict[str, float]:
    """The quick script on the first `sample` people: one POST per record per department; its server's database
    in `home` (cleared with the bench's next run there)."""
    from lianban.domain.catalog import load_catalog

    catalog, pushed = load_catalog(), set(_departments())
    sampled = list(people(sample))
    deliveries = [(catalog.items[code].department, {"case_no": p["case_no"], "item_code": code, **p})
                  for p in sampled for code in str(p["items"]).split(",")
                  if code in catalog.items and catalog.items[code].department in pushed]
    server, said = start([sys.executable, "-m", "bench.naive", "serve", "--folder", str(home / "naive")],
                         dict(os.environ))
    try:
        sent, seconds = naive.send(said["url"], deliveries)
    finally:
        stop(server)
    return {"records": len(sampled), "deliveries": sent, "seconds": round(seconds, 2),
            "records_per_s": round(len(sampled) / seconds, 1), "deliveries_per_s": round(sent / seconds, 1)}


def _sm2_ms(rounds: int = 10) -> dict[str, float]:
    """The hub's SM2 work for one batch, in ms: the batch header signed, its data key wrapped for the department,
    and the department's signed answer verified (:mod:`lianban.wire.signatures`)."""
    from lianban.crypto.suites import get_suite

    suite = get_suite("SM")
    signer, recipient, department = (suite.generate_signing_key(), suite.generate_recipient_key(),
                                     suite.generate_signing_key())
    answer = b"answer"
    signature = suite.sign(department.private, answer)
    assert suite.verify(department.public, answer, signature)  # the work timed is a verification that succeeds
    started = time.perf_counter()
    for _ in range(rounds):
        suite.sign(signer.private, b"header")
        suite.wrap(recipient.public, b"k" * 16)
        suite.verify(department.public, answer, signature)
    return {"per_batch_ms": round((time.perf_counter() - started) * 1000 / rounds, 2)}


def _children_cpu_s() -> float:
    """CPU seconds of every finished child so far (the hub's steps; the simulators are still running)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(records: int, sample: int, home: Path) -> dict[str, Any]:
    """The pipeline at `records` (:func:`measure`), then the naive script on `sample` of them: the ratio."""
    result = measure(records, home)
    baseline = _naive(sample, home)
    ratio = round(result["end_to_end"]["records_per_s"] / baseline["records_per_s"], 2)
    return {**result, "naive": baseline, "ratio": ratio,
            "sm2": _sm2(records, result["deliver"]["batches"])}


def _sm2(records: int, batches: int) -> dict[str, Any]:
    sm2 = _sm2_ms()
    return {**sm2, "batches": batches, "ms_per_record": round(batches * sm2["per_batch_ms"] / max(records, 1), 4)}


def measure(records: int, home: Path) -> dict[str, Any]:
    """`records` seeded into a fresh home under `home`, staged and delivered to the simulators; times, counts, CPU
    and the CPU per record (:func:`per_record`)."""
    from lianban.app.config import Paths

    env = fresh_home(home)
    seeding = time.perf_counter()
    seed(Paths.from_env(env).frontend_url, people(records))
    seed_s = time.perf_counter() - seeding
    with simulators(env) as sim:
        memory = HubMemory(excluded=[sim.pid]).start()  # the hub's processes only, added up
        try:
            started, cpu = time.perf_counter(), _children_cpu_s()
            staged = cli(env, "run", "stage")
            stage_s, stage_cpu = time.perf_counter() - started, _children_cpu_s() - cpu
            deliver_s, delivered = _deliver_all(env)
            deliver_cpu = _children_cpu_s() - cpu - stage_cpu
        finally:
            peak = memory.stop()
    sim_cpu = _children_cpu_s() - cpu - stage_cpu - deliver_cpu  # counted once it is waited for
    paths = Paths.from_env(env)
    arrivals.check(paths.ledger_url, paths.home / "simulators", _departments(), records, staged)  # or no rate
    sent = sum(int(d.get("accepted", 0)) for d in delivered.values())
    batches = sum(math.ceil(int(d.get("sent", 0)) / default_batch_size(name)) for name, d in delivered.items())
    total_s = stage_s + deliver_s
    figures = per_record(records, sent, stage_cpu, deliver_cpu, sim_cpu)
    return {
        "date": datetime.now(UTC).date().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "records": records, "seed_s": round(seed_s, 1),
        "stage": {"seconds": round(stage_s, 1), "records_per_s": round(records / stage_s, 1),
                  "cpu_s": round(stage_cpu, 1), "cpu_ms_per_record": figures["stage_ms"], **staged},
        "deliver": {"seconds": round(deliver_s, 1), "deliveries": sent, "deliveries_per_s": round(sent / deliver_s, 1),
                    "cpu_s": round(deliver_cpu, 1), "simulators_cpu_s": round(sim_cpu, 1), "batches": batches,
                    "by_department": delivered},
        "per_record": figures, "peak_rss": peak,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "end_to_end": {"seconds": round(total_s, 1), "records_per_s": round(records / total_s, 1)},
    }


def per_record(records: int, deliveries: int, stage_cpu: float, hub_cpu: float, sim_cpu: float) -> dict[str, float]:
    """CPU milliseconds: staging's per record (its preparing and validation processes included), the hub's
    delivery runs' and the simulated departments' per delivery."""
    return {"stage_ms": round(stage_cpu * 1000 / max(records, 1), 3),
            "hub_ms_per_delivery": round(hub_cpu * 1000 / max(deliveries, 1), 3),
            "simulators_ms_per_delivery": round(sim_cpu * 1000 / max(deliveries, 1), 3)}


def _print(result: dict[str, Any]) -> None:
    s, d, n, p = result["stage"], result["deliver"], result["naive"], result["per_record"]
    print(f"machine: {result['machine']}, {result['records']:,} records (seeded in {result['seed_s']} s)")
    print(f"stage:    {s['seconds']:>8} s  {s['records_per_s']:>10,.0f} records/s  "
          f"(staged {s.get('staged')}, quarantined {s.get('quarantined')}; CPU {s['cpu_s']} s, "
          f"{s['cpu_ms_per_record']} ms per record, its preparing and validation worker processes included)")
    print(f"deliver:  {d['seconds']:>8} s  {d['deliveries_per_s']:>10,.0f} deliveries/s  ({d['deliveries']:,} "
          f"deliveries to {len(d['by_department'])} departments at once; hub CPU {d['cpu_s']} s, "
          f"{p['hub_ms_per_delivery']} ms a delivery; simulators' CPU {d['simulators_cpu_s']} s, "
          f"{p['simulators_ms_per_delivery']} ms a delivery)")
    print(f"naive:    {n['seconds']:>8} s  {n['records_per_s']:>10,.0f} records/s  ({n['deliveries']:,} POSTs "
          f"for {n['records']:,} records, {n['deliveries_per_s']:,.0f}/s)")
    print(f"load average while measured (1, 5, 15 min): {result['load_average']} on {result['machine']}")
    rss = result["peak_rss"]
    print(f"peak RSS of the hub: {rss['together_mb']} MB its processes together, {rss['largest_mb']} MB the largest "
          f"({rss['processes']} processes: staging's workers and the delivery runs' helpers included; the "
          f"simulators and the bench not counted)")
    print(f"SM2 at the hub (sign + wrap + verify the answer) {result['sm2']['per_batch_ms']} ms per batch, "
          f"{result['sm2']['ms_per_record']} ms per record")
    if "reference" in result:
        print(flat_line(result["reference"], result))
    print(f"end-to-end: {result['end_to_end']['records_per_s']:,.0f} records/s, {result['ratio']}x naive")


def flat_line(small: dict[str, Any], large: dict[str, Any]) -> str:
    """The CPU per record at both sizes, side by side."""
    a, b = small["per_record"], large["per_record"]
    return (f"per record, {small['records']:,} → {large['records']:,} records (CPU ms): staging "
            f"{a['stage_ms']} → {b['stage_ms']}, the hub {a['hub_ms_per_delivery']} → {b['hub_ms_per_delivery']} "
            f"a delivery, the simulators {a['simulators_ms_per_delivery']} → {b['simulators_ms_per_delivery']} "
            f"a delivery")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument("--reference", type=int, default=REFERENCE,
                        help="also run at this size first, when --records is larger, and compare the CPU per record")
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench")
    args = parser.parse_args(argv)
    try:
        reference = measure(args.reference, args.home / f"n{args.reference}") if args.records > args.reference else None
        result = run(args.records, min(args.naive_sample, args.records), args.home / f"n{args.records}")
    except RuntimeError as exc:  # a step that failed: what it printed, and make bench stops
        raise SystemExit(str(exc)) from None
    if reference is not None:
        result["reference"] = reference
    save(ROOT / "bench" / "results" / f"pipeline-{args.records}.json", result)
    _print(result)


if __name__ == "__main__":
    main(sys.argv[1:])
