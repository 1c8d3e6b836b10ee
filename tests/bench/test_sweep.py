"""The status sweep at a small size (``make bench-sweep`` runs it at 100,000 open items): HRSS's log collected
and every department polled at once, as the feedback DAG's tasks run, then every change reported to 皖事通办
exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench import sweep
from bench.drills import tally
from bench.drills.world import World


def _hrss_moves_on_unseen(world: World) -> None:
    """One HRSS item gets a newer row in HRSS's log that the hub has not read: a change it never collected."""
    from sqlalchemy import insert

    from connectors.hrss.frontend import FrontendDB, status_log
    from connectors.hrss.mapping import STATUS_COLUMNS as S
    from connectors.hrss.statuses import CODES
    from lianban.domain.statuses import Status

    (case_no, item), now = next(iter(tally._hrss_latest(world).items()))[0], datetime.now(UTC)
    with FrontendDB(world.frontend_url).engine.begin() as conn:
        conn.execute(insert(status_log), [{S["case_no"]: case_no, S["item_code"]: item, S["reason"]: None,
                                           S["status_code"]: CODES[Status.UNDER_REVIEW],
                                           S["changed_at"]: now.isoformat(timespec="seconds")}])


def test_a_small_sweep_reports_every_change_once(tmp_path: Path) -> None:
    with sweep.prepare(300, tmp_path / "world") as world:
        result = sweep.sweep(world)
        _hrss_moves_on_unseen(world)
        missed = sweep.shown(world)
    assert sweep.exactly_once(result), result
    assert result["not_shown"] == 0 and result["source_items"] > 200, result
    assert missed[1] == 1  # a change only the source holds is caught: the ledger and 皖事通办 agree without it
    assert not sweep.exactly_once({**result, "not_shown": missed[1]})
    assert not result["stopped_by"], result
    assert result["open_items"] > 200 and result["read"] > result["open_items"] / 2
    assert result["new_events"] == result["changes"] > 0
    assert result["unreported"] == 0 and result["sink_duplicates"] == 0
    assert result["sink_events"] == result["ledger_events"] == result["reported"]
