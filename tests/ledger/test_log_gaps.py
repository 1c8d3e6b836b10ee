"""Reading a log past a watermark (lianban.ledger.log_gaps): rows are taken up to the first number missing
after the watermark until that gap has been missing for the grace, counted from the run that first saw it;
then it is passed over, with a warning naming the numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lianban.ledger.db import session_factory
from lianban.ledger.log_gaps import GAP_GRACE_SECONDS, takeable
from lianban.ledger.models import Watermark

LOG = "hrss_status_log"


def _take(ledger_url: str, mark: int, seqs: list[int]) -> int:
    with session_factory(ledger_url).begin() as session:
        return takeable(session, LOG, "人社状态日志", mark, seqs)


def _age(ledger_url: str, seconds: float) -> None:
    """The gap was first seen `seconds` earlier than recorded."""
    with session_factory(ledger_url).begin() as session:
        seen = session.get(Watermark, f"{LOG}.gap")
        assert seen is not None
        seen.updated_at -= timedelta(seconds=seconds)


def test_rows_with_no_number_missing_are_all_taken(ledger_url: str) -> None:
    assert _take(ledger_url, 0, [1, 2, 3]) == 3
    assert _take(ledger_url, 7, [8, 9]) == 2
    assert _take(ledger_url, 7, []) == 0


def test_rows_past_a_missing_number_wait_for_it_through_the_grace(ledger_url: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    assert _take(ledger_url, 4, [5, 6, 8, 9]) == 2  # 7 missing: 8 and 9 wait
    assert _take(ledger_url, 6, [8, 9]) == 0  # the next run, still within the grace
    _age(ledger_url, GAP_GRACE_SECONDS - 60)
    assert _take(ledger_url, 6, [8, 9]) == 0
    assert not caplog.records
    _age(ledger_url, 61)
    assert _take(ledger_url, 6, [8, 9]) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "人社状态日志第 7 条已缺失 10 分钟以上（写入方回滚或序号跳号），越过继续读取 "
        "(numbers missing past the grace: passed over)"]


def test_a_gap_filled_in_time_is_taken_in_order(ledger_url: str) -> None:
    assert _take(ledger_url, 0, [1, 3]) == 1
    assert _take(ledger_url, 1, [2, 3]) == 2


def test_each_gap_has_its_own_grace_from_when_it_was_first_seen(ledger_url: str) -> None:
    assert _take(ledger_url, 0, [2, 3, 5]) == 0  # 1 missing; 4 too, not yet looked at
    _age(ledger_url, GAP_GRACE_SECONDS)
    assert _take(ledger_url, 0, [2, 3, 5]) == 2  # 1 passed over; 4 seen missing now, its grace begins
    assert _take(ledger_url, 3, [5]) == 0
    _age(ledger_url, GAP_GRACE_SECONDS)
    assert _take(ledger_url, 3, [5]) == 1
