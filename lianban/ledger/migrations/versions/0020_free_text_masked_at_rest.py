"""Free text written before it was masked at write is masked now: every ID-number-shaped and mobile-number-
shaped run in it (:func:`lianban.domain.identity.redact_text`), as the hub has masked such text since.

Departments' and 皖事通办's words (an item's reason, a status event's, a refused transition's, a delivery's or a
supplement's last error, the platform's refusal of an event) and an operator's decision note were kept as
written until then, and a department's words may quote the applicant. In the JSON columns (a parked status row's
change, a held record's reasons and masked fields) each string is masked and the JSON written again; a value
that is not JSON is masked as text. Idempotent: a masked run is no longer a run of digits. The rows are read in
pages and only those that change are written. Downgrade leaves the text masked (nothing to restore it from).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from lianban.domain.identity import redact_text

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TEXT = {"case_items": ("reason",), "status_events": ("reason", "parked_reason"),
         "illegal_transitions": ("reason",), "deliveries": ("last_error",), "supplements": ("last_error",),
         "quarantine": ("decision_note",)}
_JSON = {"parked_statuses": ("change",), "quarantine": ("reasons", "masked")}
_PAGE = 10_000


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v) for k, v in value.items()}
    return value


def _json(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return redact_text(text)
    masked = _walk(value)
    return text if masked == value else json.dumps(masked, ensure_ascii=False)


def _mask(table: str, column: str, mask: Callable[[str], str]) -> None:
    bind = op.get_bind()
    rows = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.Text))
    query = sa.select(rows.c.id, rows.c[column]).where(rows.c[column].is_not(None)).order_by(rows.c.id)
    changed = [{"row_id": row_id, "masked": new} for row_id, old in bind.execute(query.execution_options(
        yield_per=_PAGE)) if (new := mask(old)) != old]
    write = sa.update(rows).where(rows.c.id == sa.bindparam("row_id")).values({column: sa.bindparam("masked")})
    for start in range(0, len(changed), _PAGE):
        bind.execute(write, changed[start:start + _PAGE])


def upgrade() -> None:
    for table, columns in _TEXT.items():
        for column in columns:
            _mask(table, column, redact_text)
    for table, columns in _JSON.items():
        for column in columns:
            _mask(table, column, _json)


def downgrade() -> None:
    """Nothing to restore the text from: it stays masked."""
