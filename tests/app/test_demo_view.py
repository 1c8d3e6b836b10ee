"""The demo's closing table: what an operator reads after `make demo` (held and corrected applications,
supplements, illegal reports kept, every status pushed)."""

from __future__ import annotations

import pytest

from lianban.app.demo_view import print_summary
from lianban.domain.statuses import Status


def test_the_summary_names_every_kind_of_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    summary = {
        "extracted": 30, "quarantined": 2, "corrected": 2, "supplements": {"accepted": 3, "own": 1},
        "delivered": {"medical": 5}, "department_received": {"medical": {"unique": 5, "duplicates": 0}},
        "reported_to_wanshi_tong": 60, "overdue_items": 0, "illegal_transitions": 4,
        "events_by_status": {s.value: 1 for s in Status}, "status_counts": {"已办结": 9}, "rounds": 3,
        "seconds": 12.5, "complete": True, "paths": {"ledger_db": "/tmp/ledger.db"},
        "reconciliation": {"adds_up": True, "problems": [], "totals": {}},
    }
    print_summary(summary)
    text = capsys.readouterr().out
    assert "隔离并告知补正" in text and "源头更正后续办" in text and "补正材料转送" in text
    assert "拒绝采纳的非法状态" in text and all(f"推送状态 {s.value}" in text for s in Status)
    assert "全部事项已办结并推送" in text and "平衡 (adds up)" in text
