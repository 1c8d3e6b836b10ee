"""Each kind of liaison alert points to its section of the runbook: the section is there."""

from __future__ import annotations

import re
from pathlib import Path

from lianban.domain.incidents import KINDS, RUNBOOK

ROOT = Path(__file__).resolve().parents[2]


def test_every_alert_kinds_runbook_section_exists_and_is_about_it() -> None:
    headings = dict(re.findall(r"^## 第(\d+)节 (.+)$", (ROOT / RUNBOOK).read_text(encoding="utf-8"), re.M))
    assert {kind.section for kind in KINDS.values()} <= headings.keys(), sorted(headings)
    assert len({kind.section for kind in KINDS.values()}) == len(KINDS)  # one section each
