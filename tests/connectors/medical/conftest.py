"""A real 医疗保障局 simulator on 127.0.0.1 (uvicorn in a thread, answers signed) and synthetic sealed batches."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from lianban.app.config import connection_json
from lianban.domain.catalog import load_catalog
from lianban.wire.contract import SealedItem
from lianban.wire.settings import DepartmentSettings, parse_connection
from simulators.engine import DepartmentEngine
from simulators.kit import Item, engine_for, seal_items
from simulators.medical import create_app
from simulators.people import make_id_number, make_uscc
from simulators.runner import response_signer, serve

LOGIN = "lianban-medical"
PASSWORD = "sim-only-Pa55word-not-real"  # a test credential for a local simulator, never a real one
STEP_SECONDS = 0.15


@dataclass
class MedicalSim:
    """A running simulator: where it listens, its engine and the keys directory (the hub's and the bureau's)."""

    base_url: str
    engine: DepartmentEngine
    keys_dir: Path
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def settings(self, password: str = PASSWORD, **extra: Any) -> DepartmentSettings:
        """Connection dept_medical as an operator would configure it."""
        raw = connection_json(self.base_url, LOGIN, password, connect_timeout=2, read_timeout=5, **extra)
        return parse_connection("medical", raw)


@pytest.fixture
def medical_sim(tmp_path: Path) -> Iterator[MedicalSim]:
    keys_dir = tmp_path / "keys"
    engine = engine_for(keys_dir, "medical", tmp_path / "medical.db", step_seconds=STEP_SECONDS)
    server, thread, url = serve(response_signer(create_app(engine, LOGIN, PASSWORD), keys_dir, "medical"))
    sim = MedicalSim(url, engine, keys_dir, server, thread)
    yield sim
    sim.stop()


def synthetic_fields(seq: int, item_code: str) -> dict[str, Any]:
    """A made-up retiree (valid check digits, never a real person), cut to the item's minimum fields."""
    person = {
        "name": f"测试{seq:03d}",
        "id_number": make_id_number("341602", date(1965, 3, 1 + seq % 28), seq, male=True),
        "employer_name": "亳州市示例制药有限公司",
        "employer_uscc": make_uscc("341602", random.Random(seq)),
        "contribution_months": 360 + seq,
        "pension_start": "2025-04",
        "phone": f"1380000{seq:04d}",
    }
    return {f: person[f] for f in load_catalog().item(item_code).fields}


def synthetic_item(seq: int, item_code: str = "11") -> Item:
    return Item(f"LB-T{seq:05d}-{item_code}", f"BZ2025{seq:06d}", item_code, synthetic_fields(seq, item_code))


@dataclass(frozen=True)
class SealedBatch:
    """One batch as the hub hands it to a connector: ``connector.submit(batch.deliveries, batch.seal)``."""

    seal: dict[str, Any]
    deliveries: list[SealedItem]
    items: list[Item]  # what was sealed, to seal it again

    @property
    def keys(self) -> list[str]:
        return [d.idempotency_key for d in self.deliveries]


class BatchMaker:
    """Seals synthetic items for the simulator's bureau with the hub's signing key, as deliver does."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir

    def __call__(self, seqs: Iterable[int | tuple[int, str]], item_code: str = "11") -> SealedBatch:
        """make_batch(range(3), "12"), or mixed items: make_batch([1, 2, (3, "12")]) → one sealed batch."""
        items = [synthetic_item(*s) if isinstance(s, tuple) else synthetic_item(s, item_code) for s in seqs]
        return self.seal(items)

    def seal(self, items: list[Item]) -> SealedBatch:
        seal, deliveries = seal_items(self.keys_dir, "medical", items)
        return SealedBatch(seal, deliveries, items)

    def reseal(self, batch: SealedBatch) -> SealedBatch:
        """The same items in a fresh batch (new data key, nonce and time), as the hub does when it retries."""
        return self.seal(batch.items)


@pytest.fixture
def medical_password() -> str:
    return PASSWORD


@pytest.fixture
def make_batch(medical_sim: MedicalSim) -> BatchMaker:
    """make_batch(range(3), "12") → one batch sealed for the simulator's bureau; make_batch.reseal(batch)."""
    return BatchMaker(medical_sim.keys_dir)
