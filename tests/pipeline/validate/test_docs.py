"""Data Docs of a staging run: one page per chunk under the directory given, no personal value in any file,
and a quarantine row written before reasons had codes still reads (as LEGACY)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import insert

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.ledger.db import session_factory
from lianban.ledger.models import Quarantine
from lianban.ledger.store import QuarantineState, utcnow
from lianban.pipeline.quarantine import list_held
from lianban.pipeline.stage import stage
from simulators.people import generate


def test_each_run_renders_its_chunks_with_no_personal_value(paths: Paths, tmp_path: Path) -> None:
    apps = list(generate(45, seed=21))
    apps[3] = {**apps[3], "phone": "1" + apps[3]["phone"][:5], "id_number": apps[3]["id_number"][:17] + "x"}
    FrontendDB(paths.frontend_url).insert_applications(apps)
    docs = tmp_path / "data_docs" / "run-1"
    result = stage(FrontendDB(paths.frontend_url), paths.ledger_url, paths.keys_dir, chunk=20, docs_dir=docs,
                   read_ahead=20)
    assert result.quarantined >= 1
    pages = sorted(p.name for p in docs.rglob("chunk-*.html"))
    assert (docs / "index.html").exists() and pages == ["chunk-00001.html", "chunk-00002.html", "chunk-00003.html"]
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in docs.rglob("*") if p.is_file())
    assert "ID_LOWER_X" in text and "身份证号码末位为小写x" in text
    for app in apps:
        for key in ("id_number", "name", "phone"):
            value = str(app[key] or "")
            assert len(value) < 2 or value not in text, f"{key} of {app['case_no']} in the Data Docs"


def test_a_run_without_a_docs_directory_writes_none(paths: Paths, tmp_path: Path) -> None:
    FrontendDB(paths.frontend_url).insert_applications(generate(3, seed=2))
    stage(FrontendDB(paths.frontend_url), paths.ledger_url, paths.keys_dir)
    assert not list(paths.home.rglob("*.html"))


def test_reasons_stored_as_plain_text_before_codes_read_as_legacy(paths: Paths) -> None:
    with session_factory(paths.ledger_url).begin() as session:
        session.execute(insert(Quarantine).values(
            source_seq=7, case_no="BZ1", state=QuarantineState.OPEN, created_at=utcnow(),
            reasons=json.dumps(["联系电话应为以1开头的11位手机号码 13912345678"], ensure_ascii=False),
            masked=json.dumps({"case_no": "BZ1"})))
    (held,) = list_held(paths.ledger_url)
    assert held.reasons == [{"code": "LEGACY", "message": "联系电话应为以1开头的11位手机号码 139****5678"}]


@pytest.mark.parametrize(("suite_rows", "runs"), [(10, 5), (25, 3), (1000, 2)])
def test_rows_read_ahead_are_judged_whole_transactions_per_suite_run(paths: Paths, tmp_path: Path, suite_rows: int,
                                                                      runs: int) -> None:
    apps = list(generate(45, seed=22))
    apps[33] = {**apps[33], "id_number": apps[33]["id_number"][:17] + "x"}
    FrontendDB(paths.frontend_url).insert_applications(apps)
    docs = tmp_path / "docs"
    result = stage(FrontendDB(paths.frontend_url), paths.ledger_url, paths.keys_dir, chunk=10, docs_dir=docs,
                   read_ahead=30, suite_rows=suite_rows)
    assert result.extracted == 45 and result.staged + result.quarantined + result.skipped_known == 45
    held = {h.source_seq: [r["code"] for r in h.reasons] for h in list_held(paths.ledger_url)}
    assert held == {34: ["ID_LOWER_X", "ID_CHECK"], 43: ["REQUIRED_EMPLOYER_NAME"]}  # each verdict on its own row
    # reads of 30 + 15 rows; runs of 10 rows (one transaction), 20 (25 rounded down to whole transactions: 20
    # + 10, then 15) or every row read (30, then 15)
    pages = sorted(p.name for p in docs.rglob("chunk-*.html"))
    assert pages == [f"chunk-{n:05d}.html" for n in range(1, runs + 1)]


def test_a_runs_results_wait_for_its_docs_on_disk_not_in_memory(paths: Paths, tmp_path: Path) -> None:
    """Each chunk's masked result is written where only the run's docs read it, and gone once they are rendered:
    a million-row backfill's hundred suite runs are not held in the worker until the end."""
    from lianban.domain.record import RetirementRecord
    from lianban.domain.rules.frame import from_records
    from lianban.pipeline.validate.docs import RunDocs
    from lianban.pipeline.validate.runner import validator

    records = [RetirementRecord(**{**a, "items": tuple(a["items"].split(","))}) for a in generate(10, seed=5)]
    docs = RunDocs(tmp_path / "docs")
    for _ in range(3):
        docs.add(validator().run(from_records(records)).gx_result)
    store = docs.prepare()[0].validation_results_store
    held = [p for p in Path(store.store_backend.full_base_directory).rglob("*.json")]
    assert len(held) == 3 and store.store_backend.__class__.__name__ == "TupleFilesystemStoreBackend"
    assert docs.build() == tmp_path / "docs" / "index.html"
    assert len(list((tmp_path / "docs").rglob("chunk-*.html"))) == 3
    assert not any(p.exists() for p in held)


def test_the_docs_are_rendered_while_the_last_chunks_are_staged_and_hold_every_run(
        paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the rows after the last read are found to be none, every run of the suite has been submitted: the
    worker renders the Data Docs while staging writes its last chunks, not after them (the other core idled)."""
    from lianban.pipeline.validate.worker import Judge

    FrontendDB(paths.frontend_url).insert_applications(generate(45, seed=23))
    staged: list[int] = []
    asked_after: list[int] = []
    all_submitted = Judge.all_submitted

    def spy(judge: Judge) -> None:
        asked_after.append(staged[-1] if staged else 0)
        all_submitted(judge)

    monkeypatch.setattr(Judge, "all_submitted", spy)
    docs = tmp_path / "docs"
    result = stage(FrontendDB(paths.frontend_url), paths.ledger_url, paths.keys_dir, chunk=10, docs_dir=docs,
                   read_ahead=30, progress=lambda done, _: staged.append(done))
    assert result.extracted == 45 and result.data_docs == str(docs / "index.html")
    assert asked_after[0] == 30 < staged[-1]  # reads of 30 and 15 rows: asked before rows 31–45 were staged
    pages = sorted(p.name for p in docs.rglob("chunk-*.html"))
    assert pages == ["chunk-00001.html", "chunk-00002.html"]  # one run per read, both rendered
