"""``python -m bench.drills [--records N] [--kills K] [--stage-kills K] [--only NAME …]``: run the fault drills,
one line each (:mod:`bench.drills`); exit 1 when any drill lost or duplicated anything or a fate is off."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from bench.drills.scenarios import DRILLS, Options, Outcome
from bench.kit import ROOT


def _run(name: str, options: Options) -> bool:
    started = time.monotonic()
    try:
        outcome: Outcome = DRILLS[name](options)
    except Exception as exc:  # a drill that cannot finish is a failed drill, said in one line
        traceback.print_exc(file=sys.stderr)
        print(f"drill {name}: error {type(exc).__name__}: {exc}", flush=True)
        return False
    print(outcome.tally.line(name), flush=True)
    for note in [*outcome.notes, f"took {time.monotonic() - started:.0f} s"]:
        print(f"    {note}", flush=True)
    return outcome.tally.clean


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drills", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=int(os.environ.get("DRILLS_N", "10000")))
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the deliver process")
    parser.add_argument("--stage-kills", type=int, default=5, help="SIGKILLs of the stage process")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the slow department adds per answer")
    parser.add_argument("--only", nargs="*", choices=sorted(DRILLS), default=list(DRILLS))
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "drills")
    args = parser.parse_args(argv)
    args.home.mkdir(parents=True, exist_ok=True)  # the steps run here log their alerts to a file, not the screen
    logging.basicConfig(filename=args.home / "drills.log", level=logging.WARNING, force=True)
    options = Options(args.records, args.home, args.kills, args.stage_kills, args.latency)
    results = [_run(name, options) for name in args.only]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
