"""What validation costs: ``python -m bench.validate [--rows N] [--bad SHARE] [--repeat R]``.

Builds N synthetic 前置库 rows (``simulators.people``, about 3 % broken the demo's way) and breaks a further
SHARE of them the ways real source data goes wrong (a lower-case ``x``, full-width digits, a 15-digit
number, an unknown item, a pension start off the statutory month, a contribution below the minimum), then
reports:

- the one-time cost: importing Great Expectations and building the suite (every rule a custom expectation);
- validating all N rows as one chunk through the GX suite, wall and CPU seconds (best of R) and rows/s;
- the same rules applied directly without GX (``lianban.domain.rules.evaluate``): what GX itself adds;
- how many rows were found invalid, by code.

Prints a table and writes ``bench/results/validate.json``. Issue 11's bar: ≤ 3 s for 100,000 rows after the
import, on the 2-core machine.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.kit import save
from lianban.domain.catalog import load_catalog
from lianban.domain.rules import evaluate
from lianban.domain.rules.frame import from_rows
from simulators.people import generate

RESULTS = Path(__file__).parent / "results" / "validate.json"
FULLWIDTH = {c: c + 0xFEE0 for c in range(0x30, 0x3A)}
DAMAGE: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...] = (
    lambda a: {**a, "id_number": a["id_number"][:17] + "x"},
    lambda a: {**a, "id_number": a["id_number"].translate(FULLWIDTH)},
    lambda a: {**a, "id_number": a["id_number"][:6] + a["id_number"][8:17]},
    lambda a: {**a, "items": a["items"] + ",99"},
    lambda a: {**a, "pension_start": "2031-01" if a["retirement_type"] == "01" else a["pension_start"]},
    lambda a: {**a, "contribution_months": 100},
)


def rows(n: int, bad: float, seed: int = 2025) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [rng.choice(DAMAGE)(a) if rng.random() < bad else a for a in generate(n, seed=seed)]


def best(repeat: int, run: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall, cpu) seconds of the fastest of `repeat` runs, and the last result."""
    timings, result = [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        timings.append((time.perf_counter() - wall, time.process_time() - cpu))
    wall, cpu = min(timings)
    return wall, cpu, result


def measure(n: int, bad: float, repeat: int) -> dict[str, Any]:
    data = rows(n, bad)
    start = time.perf_counter()
    from lianban.pipeline.validate.runner import validator

    suite = validator()
    setup_s = time.perf_counter() - start
    frame_s, _, frame = best(1, lambda: from_rows(data))
    gx_wall, gx_cpu, result = best(repeat, lambda: suite.run(frame.copy()))
    direct_wall, direct_cpu, _ = best(repeat, lambda: evaluate(frame.copy(), load_catalog()))
    codes = Counter(r.code for reasons in result.reasons for r in reasons)
    return {"rows": n, "rules": len(suite.rules), "import_and_build_s": round(setup_s, 2),
            "frame_s": round(frame_s, 3), "gx_wall_s": round(gx_wall, 3), "gx_cpu_s": round(gx_cpu, 3),
            "rows_per_s": round(n / gx_wall), "direct_wall_s": round(direct_wall, 3),
            "direct_cpu_s": round(direct_cpu, 3), "invalid_rows": sum(bool(r) for r in result.reasons),
            "codes": dict(codes.most_common())}


def table(r: dict[str, Any]) -> str:
    return "\n".join([
        f"validation of {r['rows']:,} rows × {r['rules']} rules (one chunk)",
        f"  GX import + suite build (once) {r['import_and_build_s']:>8.2f} s",
        f"  frame from rows                {r['frame_s']:>8.3f} s",
        f"  GX suite: wall                 {r['gx_wall_s']:>8.3f} s   ({r['rows_per_s']:,} rows/s)",
        f"  GX suite: cpu                  {r['gx_cpu_s']:>8.3f} s",
        f"  rules without GX: wall / cpu   {r['direct_wall_s']:>8.3f} / {r['direct_cpu_s']:.3f} s",
        f"  invalid rows                   {r['invalid_rows']:>8,}   {r['codes']}",
    ])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.validate", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bad", type=float, default=0.05, help="share broken beyond the demo's own 3 %%")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = measure(args.rows, args.bad, args.repeat)
    print(table(result))
    env = {"python": platform.python_version(), "machine": platform.machine(),
           "great_expectations": version("great-expectations"), "pandas": version("pandas"),
           "pyarrow": version("pyarrow"), "at": datetime.now(UTC).isoformat(timespec="seconds")}
    save(args.out, {**result, "env": env})
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
