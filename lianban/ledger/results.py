"""Results (办理结果) at rest: checked against their form, sealed with the vault key, opened for the read models.

A result is personal (an amount, a contribution record): the ledger keeps it only as a vault envelope bound to
its case item (``aad``), together with the party that reported it. A result that does not fit its form
(:func:`lianban.domain.results.check`) is not taken; the status still is, and operators are alerted with the
reason, which names keys and never values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from lianban.crypto.vault import open_envelope, seal
from lianban.domain.results import check, summary
from lianban.keys.rings import KeyRing
from lianban.wire.ids import aad

alerts = logging.getLogger("lianban.alerts")


def _aad(case_no: str, item_code: str) -> str:
    return aad("result", case_no, item_code)


def seal_result(vault: KeyRing, case_no: str, item_code: str, party: str,
                result: Mapping[str, str] | None) -> str | None:
    """The sealed text to keep with a status event; None when there is no result or it does not fit."""
    if not result:
        return None
    problem = check(item_code, party, result)
    if problem:
        alerts.error("告警 ALERT: %s 为办件 %s 返回的办理结果未采纳（状态已记录）：%s", party, case_no, problem)
        return None
    envelope = seal(vault, {"party": party, "result": dict(result)}, _aad(case_no, item_code))
    return json.dumps(envelope)


def open_result(vault: KeyRing, case_no: str, item_code: str, sealed: str) -> tuple[str, dict[str, str]]:
    """(party, result) from a sealed result; RejectedError when it cannot be opened."""
    opened = open_envelope(vault, json.loads(sealed), expect_aad=_aad(case_no, item_code))
    return str(opened["party"]), {str(k): str(v) for k, v in opened["result"].items()}


def result_summary(vault: KeyRing, case_no: str, item_code: str, sealed: str | None) -> str | None:
    """The sentence the applicant reads for a sealed result (None without one)."""
    if sealed is None:
        return None
    party, result = open_result(vault, case_no, item_code, sealed)
    return summary(item_code, party, result)
