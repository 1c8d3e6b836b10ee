"""The batch envelope: round trip in both suites, and every tampering, key, time and replay refusal."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lianban.crypto.batch import (
    REFUSALS,
    BatchOpener,
    OpenedBatch,
    ReplayCache,
    SealedBatch,
    is_batch_refusal,
    seal_batch,
)
from lianban.crypto.suites import KeyPair, Suite, get_suite
from lianban.errors import RejectedError, RetriableError

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
NAME, ID_NUMBER = "张秀英", "341602196507120024"
ITEMS: list[tuple[str, dict[str, Any]]] = [("idem-1|BZTX202507000001|11", {"name": NAME, "id_number": ID_NUMBER}),
         ("idem-2|BZTX202507000001|12", {"name": NAME, "pension_start": "2025-07"}),
         ("idem-3|BZTX202507000002|11", {"name": "李建国", "contribution_months": 372})]


class Env:
    """One suite's keys: the hub's signing key, the department's current and an unrelated recipient key."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.hub = suite.generate_signing_key()
        self.dept = suite.generate_recipient_key()
        self.stranger = suite.generate_recipient_key()

    def seal(self, items: list[tuple[str, dict[str, Any]]] = ITEMS, recipient: KeyPair | None = None,
             **kw: Any) -> SealedBatch:
        public = (recipient or self.dept).public
        return seal_batch(self.suite, "dept-2025", public, "hub-2025", self.hub.private, "公积金中心", items,
                          now=kw.pop("now", NOW), **kw)

    def opener(self, clock: datetime = NOW, recipient: dict[str, bytes] | None = None,
               signers: dict[str, bytes] | None = None) -> BatchOpener:
        return BatchOpener(self.suite, {"dept-2025": self.dept.private} if recipient is None else recipient,
                           {"hub-2025": self.hub.public} if signers is None else signers, clock=lambda: clock)


@pytest.fixture(scope="module", params=["SM", "NIST"])
def env(request: pytest.FixtureRequest) -> Env:
    return Env(get_suite(request.param))


@pytest.fixture(scope="module")
def opened(env: Env) -> tuple[OpenedBatch, list[dict[str, Any]]]:
    batch = env.seal()
    return env.opener().open_header(batch.header), batch.envelopes


def _refused(code: str, call: Callable[[], object]) -> RejectedError:
    with pytest.raises(RejectedError) as caught:
        call()
    assert caught.value.code == code, str(caught.value)
    assert caught.value.reason == REFUSALS[code].reason
    return caught.value


def test_a_batch_round_trips_and_carries_no_plaintext(env: Env) -> None:
    batch = env.seal(batch_id="b-1")
    header = batch.header
    assert header["v"] == 2 and header["suite"] == env.suite.name and header["count"] == len(ITEMS)
    assert header["created_at"] == "2025-06-02T09:00:00+00:00" and header["batch_id"] == "b-1"
    assert len({e["nonce"] for e in batch.envelopes}) == len(ITEMS)
    wire = json.dumps(batch, ensure_ascii=False)
    assert NAME not in wire and ID_NUMBER not in wire
    payloads = env.opener().open_header(header).open_all(batch.envelopes, [aad for aad, _ in ITEMS])
    assert payloads == [p for _, p in ITEMS]


def test_payloads_passed_on_as_their_compact_json_open_as_the_same_payloads(env: Env) -> None:
    encoded = [(aad, json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode()) for aad, p in ITEMS]
    batch = seal_batch(env.suite, "dept-2025", env.dept.public, "hub-2025", env.hub.private, "公积金中心", encoded,
                       now=NOW)
    wire = json.dumps(batch, ensure_ascii=False)
    assert NAME not in wire and ID_NUMBER not in wire
    payloads = env.opener().open_header(batch.header).open_all(batch.envelopes, [aad for aad, _ in ITEMS])
    assert payloads == [p for _, p in ITEMS]


@pytest.mark.parametrize("plaintext", [b"[1, 2]", b"NaN", b'{"amount": Infinity}', b'{"name": "x"', b"\xff\xfe",
                                       "{\"name\": \"张\"}".encode("utf-16")])
def test_an_item_sealed_soundly_whose_payload_is_not_a_json_object_is_refused_seal(env: Env, plaintext: bytes) -> None:
    aad = ITEMS[0][0]
    batch = seal_batch(env.suite, "dept-2025", env.dept.public, "hub-2025", env.hub.private, "公积金中心",
                       [(aad, plaintext)], now=NOW)
    opened = env.opener().open_header(batch.header)
    opened.verify_items(batch.envelopes)  # the seal and the tree are sound: only what it holds is wrong
    _refused("SEAL", lambda: opened.open_item(batch.envelopes[0], expect_aad=aad))


def test_an_empty_batch_is_well_defined(env: Env) -> None:
    batch = env.seal(items=[])
    opened = env.opener().open_header(batch.header)
    assert batch.header["count"] == 0 and opened.open_all([]) == []


def _flip(text: str) -> str:
    return ("B" if text[0] == "A" else "A") + text[1:]


HEADER_TAMPERING: list[tuple[str, Callable[[Any], Any], str]] = [
    ("v", lambda v: 3, "FORMAT"),
    ("count", lambda c: c + 1, "SIG"),
    ("count", str, "FORMAT"),
    ("suite", _flip, "SUITE"),
    *((field, _flip, "SIG") for field in ("batch_id", "department", "created_at", "nonce", "recipient_kid",
                                          "wrapped_key", "root", "signer_kid", "signature")),
]


@pytest.mark.parametrize(("field", "change", "code"), HEADER_TAMPERING, ids=lambda x: x if isinstance(x, str) else "")
def test_tampering_with_any_header_field_is_refused(env: Env, field: str, change: Callable[[Any], Any],
                                                    code: str) -> None:
    header = env.seal().header
    _refused(code, lambda: env.opener().open_header({**header, field: change(header[field])}))


def test_a_header_with_a_missing_or_extra_field_is_malformed(env: Env) -> None:
    header = env.seal().header
    _refused("FORMAT", lambda: env.opener().open_header({k: v for k, v in header.items() if k != "root"}))
    _refused("FORMAT", lambda: env.opener().open_header({**header, "note": "x"}))


def test_text_that_is_not_valid_unicode_is_malformed(env: Env,
                                                     opened: tuple[OpenedBatch, list[dict[str, Any]]]) -> None:
    header = env.seal().header
    _refused("FORMAT", lambda: env.opener().open_header({**header, "department": "\ud800"}))
    batch, envelopes = opened
    _refused("FORMAT", lambda: batch.verify_items([_with(envelopes[0], aad="\ud800"), *envelopes[1:]]))
    _refused("FORMAT", lambda: batch.open_item(_with(envelopes[0], aad=7)))


def test_a_batch_sealed_with_another_suite_is_refused(env: Env) -> None:
    other = get_suite("NIST" if env.suite.name == "SM" else "SM")
    header = env.seal().header
    _refused("SUITE", lambda: BatchOpener(other, {}, {}).open_header(header))


def test_a_batch_wrapped_for_another_key_is_refused(env: Env) -> None:
    header = env.seal(recipient=env.stranger).header
    _refused("KEY", lambda: env.opener().open_header(header))


def test_a_batch_addressed_to_another_department_is_refused_for_that(env: Env) -> None:
    """Sealed with this receiver's key but naming another department in its signed header: refused as DEPT
    before its key is tried (it used to be opened, or refused later only as KEY when wrapped for the other)."""
    header = env.seal().header
    opener = BatchOpener(env.suite, {"dept-2025": env.dept.private}, {"hub-2025": env.hub.public},
                         clock=lambda: NOW, department="医保局")
    refused = _refused("DEPT", lambda: opener.open_header(header))
    assert "公积金中心" in str(refused) and "医保局" in str(refused)
    assert BatchOpener(env.suite, {"dept-2025": env.dept.private}, {"hub-2025": env.hub.public},
                       clock=lambda: NOW, department="公积金中心").open_header(header).department == "公积金中心"
    _refused("DEPT", lambda: BatchOpener(env.suite, {}, {"hub-2025": env.hub.public}, clock=lambda: NOW,
                                         department="医保局").open_header(env.seal(recipient=env.stranger).header))
    assert is_batch_refusal("BATCH_DEPT") and is_batch_refusal("E_BATCH_DEPT")  # the hub re-seals it, alerted


def test_a_retired_recipient_or_signer_key_id_is_refused(env: Env) -> None:
    header = env.seal().header
    _refused("KEY", lambda: env.opener(recipient={"dept-2026": env.dept.private}).open_header(header))
    _refused("SIG", lambda: env.opener(signers={"hub-2026": env.hub.public}).open_header(header))


def test_a_signature_by_another_key_under_a_known_kid_is_refused(env: Env) -> None:
    header = env.seal().header
    impostor = env.suite.generate_signing_key()
    _refused("SIG", lambda: env.opener(signers={"hub-2025": impostor.public}).open_header(header))


@pytest.mark.parametrize("skew", [301, -301])
def test_a_batch_outside_the_clock_window_is_stale(env: Env, skew: int) -> None:
    header = env.seal().header
    _refused("STALE", lambda: env.opener(clock=NOW + timedelta(seconds=skew)).open_header(header))


def test_a_batch_inside_the_clock_window_opens(env: Env) -> None:
    header = env.seal().header
    assert env.opener(clock=NOW + timedelta(seconds=299)).open_header(header).batch_id == header["batch_id"]


def test_a_replayed_batch_is_refused_unless_the_caller_answers_repeats_idempotently(env: Env) -> None:
    batch, opener = env.seal(batch_id="b-7"), env.opener()
    assert not opener.open_header(batch.header).repeat
    _refused("REPLAY", lambda: opener.open_header(batch.header))
    again = opener.open_header(batch.header, allow_repeat=True)
    assert again.repeat and again.open_all(batch.envelopes) == [p for _, p in ITEMS]
    resealed = env.seal(batch_id="b-7", now=NOW + timedelta(seconds=30))
    assert not opener.open_header(resealed.header).repeat


def _with(envelope: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**envelope, **changes}


def _flip_b64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


ITEM_TAMPERING: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ct": lambda e: _with(e, ct=_flip_b64(e["ct"])),
    "nonce": lambda e: _with(e, nonce=_flip_b64(e["nonce"])),
    "aad": lambda e: _with(e, aad=e["aad"] + "x"),
    "batch_id": lambda e: _with(e, batch_id="another"),
}


@pytest.mark.parametrize("field", ITEM_TAMPERING)
def test_a_tampered_item_does_not_open_and_breaks_the_root(opened: tuple[OpenedBatch, list[dict[str, Any]]],
                                                           field: str) -> None:
    batch, envelopes = opened
    bad = ITEM_TAMPERING[field](envelopes[1])
    _refused("SEAL", lambda: batch.open_item(bad))
    _refused("ROOT", lambda: batch.verify_items([envelopes[0], bad, envelopes[2]]))


def test_removed_added_or_reordered_items_break_the_root(opened: tuple[OpenedBatch, list[dict[str, Any]]],
                                                         env: Env) -> None:
    batch, (a, b, c) = opened
    foreign = env.seal(batch_id=batch.batch_id).envelopes[0]
    for envelopes in ([a, b], [a, b, c, c], [b, a, c], [a, b, foreign], [a, b, c, foreign]):
        _refused("ROOT", functools.partial(batch.verify_items, envelopes))
    batch.verify_items([a, b, c])


@pytest.mark.parametrize("field", ITEM_TAMPERING)
def test_after_the_items_are_verified_each_opens_and_only_those_verified_skip_reading(
        opened: tuple[OpenedBatch, list[dict[str, Any]]], field: str) -> None:
    """What verify_items read is reused for the very envelopes it read; a tampered copy of one is read, and
    refused, afresh."""
    batch, envelopes = opened
    batch.verify_items(envelopes)
    assert [batch.open_item(e, aad) for e, (aad, _) in zip(envelopes, ITEMS, strict=True)] == \
        [payload for _, payload in ITEMS]
    _refused("SEAL", lambda: batch.open_item(ITEM_TAMPERING[field](envelopes[1])))
    _refused("SEAL", lambda: batch.open_item(envelopes[1], ITEMS[0][0]))


def test_an_item_bound_to_another_delivery_is_refused(opened: tuple[OpenedBatch, list[dict[str, Any]]]) -> None:
    batch, envelopes = opened
    assert batch.open_item(envelopes[0], ITEMS[0][0]) == ITEMS[0][1]
    _refused("SEAL", lambda: batch.open_item(envelopes[0], ITEMS[1][0]))
    _refused("SEAL", lambda: batch.open_all(envelopes, [ITEMS[1][0], ITEMS[0][0], ITEMS[2][0]]))


def test_a_malformed_item_envelope_is_refused(opened: tuple[OpenedBatch, list[dict[str, Any]]]) -> None:
    batch, envelopes = opened
    _refused("FORMAT", lambda: batch.open_item({k: v for k, v in envelopes[0].items() if k != "aad"}))
    _refused("FORMAT", lambda: batch.open_item(_with(envelopes[0], ct="not base64!")))
    _refused("FORMAT", lambda: batch.verify_items([_with(envelopes[0], v=1), *envelopes[1:]]))


def test_refusals_never_show_keys_or_payloads(env: Env) -> None:
    header = env.seal(recipient=env.stranger).header
    error = _refused("KEY", lambda: env.opener().open_header(header))
    secrets = [base64.b64encode(env.dept.private).decode(), env.dept.private.hex(), header["wrapped_key"]]
    assert not any(s in str(error) for s in secrets)
    assert all(reason and not reason.isascii() for _, reason in REFUSALS.values())


def test_the_replay_cache_forgets_only_what_would_be_stale_and_never_overflows() -> None:
    cache = ReplayCache(capacity=2)
    cache.remember(("b1", "n1"), expires_at=100.0, now=0.0)
    cache.remember(("b2", "n2"), expires_at=200.0, now=0.0)
    assert cache.seen(("b1", "n1"), now=50.0)
    with pytest.raises(RetriableError) as full:
        cache.remember(("b3", "n3"), expires_at=300.0, now=50.0)
    assert full.value.retry_after == 50.0
    cache.remember(("b3", "n3"), expires_at=300.0, now=150.0)
    assert not cache.seen(("b1", "n1"), now=150.0) and cache.seen(("b2", "n2"), now=150.0) and len(cache) == 2
