"""`make bench`'s steps at a small size (it runs them at 20,000 sealed records, 100,000 validated rows, 10,000
staged and 100,000 end to end): each runs to its end and says what it measured."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bench import pipeline, seal, validate
from bench import stage as stage_bench


def test_seal_measures_every_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seal.main(["--records", "200", "--batch", "50", "--sample", "4", "--sm2-rounds", "2", "--out",
               str(tmp_path / "seal.json")])
    written = json.loads((tmp_path / "seal.json").read_text())
    assert len(written["results"]) == 3 and len(written["sm2"]) == 2
    assert "SM2 (GB/T 32918)" in capsys.readouterr().out


def test_validate_finds_the_rows_it_broke(tmp_path: Path) -> None:
    validate.main(["--rows", "400", "--repeat", "1", "--out", str(tmp_path / "validate.json")])
    written = json.loads((tmp_path / "validate.json").read_text())
    assert written["rows"] == 400 and written["invalid_rows"] > 0


def test_staging_both_ways_stages_every_row_and_judges_alike(tmp_path: Path) -> None:
    result = stage_bench.measure(300, 1, tmp_path)
    gx, direct = result["gx"], result["direct"]
    assert gx["counts"]["extracted"] == direct["counts"]["extracted"] == 300
    assert gx["counts"]["staged"] > 200 and gx["counts"]["quarantined"] > 0  # the generator makes some invalid
    for count in ("staged", "quarantined", "skipped_known", "deliveries", "notified"):
        assert gx["counts"][count] == direct["counts"][count], count
    assert gx["counts"]["data_docs"] and direct["counts"]["data_docs"] is None
    assert "GX adds" in stage_bench.table(result)


def test_the_pipeline_delivers_every_record_and_ends_with_its_rate(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    result = pipeline.run(300, 40, tmp_path / "n300")
    staged, deliver = result["stage"], result["deliver"]
    assert staged["extracted"] == 300 and staged["staged"] > 200
    assert deliver["deliveries"] == staged["deliveries"] > staged["staged"]  # every one accepted, 2.7 a record
    assert all(d["dead"] == d["refused"] == d["duplicates"] == 0 for d in deliver["by_department"].values())
    assert result["naive"]["records"] == 40 and result["naive"]["records_per_s"] > 0
    with sqlite3.connect(tmp_path / "n300" / "naive" / "naive.db") as stored:  # in the bench's home, not /tmp
        assert stored.execute("SELECT count(*) FROM received").fetchone()[0] == result["naive"]["deliveries"]
    pipeline._print(result)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"end-to-end: {result['end_to_end']['records_per_s']:,.0f} records/s, {result['ratio']}x naive"
