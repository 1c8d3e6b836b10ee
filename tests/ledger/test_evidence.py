"""The evidence log: any single edit, deletion, reordering or truncation is detected and named, and the
chain cannot be rebuilt without the hub's chain key; archives verify on their own. The head mirrored
beside the keys catches what the ledger alone cannot: a wiped log with its anchor reset, and a ledger
rolled back to an older genuine copy."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from dataclasses import asdict
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from lianban.app.config import Paths
from lianban.domain.statuses import Status
from lianban.errors import ConfigError, FatalError
from lianban.keys import keysets
from lianban.keys.names import EVIDENCE_HEAD
from lianban.keys.provision import ensure_keys
from lianban.ledger import evidence, evidence_archive, evidence_head
from lianban.ledger.db import engine_for, session_factory, upgrade
from lianban.ledger.evidence import ARCHIVE_SIGNER, body_of
from lianban.ledger.models import Evidence, EvidenceAnchor
from lianban.ledger.time_limits import beijing_date
from lianban.wire.contract import CaseRecord, ProgressEvent, SealedItem, SentBatch
from lianban.wire.signatures import Proof

N = 6


class Ledger(NamedTuple):
    url: str
    keys: Path


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """A ledger holding N sent/received pairs (2N entries), and the keys folder that chained them."""
    keys = tmp_path / "keys"
    ensure_keys(keys)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    log = evidence.EvidenceLog.load(keys)
    with session_factory(url).begin() as s:
        for i in range(N):
            log.sent(s, "medical", "submit", [f"BZ{i}"], {"batch": i})
            log.received(s, "medical", "receipt", [f"BZ{i}"], {"ok": i}, [])
    return Ledger(url, keys)


def _verify(ledger: Ledger) -> evidence.Verdict:
    with session_factory(ledger.url)() as s:
        return evidence.verify_ledger(s, ledger.keys)


def test_untouched_chain_verifies(ledger: Ledger) -> None:
    assert _verify(ledger) == evidence.Verdict(True, 2 * N)


@pytest.mark.parametrize("entry", range(1, 2 * N + 1))
@pytest.mark.parametrize("field", ["digest", "case_nos", "department", "at"])
def test_editing_any_entry_is_named(ledger: Ledger, entry: int, field: str) -> None:
    with session_factory(ledger.url).begin() as s:
        s.execute(update(Evidence).where(Evidence.id == entry).values({field: "tampered"}))
    verdict = _verify(ledger)
    assert not verdict.ok and verdict.first_bad == entry and verdict.problem


@pytest.mark.parametrize("entry", range(1, 2 * N + 1))
def test_deleting_any_entry_is_detected(ledger: Ledger, entry: int) -> None:
    with session_factory(ledger.url).begin() as s:
        s.execute(delete(Evidence).where(Evidence.id == entry))
    verdict = _verify(ledger)
    assert not verdict.ok and verdict.first_bad is not None


def test_truncating_and_moving_the_anchor_is_detected(ledger: Ledger) -> None:
    with session_factory(ledger.url).begin() as s:
        s.execute(delete(Evidence).where(Evidence.id == 2 * N))
        last = s.get(Evidence, 2 * N - 1)
        assert last is not None
        s.execute(update(EvidenceAnchor).values(head_id=last.id, head_hash=last.entry_hash))
    verdict = _verify(ledger)
    assert not verdict.ok and "锚点" in (verdict.problem or "")


def test_a_chain_rebuilt_without_the_key_is_detected(ledger: Ledger, tmp_path: Path) -> None:
    """An attacker deletes entry 3 and re-chains the rest with a key of their own."""
    from lianban.keys.rings import ensure_ring

    forged_key = ensure_ring(tmp_path / "attacker", "evidence").active_key()[1]
    with session_factory(ledger.url).begin() as s:
        s.execute(delete(Evidence).where(Evidence.id == 3))
        rows = list(s.scalars(select(Evidence).order_by(Evidence.id)))
        prev = rows[1].entry_hash
        for new_id, row in enumerate(rows[2:], start=3):
            row.id = new_id
            entry = {k: getattr(row, k) for k in evidence.FIELDS}
            row.prev_hash, row.entry_hash = prev, evidence.chain_hash(forged_key, prev, entry)
            prev = row.entry_hash
            s.flush()
        s.execute(update(EvidenceAnchor).values(head_id=len(rows), head_hash=prev))
    verdict = _verify(ledger)
    assert not verdict.ok and verdict.first_bad == 3


def test_reordering_is_detected(ledger: Ledger) -> None:
    with session_factory(ledger.url).begin() as s:
        a, b = s.get(Evidence, 3), s.get(Evidence, 4)
        assert a and b
        a.digest, b.digest = b.digest, a.digest
    verdict = _verify(ledger)
    assert not verdict.ok and verdict.first_bad == 3


def _archive(ledger: Ledger, tmp_path: Path) -> Path:
    """The archive of the (Beijing) month of the ledger's first entry."""
    with session_factory(ledger.url)() as s:
        month = f"{beijing_date(datetime.fromisoformat(str(s.scalars(select(Evidence.at)).first()))):%Y-%m}"
        return evidence_archive.archive_month(s, month, tmp_path / "archive", ledger.keys)


def test_monthly_archive_verifies_alone_with_the_public_key(ledger: Ledger, tmp_path: Path) -> None:
    path = _archive(ledger, tmp_path)
    assert evidence_archive.verify_archive(path, ledger.keys, with_chain_key=False).ok
    assert evidence_archive.verify_archive(path, ledger.keys).ok


def test_an_archive_already_there_is_never_written_over(ledger: Ledger, tmp_path: Path) -> None:
    """Found in the recon review: archive_month wrote over whatever archive of its month was there (its two
    callers looked first), so a caller that did not, or one racing another, replaced the signed archive an
    operator may have verified and taken off-host (and an edited one, the evidence of it). Now it refuses,
    leaving the file as it was and nothing else in the folder."""
    path = _archive(ledger, tmp_path)
    before = path.read_bytes()
    with session_factory(ledger.url).begin() as s:
        evidence.EvidenceLog.load(ledger.keys).sent(s, "medical", "submit", ["BZ9"], {"batch": 9})
    with pytest.raises(FatalError, match="已有归档，未覆盖"):
        _archive(ledger, tmp_path)
    assert path.read_bytes() == before and list(path.parent.iterdir()) == [path]
    path.write_text(path.read_text().replace("BZ1", "BZ7"))
    edited = path.read_bytes()
    with pytest.raises(FatalError, match="已有归档，未覆盖"):
        _archive(ledger, tmp_path)
    assert path.read_bytes() == edited and list(path.parent.iterdir()) == [path]


def test_an_archive_verifies_after_the_key_that_signed_it_is_retired(ledger: Ledger, tmp_path: Path) -> None:
    """The hub's signing key rotated and the old one retired (deploy.md's key change): an archive signed before
    failed as 归档尾部签名无效, which reads as tampering; the old key is kept as retired to check it. A kid the file
    never held is named."""
    path = _archive(ledger, tmp_path)
    old = keysets.load(ledger.keys, ARCHIVE_SIGNER).active
    keysets.rotate(ledger.keys, ARCHIVE_SIGNER)
    keysets.retire(ledger.keys, ARCHIVE_SIGNER, old)
    assert evidence_archive.verify_archive(path, ledger.keys, with_chain_key=False).ok
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].replace(old, "hub-signing-sm-19990101-000000")
    path.write_text("\n".join(lines) + "\n")
    verdict = evidence_archive.verify_archive(path, ledger.keys, with_chain_key=False)
    assert not verdict.ok and "hub-signing-sm-19990101-000000" in (verdict.problem or "")


@pytest.mark.parametrize("with_chain_key", [True, False])
def test_an_edited_archive_is_detected(ledger: Ledger, tmp_path: Path, with_chain_key: bool) -> None:
    path = _archive(ledger, tmp_path)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["digest"] = "0" * 64
    lines[2] = json.dumps(entry, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n")
    verdict = evidence_archive.verify_archive(path, ledger.keys, with_chain_key=with_chain_key)
    assert not verdict.ok and verdict.problem


def test_an_archive_under_another_months_name_is_detected(ledger: Ledger, tmp_path: Path) -> None:
    """Found in review: an older month's archive copied over (or renamed to) this month's verified as it."""
    path = _archive(ledger, tmp_path)
    year, month = map(int, path.stem.removeprefix("evidence-").split("-"))
    other = path.with_name(f"evidence-{year + month // 12}-{month % 12 + 1:02d}.jsonl")
    shutil.copy(path, other)
    verdict = evidence_archive.verify_archive(other, ledger.keys)
    assert not verdict.ok and "月份" in (verdict.problem or "")
    assert evidence_archive.verify_archive(path, ledger.keys).ok
    assert evidence_archive.verify_archive(shutil.copy(path, tmp_path / "copied.jsonl"), ledger.keys).ok


def _stamp(monkeypatch: pytest.MonkeyPatch, stamps: list[str]) -> None:
    """The entries appended from now on are stamped with `stamps` (UTC, as the hub's clock reads), one each."""
    times = iter(stamps)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Clock:  # type: ignore[override]
            return cls.fromisoformat(next(times)).replace(tzinfo=tz)

    monkeypatch.setattr(evidence, "datetime", Clock)


def test_months_archives_verify_when_hosts_clocks_stamp_entries_out_of_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: two hosts appending across midnight of a month's end (Beijing), one a little behind,
    stamped entry 3 in November after entry 2 in December; the November archive (1 and 3) and the December one
    (2 and 4) then failed to verify though nothing was touched. An archive now holds every entry from its month's
    first to its last."""
    keys, url = tmp_path / "keys", f"sqlite:///{tmp_path / 'ledger.db'}"
    ensure_keys(keys)
    upgrade(url)
    _stamp(monkeypatch, ["2026-11-30T15:59:59.900", "2026-11-30T16:00:00.100", "2026-11-30T15:59:59.950",
                         "2026-11-30T16:00:00.200"])
    log = evidence.EvidenceLog.load(keys)
    for n in range(4):
        with session_factory(url).begin() as s:
            log.sent(s, "medical", "submit", [f"BZ{n}"], {"batch": n})
    with session_factory(url)() as s:
        for month, ids in (("2026-11", [1, 2, 3]), ("2026-12", [2, 3, 4])):
            path = evidence_archive.archive_month(s, month, tmp_path / "archive", keys)
            assert evidence_archive.verify_archive(path, keys).ok, month
            assert [json.loads(line)["id"] for line in path.read_text().splitlines()[:-1]] == ids
    assert evidence_archive.link_problem(sorted((tmp_path / "archive").iterdir())) is None  # overlapping, chained


def test_archives_of_two_chains_do_not_chain_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in the recon review: archives were verified one at a time only, so an October archive of one
    ledger and a November archive of another (a copy, or a rebuilt chain), each signed by the hub, passed
    together. Now archives taken together must chain on (and the straddling ones of one chain still do)."""
    keys = tmp_path / "keys"
    ensure_keys(keys)
    shutil.copytree(keys, tmp_path / "keys-other")
    archives: dict[str, Path] = {}
    for name, key_dir in (("one", keys), ("other", tmp_path / "keys-other")):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        _stamp(monkeypatch, ["2026-10-10T03:00:00", "2026-11-10T03:00:00"])
        log = evidence.EvidenceLog.load(key_dir)
        for n in range(2):
            with session_factory(url).begin() as s:
                log.sent(s, "medical", "submit", [f"BZ{name}{n}"], {"batch": n})
        with session_factory(url)() as s:
            for month in ("2026-10", "2026-11"):
                archives[f"{name}-{month}"] = evidence_archive.archive_month(s, month, tmp_path / name, key_dir)
    assert evidence_archive.link_problem([archives["one-2026-10"], archives["one-2026-11"]]) is None
    mixed = [archives["one-2026-10"], archives["other-2026-11"]]
    assert all(evidence_archive.verify_archive(path, keys).ok for path in mixed)
    problem = evidence_archive.link_problem(mixed)
    assert problem is not None and problem[1] == 2 and "未接续" in problem[0]


def _archived(url: str, keys: Path, out: Path, months: list[str]) -> dict[str, list[int]]:
    """Each month's archive written into `out`, checked to verify alone and to chain on from the month before
    (its first entry's previous hash is that month's head), and the ledger checked against all of them: the
    ids each holds."""
    held, heads, head = {}, [], None
    with session_factory(url)() as s:
        for month in months:
            path = evidence_archive.archive_month(s, month, out, keys)
            assert evidence_archive.verify_archive(path, keys).ok, month
            *entries, trailer = map(json.loads, path.read_text().splitlines())
            assert head is None or trailer["start_prev"] == head, f"{month} does not chain on"
            held[month], head = [e["id"] for e in entries], trailer["head"]
            heads.append(evidence_archive.archive_head(path))
        assert evidence.verify_ledger(s, keys, heads).ok
    assert evidence_archive.link_problem([out / f"evidence-{month}.jsonl" for month in months]) is None
    return held


def test_a_months_archive_holds_the_entries_of_the_beijing_month(ledger_url: str, paths: Paths, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: a month's archive held the entries stamped in that month in UTC, so an exchange at
    2026-12-01 01:00 Beijing time (2026-11-30T17:00 UTC) was archived as November's, though every operator in
    Bozhou counts it in December. Months are Beijing months now, and consecutive ones hold every entry once."""
    _stamp(monkeypatch, ["2026-10-31T15:59:59.999999", "2026-10-31T16:00:00", "2026-11-30T15:59:59",
                         "2026-11-30T17:00:00", "2026-12-31T15:59:59.5", "2026-12-31T16:00:00"])
    log = evidence.EvidenceLog.load(paths.keys_dir)
    for n in range(6):
        with session_factory(ledger_url).begin() as s:
            log.sent(s, "medical", "submit", [f"BZ{n}"], {"batch": n})
    held = _archived(ledger_url, paths.keys_dir, tmp_path / "archive", ["2026-10", "2026-11", "2026-12", "2027-01"])
    assert held == {"2026-10": [1], "2026-11": [2, 3], "2026-12": [4, 5], "2027-01": [6]}


def test_an_archive_of_a_utc_month_written_before_still_verifies_and_leaves_no_gap(
        ledger_url: str, paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An archive written before months were Beijing months holds a UTC month: it still verifies, alone and
    against the ledger, and the Beijing month after it begins 8 hours before it ends, so the entries of those
    hours are in both archives and none is in neither."""
    _stamp(monkeypatch, ["2026-11-10T00:00:00", "2026-11-30T17:00:00", "2026-12-02T00:00:00"])
    log = evidence.EvidenceLog.load(paths.keys_dir)
    for n in range(3):
        with session_factory(ledger_url).begin() as s:
            log.sent(s, "medical", "submit", [f"BZ{n}"], {"batch": n})
    with monkeypatch.context() as before, session_factory(ledger_url)() as s:
        before.setattr(evidence_archive, "_bounds", lambda month: (f"{month}-01", "2026-12-01"))  # at LIKE '2026-11-%'
        november = evidence_archive.archive_month(s, "2026-11", tmp_path / "before", paths.keys_dir)
    assert [json.loads(line)["id"] for line in november.read_text().splitlines()[:-1]] == [1, 2]
    assert evidence_archive.verify_archive(november, paths.keys_dir).ok
    with session_factory(ledger_url)() as s:
        assert evidence.verify_ledger(s, paths.keys_dir, [evidence_archive.archive_head(november)]).ok
    assert _archived(ledger_url, paths.keys_dir, tmp_path / "archive", ["2026-12"]) == {"2026-12": [2, 3]}


def test_a_truncated_archive_is_detected(ledger: Ledger, tmp_path: Path) -> None:
    path = _archive(ledger, tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-2] + lines[-1:]) + "\n")
    assert not evidence_archive.verify_archive(path, ledger.keys, with_chain_key=False).ok


def test_entries_hold_no_message_body(ledger: Ledger) -> None:
    with session_factory(ledger.url)() as s:
        row = s.scalars(select(Evidence)).first()
    assert row is not None and "batch" not in (row.case_nos + row.digest)


def test_each_verified_answer_is_its_own_entry_with_its_signature(ledger: Ledger) -> None:
    proofs = [Proof("POST", "/api/v1/cases:status", "a" * 64, f"{n}" * 64, f"v=1;kid=k{n};sig=s{n}", f"k{n}")
              for n in range(3)]
    with session_factory(ledger.url).begin() as s:
        evidence.EvidenceLog.load(ledger.keys).received(s, "health", "status", ["BZ1"], [], proofs)
    with session_factory(ledger.url)() as s:
        rows = list(s.scalars(select(Evidence).where(Evidence.id > 2 * N).order_by(Evidence.id)))
    assert [(r.signature, r.key_id, r.digest) for r in rows] == [(p.signature, p.key_id, p.answer_digest)
                                                                 for p in proofs]
    assert _verify(ledger).ok


def test_verifying_with_a_keys_folder_from_elsewhere_says_so_and_creates_nothing(ledger: Ledger,
                                                                                 tmp_path: Path) -> None:
    elsewhere = tmp_path / "other-keys"
    elsewhere.mkdir()
    with session_factory(ledger.url)() as s, pytest.raises(ConfigError, match="evidence"):
        evidence.verify_ledger(s, elsewhere)
    assert list(elsewhere.iterdir()) == []


# The head outside the ledger: wipes and rollbacks -----------------------------------------------------------


def _append(ledger: Ledger, pairs: int, start: int = 100) -> None:
    log = evidence.EvidenceLog.load(ledger.keys)
    for i in range(start, start + pairs):
        with session_factory(ledger.url).begin() as s:
            log.sent(s, "health", "submit", [f"BZ{i}"], {"batch": i})
            log.received(s, "health", "receipt", [f"BZ{i}"], {"ok": i}, [])


def _db(ledger: Ledger) -> Path:
    return Path(ledger.url.removeprefix("sqlite:///"))


def _copy_ledger(ledger: Ledger, to: Path) -> None:
    """Copy the SQLite file as a backup would (every connection closed, so the WAL is checkpointed)."""
    engine_for(ledger.url).dispose()
    assert not Path(f"{_db(ledger)}-wal").exists()
    shutil.copyfile(_db(ledger), to)


def _restore_ledger(ledger: Ledger, backup: Path) -> None:
    engine_for(ledger.url).dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{_db(ledger)}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, _db(ledger))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_head_file_follows_each_commit(ledger: Ledger) -> None:
    head = evidence_head.read_head(ledger.keys)
    with session_factory(ledger.url)() as s:
        anchor = s.get(EvidenceAnchor, 1)
    assert head is not None and anchor is not None
    assert (head["head_id"], head["head_hash"], head["chain_kid"]) == (2 * N, anchor.head_hash, anchor.chain_kid)
    assert evidence_head.head_path(ledger.keys).stat().st_mode & 0o777 == 0o600


def test_a_rolled_back_transaction_leaves_the_head_file_alone(ledger: Ledger) -> None:
    before = evidence_head.read_head(ledger.keys)
    with pytest.raises(RuntimeError), session_factory(ledger.url).begin() as s:
        evidence.EvidenceLog.load(ledger.keys).sent(s, "health", "submit", ["BZ9"], {"batch": 9})
        raise RuntimeError("the step failed after logging")
    assert evidence_head.read_head(ledger.keys) == before and _verify(ledger).ok


def test_wiping_every_entry_and_resetting_the_anchor_is_detected(ledger: Ledger) -> None:
    with session_factory(ledger.url).begin() as s:
        s.execute(delete(Evidence))
        s.execute(update(EvidenceAnchor).values(head_id=0, head_hash=evidence.GENESIS, chain_kid=None, mac=""))
    verdict = _verify(ledger)
    assert not verdict.ok and verdict.checked == 0
    assert verdict.problem == (f"证据链被清空或回滚：链外锚点记录到第 {2 * N} 条，台账只有 0 条 "
                               f"(chain wiped or rolled back)")


def test_restoring_an_older_copy_of_the_ledger_is_detected_and_named(ledger: Ledger, tmp_path: Path) -> None:
    backup = tmp_path / "ledger-backup.db"
    _copy_ledger(ledger, backup)
    _append(ledger, 3)
    assert _verify(ledger).ok
    _restore_ledger(ledger, backup)
    verdict = _verify(ledger)
    assert not verdict.ok and verdict.first_bad == 2 * N + 1
    assert f"链外锚点记录到第 {2 * N + 6} 条，台账只有 {2 * N} 条" in (verdict.problem or "")
    assert "rolled back" in (verdict.problem or "")


def test_a_rollback_stays_detected_after_new_appends_pass_the_old_head(ledger: Ledger, tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """The pipeline keeps running on the restored ledger: the head file stays put, as evidence."""
    backup = tmp_path / "ledger-backup.db"
    _copy_ledger(ledger, backup)
    _append(ledger, 2)
    kept = evidence_head.read_head(ledger.keys)
    _restore_ledger(ledger, backup)
    _append(ledger, 4, start=200)  # the restored chain now runs past the head the file names
    assert evidence_head.read_head(ledger.keys) == kept
    assert "head file kept as evidence" in caplog.text
    verdict = _verify(ledger)
    assert not verdict.ok and verdict.first_bad == 2 * N + 4 and "改写" in (verdict.problem or "")


def test_a_head_file_behind_the_ledger_still_verifies(ledger: Ledger, tmp_path: Path) -> None:
    """The process died between the ledger commit and the file write: behind is not tampering."""
    older = tmp_path / "head-before.json"
    shutil.copyfile(evidence_head.head_path(ledger.keys), older)
    _append(ledger, 2)
    shutil.copyfile(older, evidence_head.head_path(ledger.keys))
    assert _verify(ledger) == evidence.Verdict(True, 2 * N + 4)
    _append(ledger, 1)  # the next append moves it forward again
    assert evidence_head.read_head(ledger.keys)["head_id"] == 2 * N + 6  # type: ignore[index]


@pytest.mark.parametrize("change", [{"head_id": 3}, {"head_hash": "f" * 64}, {"written_at": "2020-01-01T00:00:00"},
                                   {"mac": "0" * 64}])
def test_a_forged_head_file_is_detected(ledger: Ledger, change: dict[str, Any]) -> None:
    path = evidence_head.head_path(ledger.keys)
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    verdict = _verify(ledger)
    assert not verdict.ok and "head file forged" in (verdict.problem or "")


NESTED = "[" * 100_000 + "]" * 100_000  # JSON nested deeper than the parser recurses


@pytest.mark.parametrize("content", ["", "{not json", '{"head_id": "12"}', "[]", NESTED])
def test_an_unreadable_head_file_is_detected(ledger: Ledger, content: str) -> None:
    evidence_head.head_path(ledger.keys).write_text(content)
    verdict = _verify(ledger)
    assert not verdict.ok and "head file unreadable" in (verdict.problem or "")


def test_an_append_beside_a_head_file_nested_too_deep_alerts_and_leaves_it(ledger: Ledger,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Found in review: such a file (NESTED) raised RecursionError out of the append (and out of verify) instead
    of the alert and the failed verdict any other malformed head file gets."""
    path = evidence_head.head_path(ledger.keys)
    path.write_text(NESTED)
    with session_factory(ledger.url).begin() as s:
        evidence.EvidenceLog.load(ledger.keys).sent(s, "medical", "submit", ["BZ9"], {"batch": 9})
    assert path.read_text() == NESTED and "ALERT" in caplog.text


def test_a_missing_head_file_is_detected_while_the_ledger_has_entries(ledger: Ledger) -> None:
    evidence_head.head_path(ledger.keys).unlink()
    verdict = _verify(ledger)
    assert not verdict.ok and "head file missing" in (verdict.problem or "")


def test_a_new_installation_without_entries_or_head_file_verifies_and_verify_writes_nothing(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    ensure_keys(keys)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    before = _files(keys)
    assert evidence.verify_ledger(session_factory(url)(), keys) == evidence.Verdict(True, 0)
    assert _files(keys) == before and not evidence_head.head_path(keys).exists()


def test_verifying_a_ledger_with_entries_writes_nothing(ledger: Ledger) -> None:
    before = _files(ledger.keys)
    assert _verify(ledger).ok
    assert _files(ledger.keys) == before


def test_concurrent_appends_never_move_the_head_file_back(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads, each with its own session, append at once. The first to read the head file pauses there
    (up to 0.5 s): without the flock, another thread would write a later head meanwhile and the paused one
    would then move the file back. Every write must name a later head than the one before."""
    written: list[int] = []
    read, write = evidence_head.read_head, evidence_head.write_private_json
    first, someone_wrote = threading.Lock(), threading.Event()

    def pausing_read(keys_dir: Path) -> dict[str, Any] | None:
        head = read(keys_dir)
        moving_it = sys._getframe(1).f_code.co_name == "_advance_head"  # not the check inside the transaction
        if moving_it and first.acquire(blocking=False):  # never released: only the first one pauses
            someone_wrote.wait(0.5)
        return head

    def recording_write(path: Path, body: Any) -> None:
        written.append(body["head_id"])
        someone_wrote.set()
        write(path, body)

    monkeypatch.setattr(evidence_head, "read_head", pausing_read)
    monkeypatch.setattr(evidence_head, "write_private_json", recording_write)
    log = evidence.EvidenceLog.load(ledger.keys)
    errors: list[BaseException] = []

    def appender(worker: int) -> None:
        try:
            for i in range(8):
                with session_factory(ledger.url).begin() as s:
                    log.sent(s, "housing_fund", "submit", [f"BZ{worker}-{i}"], {"w": worker, "i": i})
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=appender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert written == sorted(set(written)) and written[-1] == 2 * N + 32
    assert read(ledger.keys)["head_id"] == 2 * N + 32  # type: ignore[index]
    assert _verify(ledger) == evidence.Verdict(True, 2 * N + 32)


def test_the_archive_records_its_head_and_catches_a_rollback_of_ledger_and_head_file(ledger: Ledger,
                                                                                     tmp_path: Path) -> None:
    """Whoever restores the ledger and the head file from one backup is caught by a copy held elsewhere."""
    backup, head_backup = tmp_path / "ledger-backup.db", tmp_path / "head-backup.json"
    _copy_ledger(ledger, backup)
    shutil.copyfile(evidence_head.head_path(ledger.keys), head_backup)
    _append(ledger, 2)
    trailer = json.loads(_archive(ledger, tmp_path).read_text().splitlines()[-1])
    assert trailer["head_id"] == 2 * N + 4
    known = [(trailer["head_id"], trailer["head"])]
    _restore_ledger(ledger, backup)
    shutil.copyfile(head_backup, evidence_head.head_path(ledger.keys))
    assert _verify(ledger).ok  # consistent on this host: only the copy held elsewhere tells
    with session_factory(ledger.url)() as s:
        verdict = evidence.verify_ledger(s, ledger.keys, known_heads=known)
    assert not verdict.ok and "已知链头" in (verdict.problem or "") and verdict.first_bad == 2 * N + 1


def test_keys_list_does_not_take_the_head_file_for_a_key_set(ledger: Ledger) -> None:
    from lianban.app.cli.keys import _key_sets

    assert evidence_head.head_path(ledger.keys).exists()
    assert EVIDENCE_HEAD not in _key_sets(ledger.keys)


def test_a_garbled_archive_line_is_a_failed_verdict_naming_it(ledger: Ledger, tmp_path: Path) -> None:
    path = _archive(ledger, tmp_path)
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:-7]  # cut inside the JSON of the second entry
    path.write_text("\n".join(lines) + "\n")
    verdict = evidence_archive.verify_archive(path, ledger.keys)
    assert not verdict.ok and "第 2 行" in (verdict.problem or "")


def test_an_archive_line_nested_too_deep_is_a_failed_verdict_naming_it(ledger: Ledger, tmp_path: Path) -> None:
    path = _archive(ledger, tmp_path)
    lines = path.read_text().splitlines()
    lines[1] = NESTED
    path.write_text("\n".join(lines) + "\n")
    verdict = evidence_archive.verify_archive(path, ledger.keys)
    assert not verdict.ok and "第 2 行" in (verdict.problem or "")


def test_a_message_body_digests_as_dataclasses_asdict_would_render_it() -> None:
    """body_of skips asdict's deep copy for speed; the bytes digested must stay the same (the chain is old)."""

    class Pair(NamedTuple):
        a: int
        b: tuple[str, ...]

    record = CaseRecord("BZ1", "341602", "2025-03-01T09:00:00+08:00", 15, Status.ACCEPTED, 2, None, 0)
    events = [ProgressEvent(7, "BZ1", "01", "medical", Status.SUPPLEMENT, "2025-03-02T10:00:00+00:00", "材料不全",
                            2, "2025-03-17", ("光荣证", "身份证"), None, record),
              ProgressEvent(8, "BZ1", "02", "health", Status.COMPLETED, "2025-03-03T10:00:00+00:00", case=None)]

    for body in (events, events[0], {"seal": {"k": 1}, "items": events}, [Pair(1, ("x",))], "text"):
        assert body_of(body) == _asdict_json(body)


def test_events_made_structs_digest_the_bytes_they_digested_as_dataclasses() -> None:
    """ProgressEvent and CaseRecord were frozen dataclasses until 2026-12-04: the same events, made as those
    dataclasses were (the same fields, in order, with the same defaults), digest to the same bytes either way."""
    from dataclasses import make_dataclass

    def twin(kind: type[msgspec.Struct], **kinds: type) -> type:
        info = msgspec.structs.fields(kind)
        return make_dataclass(kind.__name__, [(f.name, kinds.get(f.name, object)) if f.required else
                                              (f.name, kinds.get(f.name, object), f.default) for f in info],
                              frozen=True)

    record_twin = twin(CaseRecord)
    event_twin = twin(ProgressEvent)
    record = CaseRecord("BZ1", "341602", "2025-03-01T09:00:00+08:00", 15, Status.ACCEPTED, 2, None, 1)
    event = ProgressEvent(7, "BZ1", "01", "medical", Status.SUPPLEMENT, "2025-03-02T10:00:00+00:00", "材料不全\n“引号”",
                          2, "2025-03-17", ("光荣证", "身份证"), "已转账", record)
    as_dataclasses = event_twin(**{name: getattr(event, name) for name in event.__struct_fields__})
    as_dataclasses = event_twin(**{**vars(as_dataclasses), "case": record_twin(*msgspec.structs.astuple(record))})
    plain = ProgressEvent(8, "BZ2", "02", "health", Status.COMPLETED, "2025-03-03T10:00:00+00:00")
    plain_twin = event_twin(*msgspec.structs.astuple(plain))

    assert body_of([event, plain]) == body_of([as_dataclasses, plain_twin])
    assert json.loads(body_of(event))["case"]["refused_items"] == 1


def _asdict_json(value: object) -> bytes:
    """body_of as it was first written: json.dumps of dataclasses.asdict, keys sorted, compact, default=str. A
    report's events and case records were dataclasses then and are msgspec structs now: a struct is made into
    what asdict made of the dataclass it was (the same dict of its fields, at any depth), so that the bytes an
    old chain digested are the bytes digested today."""
    import json as json_
    from dataclasses import asdict

    def as_dataclass_was(v: Any) -> Any:
        if isinstance(v, msgspec.Struct):
            return {name: as_dataclass_was(getattr(v, name)) for name in v.__struct_fields__}
        if isinstance(v, tuple) and hasattr(v, "_fields"):
            return type(v)(*[as_dataclass_was(x) for x in v])
        if isinstance(v, list | tuple):
            return type(v)(as_dataclass_was(x) for x in v)
        return v

    def plain(v: object) -> object:
        if isinstance(v, msgspec.Struct):
            return as_dataclass_was(v)
        return asdict(v) if hasattr(v, "__dataclass_fields__") and not isinstance(v, type) else v  # type: ignore[call-overload]

    data = [plain(v) for v in value] if isinstance(value, list | tuple) else plain(value)
    return json_.dumps(data, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":")).encode()


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_RECORDS = st.builds(CaseRecord, _TEXT, _TEXT, _TEXT, st.integers(), st.sampled_from(Status), st.integers(),
                     st.none() | _TEXT, st.integers())
_EVENTS = st.builds(ProgressEvent, st.integers(), _TEXT, _TEXT, _TEXT, st.sampled_from(Status), _TEXT,
                    st.none() | _TEXT, st.integers(), st.none() | _TEXT, st.lists(_TEXT, max_size=3).map(tuple),
                    st.none() | _TEXT, st.none() | _RECORDS)


@settings(max_examples=300, deadline=None)
@given(st.lists(_EVENTS, max_size=4) | _EVENTS | st.tuples(_RECORDS, _RECORDS))
def test_a_report_push_digests_the_same_bytes_on_msgspecs_fast_path(body: object) -> None:
    """A push's events take msgspec's path (18 times faster); any text, any integer, control characters and
    astral planes included, must come out byte for byte as json.dumps renders them: the chain is old."""
    assert body_of(body) == _asdict_json(body)


_ENVELOPES = st.dictionaries(_TEXT, _TEXT | st.integers(), max_size=6)


@settings(max_examples=200, deadline=None)
@given(_ENVELOPES, st.lists(st.builds(SealedItem, _TEXT, _TEXT, _TEXT, _ENVELOPES), max_size=4))
def test_a_sealed_batch_digests_its_canonical_json_on_msgspecs_fast_path(
        seal: dict[str, str | int], items: list[SealedItem]) -> None:
    """A batch sent (its header and items: text and whole numbers) is digested as the canonical JSON of its fields
    (keys sorted, compact), which anyone rebuilds from what went out, and written by msgspec to the same bytes."""
    batch = SentBatch(seal, items)
    canonical = json.dumps({"seal": seal, "items": [asdict(item) for item in items]}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":")).encode()
    assert body_of(batch) == _asdict_json(batch) == canonical


def test_what_msgspec_would_render_otherwise_keeps_json_dumps() -> None:
    """Floats, dates, bytes and plain enums are written differently by msgspec: such bodies keep the old path."""
    from dataclasses import dataclass
    from datetime import UTC, datetime
    from enum import Enum


    class Colour(Enum):
        RED = 1

    @dataclass
    class Odd:
        amount: float
        at: datetime
        raw: bytes
        colour: Colour

    odd = Odd(1e16, datetime(2026, 12, 1, 9, tzinfo=UTC), b"\x01", Colour.RED)
    assert body_of(odd) == body_of([odd])[1:-1] == _asdict_json(odd)
    assert b"1e+16" in body_of(odd) and b"2026-12-01 09:00:00+00:00" in body_of(odd)


def test_an_archive_run_cut_short_leaves_the_last_archive_whole(ledger: Ledger, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The month is archived again (a re-run after more entries) and the disk fills half-way: the archive that
    was there is left as it was, and still verifies."""
    path = _archive(ledger, tmp_path)
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lianban.keys.files.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        _archive(ledger, tmp_path)
    monkeypatch.undo()
    assert path.read_bytes() == before and evidence_archive.verify_archive(path, ledger.keys).ok
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_an_append_without_the_anchor_row_stops_with_a_sentence(ledger: Ledger) -> None:
    """Found in review: with the anchor row gone (deleted in the ledger), every append stopped on a bare
    AssertionError, so each pipeline run failed with no word of what was wrong; it now stops with a FatalError that
    names the missing anchor and `lianban audit verify`, and records nothing."""
    from lianban.errors import FatalError

    _append(ledger, 1)
    with session_factory(ledger.url).begin() as s:
        s.execute(delete(EvidenceAnchor))
        before = len(s.scalars(select(Evidence)).all())
    with pytest.raises(FatalError, match="锚点"), session_factory(ledger.url).begin() as s:
        evidence.EvidenceLog.load(ledger.keys).sent(s, "health", "submit", ["BZ1"], {"batch": 1})
    with session_factory(ledger.url)() as s:
        assert len(s.scalars(select(Evidence)).all()) == before


def test_a_deleted_entry_is_named_as_the_one_missing(ledger: Ledger) -> None:
    """Found in the evidence review: with entry 3 deleted the verdict said "第 3 条之后顺序中断或有删除" (after
    entry 3, which is the one gone), sending an auditor to look past entries that are intact. It now says the
    entry after 2 should be 3 and is 4."""
    with session_factory(ledger.url).begin() as s:
        s.execute(delete(Evidence).where(Evidence.id == 3))
    verdict = _verify(ledger)
    assert not verdict.ok and verdict.first_bad == 4
    assert "第 2 条之后应为第 3 条，却是第 4 条" in (verdict.problem or "")


def test_the_hub_signs_no_archive_of_entries_that_fail_their_chain(ledger: Ledger, tmp_path: Path) -> None:
    """Found in the evidence review: archiving read the month's entries and signed them as they were, so an
    entry edited in the ledger (its digest, say, its hashes left alone) went into an archive the hub signed,
    which an auditor holding only the hub's public key found intact. Archiving now checks the month's entries
    with the chain key first, and refuses, naming the entry, rather than sign them."""
    with session_factory(ledger.url).begin() as s:
        s.execute(update(Evidence).where(Evidence.id == 2).values(digest="tampered"))
    with pytest.raises(FatalError, match="第 2 条内容已被篡改"):
        _archive(ledger, tmp_path)
    assert not list((tmp_path / "archive").glob("*.jsonl"))


def test_a_month_is_found_in_the_log_by_its_time_index_not_by_reading_the_whole_log(ledger: Ledger,
                                                                                    tmp_path: Path) -> None:
    """The archive looks each month up every day (one with no entry too): on SQLite its look-ups of a month's
    entries by time search the index on ``evidence.at`` (migration 0025) instead of scanning the log."""
    from sqlalchemy import event

    engine = engine_for(ledger.url)
    by_time: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "evidence.at >=" in statement:
            by_time.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session_factory(ledger.url)() as s:
            month = f"{beijing_date(datetime.fromisoformat(s.scalars(select(Evidence.at)).first() or '')):%Y-%m}"
            assert evidence_archive.archive_once(s, month, tmp_path, ledger.keys) is not None
            assert evidence_archive.archive_once(s, "2001-01", tmp_path, ledger.keys) is None  # a month with none
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(by_time) >= 3
    with engine.connect() as conn:
        for statement, parameters in by_time:
            plan = " | ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "INDEX ix_evidence_at" in plan and "SCAN evidence" not in plan, plan
