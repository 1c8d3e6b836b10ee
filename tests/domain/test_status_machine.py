"""The status machine as data: legal moves (with unseen statuses skipped), duplicates, out-of-order and illegal
reports, and the case status its items add up to (lianban.domain.status_machine)."""

from __future__ import annotations

import pytest

from lianban.domain.status_machine import Move, load_status_machine
from lianban.domain.statuses import Status

S = Status
T1, T2 = "2025-03-01T10:00:00+08:00", "2025-03-01T11:00:00+08:00"


@pytest.mark.parametrize(("current", "new", "move"), [
    (None, S.ACCEPTED, Move.APPLY), (None, S.NOT_ACCEPTED, Move.APPLY), (None, S.COMPLETED, Move.APPLY),
    (S.ACCEPTED, S.UNDER_REVIEW, Move.APPLY), (S.ACCEPTED, S.COMPLETED, Move.APPLY),  # unseen steps skipped
    (S.UNDER_REVIEW, S.SUPPLEMENT, Move.APPLY), (S.SUPPLEMENT, S.UNDER_REVIEW, Move.APPLY),
    (S.SUPPLEMENT, S.COMPLETED, Move.APPLY), (S.APPROVED, S.COMPLETED, Move.APPLY),
    (S.ACCEPTED, S.ACCEPTED, Move.REPEAT), (S.COMPLETED, S.COMPLETED, Move.REPEAT),
    (S.COMPLETED, S.ACCEPTED, Move.ILLEGAL), (S.NOT_ACCEPTED, S.UNDER_REVIEW, Move.ILLEGAL),
    (S.REJECTED, S.APPROVED, Move.ILLEGAL), (S.UNDER_REVIEW, S.ACCEPTED, Move.ILLEGAL),
    (S.APPROVED, S.SUPPLEMENT, Move.ILLEGAL), (S.APPROVED, S.NOT_ACCEPTED, Move.ILLEGAL),
    # the back edge (受理前补正): 补正资料 → 受理 and on from there, but never skipped through from 审核中
    (S.SUPPLEMENT, S.ACCEPTED, Move.APPLY), (S.SUPPLEMENT, S.NOT_ACCEPTED, Move.APPLY),
    (S.UNDER_REVIEW, S.NOT_ACCEPTED, Move.ILLEGAL),
])
def test_moves_follow_the_machine(current: Status | None, new: Status, move: Move) -> None:
    assert load_status_machine().judge(current, T1, new, T2) is move


def test_a_report_older_than_the_current_status_changes_nothing() -> None:
    machine = load_status_machine()
    assert machine.judge(S.UNDER_REVIEW, T2, S.SUPPLEMENT, T1) is Move.STALE  # 补正资料 came before 审核中
    assert machine.judge(S.COMPLETED, T2, S.ACCEPTED, T1) is Move.STALE  # late, not illegal
    assert machine.judge(S.UNDER_REVIEW, T1, S.SUPPLEMENT, "not a time") is Move.APPLY
    assert machine.judge(S.UNDER_REVIEW, T2, S.UNDER_REVIEW, T1) is Move.STALE  # an older echo of the same status


def test_a_late_echo_of_an_earlier_report_neither_rewinds_the_item_nor_lets_a_stale_one_through() -> None:
    """受理 9:00, 审核中 10:00, 补正资料 11:00, 审核中 12:00; then the 10:00 and 11:00 reports again, reordered
    (the 10:00 one with other words): nothing changes, and the next poll's 12:00 report is a repeat."""
    from lianban.ledger.store import ItemRow, move_status

    item = ItemRow(1, "12", None, None, None, False, None, None)
    at = [f"2026-12-01T{h:02d}:00:00+08:00" for h in (9, 10, 11, 12)]
    said = [(S.ACCEPTED, at[0], None, ()), (S.UNDER_REVIEW, at[1], "初审中", ()),
            (S.SUPPLEMENT, at[2], "请补正", ("M01",)), (S.UNDER_REVIEW, at[3], "复审中", ())]
    echoes = [(S.UNDER_REVIEW, at[1], "初审中（重发）", ()), (S.SUPPLEMENT, at[2], "请补正", ("M01",)),
              (S.UNDER_REVIEW, at[3], "复审中", ())]
    events = [move_status(None, item, status, "medical", code=None, reason=reason, changed_at=when,  # type: ignore[arg-type]
                          materials=materials) for status, when, reason, materials in said + echoes]
    assert [e is not None for e in events] == [True] * 4 + [False] * 3
    assert (item.status, item.status_at, item.supplement_due) == (S.UNDER_REVIEW.value, at[3], None)


@pytest.mark.parametrize(("items", "case"), [
    ([None, None], S.ACCEPTED), ([S.ACCEPTED, None], S.ACCEPTED), ([S.ACCEPTED, S.UNDER_REVIEW], S.UNDER_REVIEW),
    ([S.COMPLETED, S.SUPPLEMENT], S.SUPPLEMENT), ([S.COMPLETED, S.APPROVED], S.UNDER_REVIEW),
    ([S.COMPLETED, S.NOT_ACCEPTED], S.COMPLETED), ([S.REJECTED, S.NOT_ACCEPTED], S.REJECTED),
    ([S.NOT_ACCEPTED], S.NOT_ACCEPTED), ([S.COMPLETED, S.COMPLETED], S.COMPLETED),
])
def test_the_case_status_follows_the_documented_rule(items: list[Status | None], case: Status) -> None:
    assert load_status_machine().case_status(items) is case
