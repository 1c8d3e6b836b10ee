"""Rows prepared in a process of their own: the ledger as staging writes it without one, a row that cannot route
left to staging, and a lost process never the run's end."""

from __future__ import annotations

import errno
import json
import logging
import os
import pickle
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.crypto.hashing import blind_index
from lianban.crypto.passwords import Verdict, verify_password
from lianban.crypto.vault import open_envelope
from lianban.domain.catalog import load_catalog
from lianban.domain.intake import SourceRow
from lianban.domain.record import RetirementRecord
from lianban.domain.routing import route
from lianban.keys.names import QUERY, VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery
from lianban.pipeline import prepare as preparing
from lianban.pipeline.offload import Offload
from lianban.pipeline.stage import stage
from lianban.wire.ids import aad
from tests.pipeline.test_offload import offload_children
from tests.pipeline.test_stage import _valid, generate_valid

Seeded = tuple[FrontendDB, list[dict[str, Any]]]


def _query(paths: Paths) -> Callable[[str], bytes | None]:
    ring = load_ring(paths.keys_dir, QUERY)
    return lambda kid: ring.keys.get(kid)
T = TypeVar("T")


def _record(app: dict[str, Any]) -> RetirementRecord:
    return RetirementRecord(**{**app, "items": tuple(app["items"].split(","))})


def _check_staged_as_read(paths: Paths, apps: list[dict[str, Any]]) -> None:
    """Every valid application is a case with its row's fingerprint and its person's blind index, and each of
    its pushed items has one delivery whose sealed payload opens, bound to that item, to the item's fields."""
    catalog, ring = load_catalog(), load_ring(paths.keys_dir, VAULT)
    keys = preparing.load_keys(paths.keys_dir)
    valid = {a["case_no"]: _record(a) for a in _valid(apps)}
    query = (select(Case.case_no, Case.fingerprint, Case.id_index, Case.password_hash, CaseItem.item_code,
                    Delivery.envelope)
             .join(CaseItem, CaseItem.case_id == Case.id)
             .join(Delivery, Delivery.case_item_id == CaseItem.id, isouter=True).where(Case.held.is_(False)))
    with session_factory(paths.ledger_url)() as s:
        rows = s.execute(query).all()
    assert {case_no for case_no, *_ in rows} == set(valid)
    sealed = {}
    for case_no, print_, id_index, hashed, item_code, envelope in rows:
        record = valid[case_no]
        assert print_ == preparing.fingerprint(keys.index_key, record)
        assert id_index == blind_index(keys.index_key, record.id_number)
        assert record.password and verify_password(record.password, case_no, hashed, _query(paths)) is Verdict.YES
        if envelope is not None:
            key = json.loads(envelope)["aad"].split("|")[0]
            sealed[(case_no, item_code)] = open_envelope(ring, json.loads(envelope), aad(key, case_no, item_code))
    pushed = {(case_no, r.item_code): r.payload for case_no, record in valid.items()
              for r in route(record, catalog) if r.payload is not None}
    assert sealed == pushed


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows each chunk came back with from the preparing process."""
    came_back: list[int] = []
    result = preparing.Preparer.result

    def counted(self: preparing.Preparer, pending: Any) -> dict[int, preparing.Prepared]:
        answer = result(self, pending)
        if pending is not None:
            came_back.append(len(answer))
        return answer

    monkeypatch.setattr(preparing.Preparer, "result", counted)
    return came_back


@pytest.mark.parametrize("offload_rows", [1, 10**9], ids=["in its process", "here"])
def test_staging_writes_the_same_ledger_with_rows_prepared_in_their_process_or_here(
        seeded: Seeded, paths: Paths, monkeypatch: pytest.MonkeyPatch, offload_rows: int) -> None:
    db, apps = seeded
    came_back = _spy(monkeypatch)
    result = stage(db, paths.ledger_url, paths.keys_dir, chunk=7, offload_rows=offload_rows)
    assert (result.extracted, result.staged) == (60, len(_valid(apps)))
    _check_staged_as_read(paths, apps)
    if offload_rows == 1:  # every chunk of 7 rows went there (60 rows: 9 chunks), and came back prepared
        assert len(came_back) == 9 and all(came_back) and sum(came_back) <= 60
        deadline = time.monotonic() + 10
        while offload_children() and time.monotonic() < deadline:  # it ends once staging is done with it
            time.sleep(0.05)
        assert offload_children() == []
    else:
        assert came_back == []


class _Dying(Offload):
    """A preparing process that dies at its first call."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(os._exit, 3)


def test_a_lost_preparing_process_leaves_the_work_to_staging(seeded: Seeded, paths: Paths,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(preparing, "Offload", _Dying)
    told = _staged_here(seeded, paths, caplog)
    assert "ProcessLost" in told and "入库预处理进程" in told


def _staged_here(seeded: Seeded, paths: Paths, caplog: pytest.LogCaptureFixture) -> str:
    """A run whose preparing process is not there stages every row as read, itself; its one warning (no ID
    number or case number in it)."""
    db, apps = seeded
    with caplog.at_level(logging.WARNING, logger="lianban.pipeline.prepare"):
        result = stage(db, paths.ledger_url, paths.keys_dir, chunk=7, offload_rows=1)
    assert (result.extracted, result.staged) == (60, len(_valid(apps)))
    _check_staged_as_read(paths, apps)
    (told,) = [r.getMessage() for r in caplog.records if r.name == "lianban.pipeline.prepare"]
    assert not any(a["id_number"] in told or a["case_no"] in told for a in apps)
    return told


@pytest.mark.parametrize("code", [errno.ENOMEM, errno.EAGAIN], ids=["ENOMEM", "EAGAIN"])
def test_a_preparing_process_that_cannot_start_leaves_the_work_to_staging(
        seeded: Seeded, paths: Paths, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        code: int) -> None:
    tried: list[int] = []

    def cannot_start() -> Offload:
        tried.append(code)
        raise OSError(code, os.strerror(code))  # as Popen raises it when the machine cannot fork

    monkeypatch.setattr(preparing, "Offload", cannot_start)
    told = _staged_here(seeded, paths, caplog)
    assert "入库预处理进程无法启动" in told and errno.errorcode[code] in told
    assert tried == [code]  # not tried again for each of the run's 9 chunks


def test_a_row_that_cannot_route_is_left_to_staging(paths: Paths) -> None:
    good, bad = (_record(a) for a in generate_valid(paths, 2))
    bad = replace(bad, items=("-8069750",))
    prepared = preparing.prepare_rows(str(paths.keys_dir), [(1, preparing.field_values(bad)),
                                                            (2, preparing.field_values(good))])
    assert list(prepared) == [2] and prepared[2].items


def test_a_record_crosses_to_the_preparing_process_whole(paths: Paths) -> None:
    """Its field values make the same record again there: the 查询密码 and the extra columns included."""
    record = replace(_record(generate_valid(paths, 1)[0]), password="a1b2c3", extra={"BZ": "备注"})
    again = RetirementRecord(*pickle.loads(pickle.dumps(preparing.field_values(record))))
    assert again == record and again.password == "a1b2c3" and again.extra == {"BZ": "备注"}


def test_the_preparing_process_is_handed_at_most_ahead_chunks_at_a_time(paths: Paths) -> None:
    """Chunks queued beyond `ahead` wait here as rows (their results would wait in staging's process) until an
    earlier one is asked for; each comes back prepared, in turn."""
    records = [_record(a) for a in generate_valid(paths, 10)]
    rows = [SourceRow(seq, {}) for seq in range(1, 11)]
    with preparing.Preparer(paths.keys_dir, offload_rows=1, ahead=2) as preparer:
        tickets = [preparer.submit(rows[at:at + 2], records[at:at + 2], 10) for at in range(0, 10, 2)]
        assert [t is not None and t.answer is not None for t in tickets] == [True, True, False, False, False]
        for n, ticket in enumerate(tickets):
            assert sorted(preparer.result(ticket)) == [2 * n + 1, 2 * n + 2]
            later = [t is not None and t.answer is not None for t in tickets[n + 1:]]
            assert sum(later) == min(2, len(later)) and later[:2] == [True] * min(2, len(later))


def test_a_chunk_asked_for_out_of_turn_is_prepared_at_once(paths: Paths) -> None:
    records = [_record(a) for a in generate_valid(paths, 6)]
    rows = [SourceRow(seq, {}) for seq in range(1, 7)]
    with preparing.Preparer(paths.keys_dir, offload_rows=1, ahead=1) as preparer:
        first, second, third = (preparer.submit(rows[at:at + 2], records[at:at + 2], 6) for at in range(0, 6, 2))
        assert sorted(preparer.result(third)) == [5, 6]
        assert sorted(preparer.result(first)) == [1, 2] and sorted(preparer.result(second)) == [3, 4]
