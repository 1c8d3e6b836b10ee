"""`make bench`'s staging step at a small size (it runs at 10,000 records there): both ways stage every row, and
the rules applied without GX judge the rows as the suite does."""

from __future__ import annotations

from pathlib import Path

from bench import stage as stage_bench


def test_both_ways_stage_every_row_and_judge_alike(tmp_path: Path) -> None:
    result = stage_bench.measure(300, 1, tmp_path)
    gx, direct = result["gx"], result["direct"]
    assert gx["counts"]["extracted"] == direct["counts"]["extracted"] == 300
    assert gx["counts"]["staged"] > 200 and gx["counts"]["quarantined"] > 0  # the generator makes some invalid
    for count in ("staged", "quarantined", "skipped_known", "deliveries", "notified"):
        assert gx["counts"][count] == direct["counts"][count], count
    assert gx["counts"]["data_docs"] and direct["counts"]["data_docs"] is None
    assert "GX adds" in stage_bench.table(result)
