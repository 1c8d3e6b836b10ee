"""Two runs collecting HRSS's 补正 submissions at once (``lianban run collect`` by hand while the DAG's runs): each
page's watermark is read under the ledger's write lock (SQLite; the watermark row's lock on PostgreSQL), as the
status log's is (lianban.ledger.store.locked_watermark), so a run that read it before the other committed the rows
past it does not keep them again."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.ledger.db import session_factory
from lianban.ledger.models import Supplement
from lianban.ledger.store import get_watermark
from lianban.pipeline import supplements


class _Overlapped:
    """HRSS's 补正 table as the first run reads it: at its first page the other run starts, and is given a moment."""

    def __init__(self, db: FrontendDB, other: threading.Thread) -> None:
        self.db, self.other = db, other

    def supplements_since(self, seq: int, limit: int) -> list[object]:
        if self.other.ident is None:
            self.other.start()
            self.other.join(timeout=1.0)
        return list(self.db.supplements_since(seq, limit))

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


def test_a_run_that_read_the_watermark_before_another_moved_it_keeps_no_row_twice(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    for n in range(3):
        db.record_supplement(f"BZ-NOT-STAGED-{n}", "11", ["M01"])  # kept waiting for their cases
    failed: list[BaseException] = []

    def other() -> None:
        try:
            supplements.collect_supplements(db, paths.ledger_url, limit=2)
        except BaseException as exc:  # reported by the test
            failed.append(exc)

    runner = threading.Thread(target=other)
    supplements.collect_supplements(_Overlapped(db, runner), paths.ledger_url, limit=2)  # type: ignore[arg-type]
    runner.join()
    assert failed == []
    with session_factory(paths.ledger_url)() as s:
        assert get_watermark(s, supplements.WATERMARK) == 3
        assert s.scalar(select(func.count()).select_from(Supplement)) == 3
