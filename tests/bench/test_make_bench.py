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
    rss = result["peak_rss"]  # the hub's processes added up: stage and its workers, three delivery runs at once
    assert rss["together_mb"] >= rss["largest_mb"] > 0 and rss["processes"] >= 4
    with sqlite3.connect(tmp_path / "n300" / "naive" / "naive.db") as stored:  # in the bench's home, not /tmp
        assert stored.execute("SELECT count(*) FROM received").fetchone()[0] == result["naive"]["deliveries"]
    pipeline._print(result)
    printed = capsys.readouterr().out.strip().splitlines()
    sm2 = result["sm2"]  # the hub's SM2 per batch: the answer's signature verified too, not only sign and wrap
    assert f"SM2 at the hub (sign + wrap + verify the answer) {sm2['per_batch_ms']} ms per batch" in printed[-2]
    rate = result["end_to_end"]["records_per_s"]
    assert printed[-1] == f"end-to-end: {rate:,.0f} records/s, {result['ratio']}x naive"
    assert not any(line.startswith("per record,") for line in printed)  # no smaller run to set it against


def test_a_larger_run_sets_its_cpu_per_record_beside_the_reference_sizes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pipeline, "ROOT", tmp_path)  # its results file too
    pipeline.main(["--records", "160", "--reference", "80", "--naive-sample", "20", "--home", str(tmp_path)])
    saved = json.loads((tmp_path / "bench" / "results" / "pipeline-160.json").read_text())
    small, large = saved["reference"], saved
    assert (small["records"], large["records"]) == (80, 160)
    assert small["deliver"]["deliveries"] == small["stage"]["deliveries"] > 0  # the reference delivered it all too
    for figures in (small["per_record"], large["per_record"]):
        assert all(value > 0 for value in figures.values())
    a, b = small["per_record"], large["per_record"]
    *_, compared, last = capsys.readouterr().out.strip().splitlines()
    assert compared == (f"per record, 80 → 160 records (CPU ms): staging {a['stage_ms']} → {b['stage_ms']}, the hub "
                        f"{a['hub_ms_per_delivery']} → {b['hub_ms_per_delivery']} a delivery, the simulators "
                        f"{a['simulators_ms_per_delivery']} → {b['simulators_ms_per_delivery']} a delivery")
    assert last.startswith("end-to-end: ")
