"""One synthetic applicant as a 前置库 row (domain keys), and the codes the rules give it after a change."""

from __future__ import annotations

from datetime import date
from typing import Any

from lianban.domain.catalog import load_catalog
from lianban.domain.rules import evaluate
from lianban.domain.rules.frame import from_rows
from simulators.people import make_id_number

USCC = "91341602MA2N0BX9X0"


def id_number(birth: date, male: bool = True, area: str = "341602", seq: int = 7) -> str:
    return make_id_number(area, birth, seq, male)


def id_ending_in(check: str, birth: date = date(1965, 5, 10)) -> str:
    """A valid ID number whose check character is `check`."""
    for seq in range(500):
        number = id_number(birth, seq=seq)
        if number[-1] == check:
            return number
    raise AssertionError(check)


def row(**changes: Any) -> dict[str, Any]:
    """A man born 1965-05-10 (statutory 60y2m: 2025-07), retiring normally with 300 months' contributions."""
    base = {"case_no": "BZTX202507000001", "name": "王建国", "id_number": id_number(date(1965, 5, 10)),
            "employer_name": "亳州市华佗纺织有限公司", "employer_uscc": USCC, "contribution_months": 300,
            "pension_start": "2025-07", "phone": "13912345678", "items": "01,11,12",
            "approved_at": "2025-06-20T10:00:00+08:00", "original_age": "60", "retirement_type": "01"}
    return {**base, **changes}


def codes(open_person: bool = False, **changes: Any) -> list[str]:
    """The codes of every reason the rules give `row(**changes)`, in rule order."""
    return [r.code for r in evaluate(from_rows([row(**changes)], [open_person]), load_catalog())[0]]


def prefixed(prefix: str, **changes: Any) -> list[str]:
    return [c for c in codes(**changes) if c.startswith(prefix)]


