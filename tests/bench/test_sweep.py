"""The status sweep at a small size (``make bench-sweep`` runs it at 100,000 open items): HRSS's log collected
and every department polled at once, as the feedback DAG's tasks run, then every change reported to 皖事通办
exactly once."""

from __future__ import annotations

from pathlib import Path

from bench import sweep


def test_a_small_sweep_reports_every_change_once(tmp_path: Path) -> None:
    with sweep.prepare(300, tmp_path / "world") as world:
        result = sweep.sweep(world)
    assert not result["stopped_by"], result
    assert result["open_items"] > 200 and result["read"] > result["open_items"] / 2
    assert result["new_events"] == result["changes"] > 0
    assert result["unreported"] == 0 and result["sink_duplicates"] == 0
    assert result["sink_events"] == result["ledger_events"] == result["reported"]
