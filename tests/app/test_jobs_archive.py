"""The lianban_daily task archive_evidence: last month's evidence archive written once, on the month's first run,
where an operator copies it off-host (docs/deploy.md §6)."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo

import pytest

from lianban.app import jobs
from lianban.app.config import Paths
from lianban.ledger import evidence, evidence_archive
from lianban.ledger.db import session_factory


def _appended(paths: Paths, monkeypatch: pytest.MonkeyPatch, stamps: list[str]) -> None:
    """One evidence entry appended at each of `stamps` (UTC, as the hub's clock reads)."""
    times = iter(stamps)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Clock:
            return cls.fromisoformat(next(times)).replace(tzinfo=tz)

    with monkeypatch.context() as clock:
        clock.setattr(evidence, "datetime", Clock)
        log = evidence.EvidenceLog.load(paths.keys_dir)
        for n in range(len(stamps)):
            with session_factory(paths.ledger_url).begin() as s:
                log.sent(s, "medical", "submit", [f"BZ{n}"], {"batch": n})


def test_the_first_run_of_a_month_archives_the_month_before_and_later_runs_keep_it(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    _appended(paths, monkeypatch, ["2026-10-31T17:00:00", "2026-11-15T03:00:00", "2026-11-30T17:00:00"])
    assert jobs.archive_evidence("2026-12-01") == {"month": "2026-11", "written": True, "earlier": []}
    archive = paths.home / "archive" / "evidence-2026-11.jsonl"
    assert evidence_archive.verify_archive(archive, paths.keys_dir).ok
    held = archive.read_text().splitlines()[:-1]
    assert len(held) == 2  # Nov 1 01:00 and Nov 15 Beijing time; Dec 1 01:00 Beijing is December's
    before = archive.read_bytes()
    assert jobs.archive_evidence("2026-12-02") == {"month": "2026-11", "written": False, "earlier": []}
    assert archive.read_bytes() == before  # the copy an operator may have verified and taken is left alone
    across_the_year = jobs.archive_evidence("2027-01-01")
    assert across_the_year == {"month": "2026-12", "written": True, "earlier": []}


def test_a_month_the_ledger_holds_nothing_of_gets_no_archive(paths: Paths) -> None:
    assert jobs.archive_evidence("2026-12-01") == {"month": "2026-11", "written": False, "earlier": []}
    assert not (paths.home / "archive" / "evidence-2026-11.jsonl").exists()


@pytest.mark.parametrize("day, month", [("2026-01-01", "2025-12"), ("2026-03-31", "2026-02"),
                                        ("2026-12-01", "2026-11")])
def test_the_month_before(day: str, month: str) -> None:
    from datetime import date

    assert evidence_archive.month_before(date.fromisoformat(day)) == month


def test_an_archive_written_before_its_month_ended_is_completed_on_the_months_first_run(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in the evidence review: `lianban audit archive --month 2026-11` typed on Nov 15 wrote the month's
    archive up to then; the first run of December found the file there and kept it, so the entries of Nov 15–30
    were in no archive ever. Now such an archive (its head short of the month's last entry) is moved aside, kept,
    and the whole month written."""
    _appended(paths, monkeypatch, ["2026-11-01T03:00:00", "2026-11-15T03:00:00"])
    out = paths.home / "archive"
    with session_factory(paths.ledger_url)() as session:
        early = evidence_archive.archive_month(session, "2026-11", out, paths.keys_dir)
    before = early.read_bytes()
    _appended(paths, monkeypatch, ["2026-11-20T03:00:00", "2026-11-29T03:00:00"])
    assert jobs.archive_evidence("2026-12-01") == {"month": "2026-11", "written": True, "earlier": []}
    assert evidence_archive.verify_archive(early, paths.keys_dir).ok
    assert len(early.read_text().splitlines()[:-1]) == 4
    assert [p.read_bytes() for p in out.iterdir() if p != early] == [before]  # the early one kept, aside
    assert jobs.archive_evidence("2026-12-02") == {"month": "2026-11", "written": False, "earlier": []}


def test_months_the_job_did_not_run_in_are_archived_on_its_next_run(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in the recon review: the job archived only the month before its own, so with the host down for all of
    December (no daily run in it) November's archive was never written, by the job or anyone. Now each run also
    writes the months missed since the newest archive in the folder (since the ledger's first entry when none)."""
    _appended(paths, monkeypatch, ["2026-10-10T03:00:00", "2026-11-10T03:00:00", "2026-12-10T03:00:00",
                                   "2027-01-10T03:00:00"])
    out = paths.home / "archive"
    assert jobs.archive_evidence("2026-12-01") == {"month": "2026-11", "written": True,
                                                   "earlier": ["2026-10"]}  # the ledger's first month too
    assert jobs.archive_evidence("2027-02-01") == {"month": "2027-01", "written": True, "earlier": ["2026-12"]}
    written = sorted(p.name for p in out.iterdir())
    assert written == [f"evidence-{m}.jsonl" for m in ("2026-10", "2026-11", "2026-12", "2027-01")]
    assert all(evidence_archive.verify_archive(out / name, paths.keys_dir).ok for name in written)
    assert jobs.archive_evidence("2027-02-02") == {"month": "2027-01", "written": False, "earlier": []}


def test_a_month_missing_behind_the_newest_archive_is_archived_and_one_moved_away_written_again(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in the recon review: the job went on from the newest archive in the folder, so with January's and
    March's archives there and February's not (never written, or moved away), February's was never written. Now
    every month since the ledger's first with no archive there is written; the others are left as they are."""
    _appended(paths, monkeypatch, ["2026-01-10T03:00:00", "2026-02-10T03:00:00", "2026-03-10T03:00:00",
                                   "2026-04-10T03:00:00"])
    out = paths.home / "archive"
    with session_factory(paths.ledger_url)() as session:
        kept = [evidence_archive.archive_month(session, m, out, paths.keys_dir) for m in ("2026-01", "2026-03")]
    before = [path.read_bytes() for path in kept]
    assert jobs.archive_evidence("2026-05-01") == {"month": "2026-04", "written": True, "earlier": ["2026-02"]}
    assert [path.read_bytes() for path in kept] == before
    february = out / "evidence-2026-02.jsonl"
    assert evidence_archive.verify_archive(february, paths.keys_dir).ok
    assert [json.loads(line)["id"] for line in february.read_text().splitlines()[:-1]] == [2]
    kept[0].unlink()  # January's moved off-host, not copied: written again, once
    assert jobs.archive_evidence("2026-05-02") == {"month": "2026-04", "written": False, "earlier": ["2026-01"]}
    assert jobs.archive_evidence("2026-05-03") == {"month": "2026-04", "written": False, "earlier": []}
    assert sorted(p.name for p in out.iterdir()) == [f"evidence-2026-0{n}.jsonl" for n in range(1, 5)]
