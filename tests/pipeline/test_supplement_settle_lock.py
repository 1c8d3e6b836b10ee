"""Settling forwarded 补正 submissions reads them under the ledger's write lock on SQLite, as settling deliveries
does (lianban.pipeline.deliver._Settling.of): read before it, a row another run settled in between (this run
having outlived its claim's lease) was written over, the other run's answer lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lianban.app.config import Paths
from lianban.ledger.db import session_factory
from lianban.ledger.models import Supplement
from lianban.ledger.store import SupplementState, utcnow
from lianban.pipeline.supplements import _waiting


def test_the_rows_a_settle_reads_cannot_change_before_it_writes(paths: Paths) -> None:
    sessions = session_factory(paths.ledger_url)
    with sessions.begin() as s:
        row = Supplement(source="hrss", source_seq=1, case_no="BZ1", materials="[]", state=SupplementState.PENDING,
                         attempts=0, next_attempt_at=utcnow(), created_at=utcnow())
        s.add(row)
        s.flush()
        row_id = row.id
    other = sqlite3.connect(Path(paths.home) / "ledger.db", timeout=0.2)
    try:
        with sessions.begin() as s:
            assert [r.id for r in _waiting(s, [row_id])] == [row_id]
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("UPDATE supplements SET state = 'accepted' WHERE id = ?", (row_id,))
    finally:
        other.close()
