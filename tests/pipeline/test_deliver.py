"""Deliver: batches reach real department servers once; outages leave work pending; retries end in dead letters."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.domain.schemas import schema_path
from lianban.errors import ConfigError
from lianban.keys.names import names_for
from lianban.ledger.db import session_factory
from lianban.ledger.models import Delivery
from lianban.ledger.store import DeliveryState, utcnow
from lianban.pipeline import deliver as deliver_mod
from lianban.pipeline.deliver import deliver
from lianban.pipeline.stage import stage
from lianban.wire.settings import parse_connection

DEPARTMENTS = ("medical", "health", "housing_fund")


def _connector(department: str) -> Any:
    return load_department(department, department_settings(department), Paths.from_env().keys_dir)


def _states(url: str, department: str) -> dict[str, int]:
    with session_factory(url)() as s:
        states = [d.state for d in s.scalars(select(Delivery).where(Delivery.department == department))]
    return {state: states.count(state) for state in set(states)}


def _down(department: str) -> Any:
    """The department's connector pointed at a port nobody listens on."""
    settings = department_settings(department)
    conn = json.loads(json.dumps({"host": "127.0.0.1", "port": 9, "schema": "http", "login": settings.login,
                                  "password": settings.password,
                                  "extra": {"connect_timeout": 1, "read_timeout": 2,
                                            "wsdl": str(schema_path("medical", "medical.wsdl"))}}))
    return load_department(department, parse_connection(department, json.dumps(conn)), Paths.from_env().keys_dir)


@pytest.mark.parametrize("department", DEPARTMENTS)
def test_every_delivery_arrives_once(seeded: Any, paths: Paths, simulation: Any, department: str,
                                    ledger_url: str) -> None:
    """On SQLite and on PostgreSQL."""
    staged = stage(seeded[0], ledger_url, paths.keys_dir)
    assert staged.deliveries
    result = deliver(_connector(department), ledger_url, batch_size=7, keys_dir=paths.keys_dir)
    expected = _states(ledger_url, department)
    assert expected == {DeliveryState.ACCEPTED: result.accepted}
    assert simulation.engines[department].stats() == {"unique": result.accepted, "duplicates": 0, "rejected": 0,
                                                      "refused_batches": 0}
    again = deliver(_connector(department), ledger_url, batch_size=7, keys_dir=paths.keys_dir)
    assert again.sent == 0


def test_department_down_leaves_everything_pending(seeded: Any, paths: Paths, simulation: Any) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    total = sum(_states(paths.ledger_url, "health").values())
    down = deliver(_down("health"), paths.ledger_url, batch_size=50, keys_dir=paths.keys_dir)
    assert down.retrying == total and down.stopped_by
    assert _states(paths.ledger_url, "health") == {DeliveryState.RETRY: total}
    with session_factory(paths.ledger_url).begin() as s:  # the back-off has passed
        s.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    back = deliver(_connector("health"), paths.ledger_url, batch_size=50, keys_dir=paths.keys_dir)
    assert back.accepted == total
    assert simulation.engines["health"].stats()["unique"] == total


def test_a_run_sends_until_its_time_budget_is_spent_and_the_next_run_goes_on(seeded: Any, paths: Paths,
                                                                             simulation: Any) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    total = sum(_states(paths.ledger_url, "housing_fund").values())
    first = deliver(_connector("housing_fund"), paths.ledger_url, batch_size=2, keys_dir=paths.keys_dir, budget=0)
    assert first.accepted == 2 < total and "时间预算" in str(first.stopped_by)  # one batch, then the budget ends
    rest = deliver(_connector("housing_fund"), paths.ledger_url, batch_size=2, keys_dir=paths.keys_dir)
    assert rest.accepted == total - 2 and rest.stopped_by is None
    assert simulation.engines["housing_fund"].stats()["unique"] == total


def test_lost_answers_are_resent_and_recognised(seeded: Any, paths: Paths, simulation: Any) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    first = deliver(_connector("housing_fund"), paths.ledger_url, batch_size=50, keys_dir=paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:  # as if every answer had been lost, the lease over
        s.execute(update(Delivery).values(state=DeliveryState.PENDING, next_attempt_at=utcnow()))
    second = deliver(_connector("housing_fund"), paths.ledger_url, batch_size=50, keys_dir=paths.keys_dir)
    assert second.duplicates == first.accepted
    stats = simulation.engines["housing_fund"].stats()
    assert (stats["unique"], stats["duplicates"]) == (first.accepted, first.accepted)


def test_retries_end_in_dead_letters(seeded: Any, paths: Paths, simulation: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliver_mod, "BASE_BACKOFF_SECONDS", 0)
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    total = sum(_states(paths.ledger_url, "medical").values())
    for _ in range(deliver_mod.MAX_ATTEMPTS):
        deliver(_down("medical"), paths.ledger_url, batch_size=500, keys_dir=paths.keys_dir)
    assert _states(paths.ledger_url, "medical") == {DeliveryState.DEAD: total}
    with session_factory(paths.ledger_url)() as s:
        errors = {d.last_error for d in s.scalars(select(Delivery).where(Delivery.department == "medical"))}
    assert all(e and "dept_medical" in e for e in errors)


def test_unreadable_at_rest_payload_is_dead_lettered_not_sent(seeded: Any, paths: Paths, simulation: Any) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        row = s.scalars(select(Delivery).where(Delivery.department == "health")).first()
        assert row is not None
        envelope = json.loads(row.envelope)
        envelope["aad"] = "someone-else|BZ0|13"
        row.envelope = json.dumps(envelope)
        key = row.idempotency_key
    result = deliver(_connector("health"), paths.ledger_url, 50, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        dead = s.scalars(select(Delivery).where(Delivery.idempotency_key == key)).one()
    assert dead.state == DeliveryState.DEAD and "台账密文无法解密" in (dead.last_error or "")
    assert result.dead == 1 and simulation.engines["health"].stats()["unique"] == result.accepted


def test_at_rest_envelopes_that_are_no_object_are_dead_lettered_and_the_rest_of_the_batch_delivered(
        seeded: Any, paths: Paths, simulation: Any) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    damaged = ["null", "3", '["aad", "kid"]', '["v", "kid", "aad", "alg", "nonce", "ct"]']
    with session_factory(paths.ledger_url).begin() as s:
        rows = list(s.scalars(select(Delivery).where(Delivery.department == "health").order_by(Delivery.id)))
        for row, stored in zip(rows, damaged, strict=False):
            row.envelope = stored
        keys, total = [r.idempotency_key for r in rows[:len(damaged)]], len(rows)
    result = deliver(_connector("health"), paths.ledger_url, 50, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        dead = list(s.scalars(select(Delivery).where(Delivery.idempotency_key.in_(keys))))
    assert {d.state for d in dead} == {DeliveryState.DEAD} and len(dead) == len(damaged)
    assert all("台账密文无法解密" in (d.last_error or "") for d in dead)
    assert (result.dead, result.accepted) == (len(damaged), total - len(damaged)) and result.stopped_by is None
    assert simulation.engines["health"].stats()["unique"] == total - len(damaged)


def test_dead_letters_can_be_listed_and_requeued_without_duplicates(seeded: Any, paths: Paths, simulation: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from lianban.pipeline.dead_letters import list_dead, requeue

    monkeypatch.setattr(deliver_mod, "BASE_BACKOFF_SECONDS", 0)
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    total = sum(_states(paths.ledger_url, "health").values())
    for _ in range(deliver_mod.MAX_ATTEMPTS):
        deliver(_down("health"), paths.ledger_url, batch_size=500, keys_dir=paths.keys_dir)
    dead = list_dead(paths.ledger_url, "health")
    assert len(dead) == total and all(d.case_no and d.last_error for d in dead)
    assert requeue(paths.ledger_url, key=dead[0].idempotency_key) == 1  # one delivery by its key
    assert len(list_dead(paths.ledger_url, "health")) == total - 1
    with pytest.raises(ConfigError, match="没有编号为"):
        requeue(paths.ledger_url, key=dead[0].idempotency_key)  # not dead any more
    monkeypatch.setattr("lianban.pipeline.dead_letters.REQUEUE_CHUNK", 3)  # many short transactions, told each
    told: list[tuple[int, int]] = []
    assert requeue(paths.ledger_url, "health", progress=lambda d, t: told.append((d, t))) == total - 1
    assert told[-1] == (total - 1, total - 1) and len(told) == -(-(total - 1) // 3)
    back = deliver(_connector("health"), paths.ledger_url, batch_size=500, keys_dir=paths.keys_dir)
    assert back.accepted == total and list_dead(paths.ledger_url, "health") == []
    assert simulation.engines["health"].stats()["unique"] == total


def test_a_batch_refused_whole_is_retried_not_dropped(seeded: Any, paths: Paths, simulation: Any) -> None:
    from lianban.keys import keysets

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    recipient = names_for("housing_fund")[0]
    keysets.rotate(paths.keys_dir, recipient)  # the hub seals for the new key the department does not know yet
    refused = deliver(_connector("housing_fund"), paths.ledger_url, batch_size=500, keys_dir=paths.keys_dir)
    assert refused.accepted == 0 and refused.retrying > 0 and "KEY" in (refused.stopped_by or "")
    assert set(_states(paths.ledger_url, "housing_fund")) == {DeliveryState.RETRY}
    from simulators.runner import department_opener

    simulation.engines["housing_fund"].opener = department_opener(paths.keys_dir, "housing_fund")  # it learns it
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    back = deliver(_connector("housing_fund"), paths.ledger_url, batch_size=500, keys_dir=paths.keys_dir)
    assert back.accepted == refused.retrying


def test_evidence_records_every_message_with_both_signatures(seeded: Any, paths: Paths, simulation: Any) -> None:
    from lianban.keys import keysets
    from lianban.ledger import evidence
    from lianban.ledger.models import Evidence

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    deliver(_connector("medical"), paths.ledger_url, batch_size=500, keys_dir=paths.keys_dir)
    deliver(_down("health"), paths.ledger_url, batch_size=500, keys_dir=paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        rows = list(s.scalars(select(Evidence).order_by(Evidence.id)))
        assert evidence.verify_ledger(s, paths.keys_dir).ok
    medical_kid = keysets.load(paths.keys_dir, "medical-signing", public_only=True).active
    by = {(r.department, r.direction): r for r in rows}
    assert by[("medical", "out")].key_id.startswith("hub-signing") and by[("medical", "out")].signature
    assert by[("medical", "in")].key_id == medical_kid and "sig=" in (by[("medical", "in")].signature or "")
    assert ("health", "out") in by and ("health", "in") not in by  # a failed send is evidence too


def test_a_sent_batchs_evidence_digest_is_rebuilt_from_what_went_out(seeded: Any, paths: Paths,
                                                                    simulation: Any) -> None:
    """The digest of a batch sent is the SM3 of its canonical JSON (header and items, every field under its name,
    keys sorted, compact): anyone holding what went out rebuilds it without Python's own renderings."""
    from lianban.crypto.hashing import sm3_hex
    from lianban.ledger.models import Evidence

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    peer, sent = _connector("medical"), []
    submit = peer.connector.submit

    def kept(batch: Any, seal: Any) -> Any:
        sent.append({"seal": dict(seal), "items": [{"idempotency_key": i.idempotency_key, "case_no": i.case_no,
                                                     "item_code": i.item_code, "envelope": dict(i.envelope)}
                                                    for i in batch]})
        return submit(batch, seal)

    peer.connector.submit = kept
    deliver(peer, paths.ledger_url, batch_size=7, keys_dir=paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        digests = list(s.scalars(select(Evidence.digest).where(Evidence.kind == "submit").order_by(Evidence.id)))
    rebuilt = [sm3_hex(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
               for body in sent]
    assert len(sent) > 1 and digests == rebuilt


def test_a_vault_rotated_after_staging_still_delivers_what_its_older_key_sealed(
        seeded: Any, paths: Paths, simulation: Any) -> None:
    """The keys check needs one due row sealed under a key of the folder: the older key, kept in the ring."""
    from lianban.keys.names import VAULT
    from lianban.keys.rings import rotate_ring

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    before = _states(paths.ledger_url, "health")[DeliveryState.PENDING]
    rotate_ring(paths.keys_dir, VAULT)  # a new active key; the one the outbox was sealed with still opens
    result = deliver(_connector("health"), paths.ledger_url, batch_size=50, keys_dir=paths.keys_dir)
    assert result.accepted == before and _states(paths.ledger_url, "health") == {DeliveryState.ACCEPTED: before}


def test_a_keys_folder_from_another_installation_refuses_to_run_and_touches_nothing(
        seeded: Any, paths: Paths, simulation: Any, tmp_path: Any) -> None:
    import shutil

    from lianban.keys.provision import ensure_keys

    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    other = tmp_path / "other-keys"
    ensure_keys(other)  # another installation: same department keys copied, its own vault
    for name in ("health-recipient.pub.json", "health-signing.pub.json"):
        shutil.copy(paths.keys_dir / name, other / name)
    before = _states(paths.ledger_url, "health")
    peer = load_department("health", department_settings("health"), other)
    with pytest.raises(ConfigError, match="密钥目录与台账不符"):
        deliver(peer, paths.ledger_url, batch_size=50, keys_dir=other)
    assert _states(paths.ledger_url, "health") == before == {DeliveryState.PENDING: before[DeliveryState.PENDING]}
    assert simulation.engines["health"].stats()["unique"] == 0
