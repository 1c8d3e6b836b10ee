"""Per-batch envelopes end to end: departments refuse tampered, forged, stale or retired-key batches with
a clear reason, and the hub refuses answers it cannot verify."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import select

from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_connector
from lianban.errors import RejectedError, RetriableError
from lianban.keys import keysets
from lianban.keys.names import names_for
from lianban.ledger.db import session_factory
from lianban.ledger.models import CaseItem, Delivery
from lianban.pipeline.sealer import BatchSealer, Outgoing
from lianban.pipeline.stage import stage
from lianban.wire.signatures import SignatureAlert
from simulators.runner import department_opener

DEPARTMENTS = ("medical", "health", "housing_fund")


def _rows(paths: Paths, department: str) -> list[Outgoing]:
    with session_factory(paths.ledger_url)() as s:
        query = select(Delivery, CaseItem).join(CaseItem, Delivery.case_item_id == CaseItem.id) \
            .where(Delivery.department == department).limit(4)
        return [Outgoing(d.idempotency_key, i.case.case_no, i.item_code, d.envelope) for d, i in s.execute(query)]


def _submit(department: str, seal: dict[str, Any], deliveries: list[Any]) -> Any:
    connector = load_connector(department, department_settings(department), Paths.from_env().keys_dir)
    return connector.submit(deliveries, seal)


@pytest.fixture
def staged(seeded: Any, paths: Paths) -> Paths:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    return paths


@pytest.mark.parametrize("department", DEPARTMENTS)
def test_a_proper_batch_is_taken(staged: Paths, simulation: Any, department: str) -> None:
    sealed = BatchSealer.load(staged.keys_dir, department).seal(_rows(staged, department))
    receipts = _submit(department, sealed.seal, sealed.deliveries)
    assert [r.accepted for r in receipts] == [True] * len(sealed.deliveries)


@pytest.mark.parametrize("department", DEPARTMENTS)
def test_a_tampered_item_makes_the_department_refuse_the_batch(staged: Paths, simulation: Any,
                                                                department: str) -> None:
    sealed = BatchSealer.load(staged.keys_dir, department).seal(_rows(staged, department))
    first = sealed.deliveries[0]
    ct = bytearray(base64.b64decode(first.envelope["ct"]))
    ct[0] ^= 1
    first.envelope["ct"] = base64.b64encode(bytes(ct)).decode()
    with pytest.raises(RejectedError) as refused:
        _submit(department, sealed.seal, sealed.deliveries)
    assert "ROOT" in refused.value.code and refused.value.reason
    assert simulation.engines[department].stats()["unique"] == 0


@pytest.mark.parametrize("department", DEPARTMENTS)
def test_a_forged_signature_is_refused(staged: Paths, simulation: Any, department: str) -> None:
    sealed = BatchSealer.load(staged.keys_dir, department).seal(_rows(staged, department))
    seal = {**sealed.seal, "count": sealed.seal["count"] + 1}  # any edit breaks the hub's signature
    with pytest.raises(RejectedError) as refused:
        _submit(department, seal, sealed.deliveries)
    assert "SIG" in refused.value.code


def test_a_batch_for_a_retired_key_is_refused(staged: Paths, simulation: Any) -> None:
    old = BatchSealer.load(staged.keys_dir, "health").seal(_rows(staged, "health"))
    recipient = names_for("health")[0]
    retired = keysets.load(staged.keys_dir, recipient).active
    keysets.rotate(staged.keys_dir, recipient)
    keysets.retire(staged.keys_dir, recipient, retired)
    simulation.engines["health"].opener = department_opener(staged.keys_dir, "health")
    with pytest.raises(RejectedError) as refused:
        _submit("health", old.seal, old.deliveries)
    assert "KEY" in refused.value.code
    fresh = BatchSealer.load(staged.keys_dir, "health").seal(_rows(staged, "health"))  # new key: taken
    assert all(r.accepted for r in _submit("health", fresh.seal, fresh.deliveries))


def test_the_same_sealed_batch_twice_is_a_replay(staged: Paths, simulation: Any) -> None:
    sealed = BatchSealer.load(staged.keys_dir, "housing_fund").seal(_rows(staged, "housing_fund"))
    _submit("housing_fund", sealed.seal, sealed.deliveries)
    with pytest.raises(RejectedError) as refused:
        _submit("housing_fund", sealed.seal, sealed.deliveries)
    assert "REPLAY" in refused.value.code


def test_the_hub_refuses_answers_signed_with_a_retired_key(staged: Paths, simulation: Any) -> None:
    signing = names_for("health")[1]
    retired = keysets.load(staged.keys_dir, signing).active
    keysets.rotate(staged.keys_dir, signing)  # the hub learns the new key and retires the old one,
    keysets.retire(staged.keys_dir, signing, retired)  # but the department still signs with it
    sealed = BatchSealer.load(staged.keys_dir, "health").seal(_rows(staged, "health"))
    with pytest.raises(SignatureAlert) as alert:
        _submit("health", sealed.seal, sealed.deliveries)
    assert isinstance(alert.value, RetriableError) and "已停用" in str(alert.value)
