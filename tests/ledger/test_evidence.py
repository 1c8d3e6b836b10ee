"""The evidence log: any single edit, deletion, reordering or truncation is detected and named, and the
chain cannot be rebuilt without the hub's chain key; archives verify on their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import delete, select, update

from lianban.errors import ConfigError
from lianban.keys.provision import ensure_keys
from lianban.ledger import evidence
from lianban.ledger.db import session_factory, upgrade
from lianban.ledger.models import Evidence, EvidenceAnchor
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
    with session_factory(ledger.url)() as s:
        month = s.scalars(select(Evidence.at)).first()[:7]  # type: ignore[index]
        return evidence.archive_month(s, month, tmp_path / "archive", ledger.keys)


def test_monthly_archive_verifies_alone_with_the_public_key(ledger: Ledger, tmp_path: Path) -> None:
    path = _archive(ledger, tmp_path)
    assert evidence.verify_archive(path, ledger.keys, with_chain_key=False).ok
    assert evidence.verify_archive(path, ledger.keys).ok


@pytest.mark.parametrize("with_chain_key", [True, False])
def test_an_edited_archive_is_detected(ledger: Ledger, tmp_path: Path, with_chain_key: bool) -> None:
    path = _archive(ledger, tmp_path)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["digest"] = "0" * 64
    lines[2] = json.dumps(entry, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n")
    verdict = evidence.verify_archive(path, ledger.keys, with_chain_key=with_chain_key)
    assert not verdict.ok and verdict.problem


def test_a_truncated_archive_is_detected(ledger: Ledger, tmp_path: Path) -> None:
    path = _archive(ledger, tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-2] + lines[-1:]) + "\n")
    assert not evidence.verify_archive(path, ledger.keys, with_chain_key=False).ok


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
