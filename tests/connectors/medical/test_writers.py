"""The SubmitBatch writer (connectors.medical.writers) writes what zeep's serialiser writes, byte for byte, and
refuses what it refuses in the same words."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import zeep
from lxml import etree

from connectors.medical import writers
from connectors.medical.connector import MedicalConnector, json_text
from lianban.app.registry import load_connector

MedicalSim = Any  # tests/connectors/medical/conftest.py:MedicalSim
BatchMaker = Any
WSDL = "schemas/medical/medical.wsdl"
TRICKY = "中文<>&\"' \t\n\r]]>{}:,\\"


@pytest.fixture(scope="module")
def operation() -> Any:
    return zeep.Client(WSDL).service._binding.get("SubmitBatch")


def _zeeps(operation: Any, **kwargs: Any) -> Any:
    """zeep's own serialiser, whatever the operation was given."""
    return type(operation.input).serialize(operation.input, **kwargs)


def _ours(operation: Any, **kwargs: Any) -> Any:
    return writers.submit_batch(operation.soapaction, **kwargs)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("ABC012-_" + TRICKY) for _ in range(rng.randint(0, 40)))


def test_random_batches_are_written_as_zeep_writes_them(operation: Any) -> None:
    rng = random.Random(20261203)
    for _ in range(150):
        items = [{name: _word(rng) for name in writers.ITEM_ELEMENTS} for _ in range(rng.randint(1, 25))]
        call = {"batchId": _word(rng), "seal": _word(rng), "item": items}
        zeeps, ours = _zeeps(operation, **call), _ours(operation, **call)
        assert etree.tostring(ours.content) == etree.tostring(zeeps.content)
        assert (ours.headers, ours.path) == (zeeps.headers, zeeps.path)


def test_values_that_are_not_text_are_written_as_zeep_writes_them(operation: Any) -> None:
    item = {"idempotencyKey": 7, "caseNo": b"\xe4\xb8\xad", "itemCode": 12.5, "envelope": True}
    call = {"batchId": 1, "seal": b"{}", "item": [item]}
    assert etree.tostring(_ours(operation, **call).content) == etree.tostring(_zeeps(operation, **call).content)


def _refusal(write: Any, operation: Any, **call: Any) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as caught:
        write(operation, **call)
    return caught.type, str(caught.value)


ITEM = {"idempotencyKey": "LB-1", "caseNo": "C-1", "itemCode": "12", "envelope": "{}"}


@pytest.mark.parametrize("call", [
    {"batchId": "b", "seal": "s", "item": []},
    {"batchId": "b", "seal": "s", "item": [ITEM] * (writers.MAX_ITEMS + 1)},
    {"batchId": "b", "seal": "s", "item": [{**ITEM, "envelope": None}]},
    {"batchId": "b", "seal": "s", "item": [{k: v for k, v in ITEM.items() if k != "caseNo"}]},
    {"batchId": "b", "seal": "s", "item": [{**ITEM, "surprise": "1"}]},
    {"batchId": None, "seal": "s", "item": [ITEM]},
    {"batchId": "b", "seal": None, "item": [ITEM]},
    {"batchId": "b", "seal": "s", "item": [ITEM, {**ITEM, "caseNo": "C-\x01"}]},
    {"batchId": "b\x00", "seal": "s", "item": [ITEM]},
], ids=["empty", "too-long", "none", "missing", "unknown", "no-batch-id", "no-seal", "control", "nul"])
def test_what_zeep_refuses_is_refused_in_its_words(operation: Any, call: dict[str, Any]) -> None:
    assert _refusal(_ours, operation, **call) == _refusal(_zeeps, operation, **call)


def test_a_call_in_another_shape_goes_to_zeep(operation: Any) -> None:
    client = zeep.Client(WSDL)
    binding = client.service._binding
    writers.install(binding)
    installed = binding.get("SubmitBatch")
    call = {"batchId": "b", "seal": "s", "item": [ITEM], "_soapheaders": []}
    assert etree.tostring(installed.create(**call).content) == \
        etree.tostring(_zeeps(installed, **call).content)  # zeep's, not ours (which takes no headers)
    with pytest.raises(TypeError):
        installed.create("b", "s", [ITEM], "surplus")  # positional: zeep's own words for a wrong call
    single = installed.create(batchId="b", seal="s", item=ITEM)  # one item as a dict: zeep reads it
    assert etree.tostring(single.content) == etree.tostring(_zeeps(installed, batchId="b", seal="s",
                                                                   item=ITEM).content)


def test_the_bureau_takes_a_batch_the_writer_wrote(medical_sim: MedicalSim, make_batch: BatchMaker) -> None:
    """Through a real connector (WS-Security and all) to the simulated bureau: the bytes on the wire are the
    writer's, and every item is answered."""
    connector = load_connector("medical", medical_sim.settings(), keys_dir=medical_sim.keys_dir)
    assert isinstance(connector, MedicalConnector)
    binding = connector._service()._binding
    assert binding.get("SubmitBatch").input.serialize.__qualname__.startswith("_writer")
    batch = make_batch(range(30), "12")
    receipts = connector.submit(batch.deliveries, batch.seal)
    assert [r.idempotency_key for r in receipts] == batch.keys
    assert all(r.accepted for r in receipts)
    resealed = make_batch.reseal(batch)  # sent again, sealed afresh as a retry is: answered duplicate
    again = connector.submit(resealed.deliveries, resealed.seal)
    assert all(r.duplicate for r in again)


@pytest.mark.parametrize("value", ["BZ2026000001", "亳州市医疗保障局", "a\"b\\c\n\u2028\x7f\x00<>&", "", 0, 1, -7,
                                   2**40])
def test_an_envelope_travels_as_the_text_json_dumps_writes(value: Any) -> None:
    """Compact, non-ASCII as it is, every escape where ``json.dumps`` puts one: the envelope text is the same."""
    envelope = {"v": 1, "kid": "vault-1", "aad": value, "ct": "q83vEjRWeJA=", "n": value}
    assert json_text(envelope) == json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(json_text(envelope)) == envelope
