"""What staging calls: each record of a chunk judged by the suite, with the ledger's open cases as input.

"The same person not twice among open cases" needs the ledger: :func:`open_persons` asks it once per chunk
which of the chunk's people (blind index) already have a case in progress under another 办件编号 (a held case
does not count: it is the application waiting for its own correction), and the chunk's columns carry the answer
in ``person_open`` for the ``DUPLICATE_PERSON`` rule. The rules never query. This module does not import pandas:
the suite's worker makes the frame of the columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lianban.crypto.hashing import blind_index
from lianban.domain.columns import record_columns
from lianban.domain.reasons import Reason
from lianban.domain.record import RetirementRecord
from lianban.ledger.models import Case, CaseItem
from lianban.pipeline.validate.worker import Judge


def open_persons(session: Session, records: Sequence[RetirementRecord], index_key: bytes) -> list[bool]:
    """For each record: does its person already have an open case under another 办件编号? One query."""
    indexes = [blind_index(index_key, r.id_number) for r in records]
    in_progress = exists().where(CaseItem.case_id == Case.id, CaseItem.final.is_(False))
    query = select(Case.id_index, Case.case_no).where(Case.id_index.in_(set(indexes)), Case.held.is_(False),
                                                       in_progress)
    cases: dict[str, set[str]] = {}
    for id_index, case_no in session.execute(query):
        cases.setdefault(id_index, set()).add(case_no)
    return [bool(cases.get(i, set()) - {r.case_no}) for i, r in zip(indexes, records, strict=True)]


def judge(session: Session, records: Sequence[RetirementRecord], index_key: bytes,
          by: Judge) -> Future[list[list[Reason]]]:
    """Every record's reasons (empty = valid), in order, when the run's judge `by` (the suite in its worker)
    has judged them; the ledger is asked now."""
    if not records:
        done: Future[list[list[Reason]]] = Future()
        done.set_result([])
        return done
    return by.submit(record_columns(records, open_persons(session, records, index_key)))
