"""The evidence log: any single edit, deletion or reordering is detected and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from lianban import evidence
from lianban.ledger.db import session_factory, upgrade
from lianban.ledger.models import Evidence

N = 6


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    with session_factory(url).begin() as s:
        for i in range(N):
            evidence.exchange(s, "medical", ("submit", "receipt"), [f"BZ{i}"], {"batch": i}, {"ok": i})
    return url


def _verify(url: str) -> evidence.Verdict:
    with session_factory(url)() as s:
        return evidence.verify_ledger(s)


def test_untouched_chain_verifies(url: str) -> None:
    assert _verify(url) == evidence.Verdict(True, 2 * N)


@pytest.mark.parametrize("entry", range(1, 2 * N + 1))
@pytest.mark.parametrize("field", ["digest", "case_nos", "department", "at"])
def test_editing_any_entry_is_named(url: str, entry: int, field: str) -> None:
    with session_factory(url).begin() as s:
        s.execute(update(Evidence).where(Evidence.id == entry).values({field: "tampered"}))
    verdict = _verify(url)
    assert not verdict.ok and verdict.first_bad == entry and verdict.problem


@pytest.mark.parametrize("entry", range(1, 2 * N + 1))
def test_deleting_any_entry_is_detected(url: str, entry: int) -> None:
    with session_factory(url).begin() as s:
        s.execute(delete(Evidence).where(Evidence.id == entry))
    verdict = _verify(url)
    assert not verdict.ok and verdict.first_bad is not None


def test_reordering_is_detected(url: str) -> None:
    with session_factory(url).begin() as s:
        a, b = s.get(Evidence, 3), s.get(Evidence, 4)
        assert a and b
        fields = ("at", "direction", "kind", "case_nos", "digest", "prev_hash", "entry_hash")
        va, vb = ({f: getattr(a, f) for f in fields}, {f: getattr(b, f) for f in fields})
        for f in fields:
            setattr(a, f, f"tmp-{f}" if f == "entry_hash" else vb[f])
        s.flush()
        for f in fields:
            setattr(b, f, va[f])
        s.flush()
        a.entry_hash = vb["entry_hash"]
    verdict = _verify(url)
    assert not verdict.ok and verdict.first_bad == 3


def test_monthly_archive_verifies_alone_and_detects_edits(url: str, tmp_path: Path) -> None:
    with session_factory(url)() as s:
        month = s.scalars(select(Evidence.at)).first()[:7]  # type: ignore[index]
        path = evidence.archive_month(s, month, tmp_path / "archive")
    assert evidence.verify_archive(path).ok
    lines = path.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["digest"] = "0" * 64
    lines[2] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    verdict = evidence.verify_archive(path)
    assert not verdict.ok and verdict.first_bad == entry["id"]


def test_entries_hold_no_message_body(url: str) -> None:
    with session_factory(url)() as s:
        row = s.scalars(select(Evidence)).first()
    assert row is not None and "batch" not in (row.case_nos + row.digest)
