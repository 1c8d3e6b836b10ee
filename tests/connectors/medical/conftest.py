"""A real 医疗保障局 simulator on 127.0.0.1 (uvicorn in a thread) and synthetic sealed deliveries."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from lianban.catalog import load_catalog
from lianban.contract import Delivery
from lianban.identity import make_id_number, make_uscc
from lianban.keys import KeyRing, ensure_ring
from lianban.sealing import seal
from lianban.settings import DepartmentSettings, connection_json, parse_connection
from simulators.engine import DepartmentEngine
from simulators.medical import create_app

LOGIN = "lianban-medical"
PASSWORD = "sim-only-Pa55word-not-real"  # a test credential for a local simulator, never a real one
STEP_SECONDS = 0.15


@dataclass
class MedicalSim:
    """A running simulator: where it listens, its engine and the department's key ring."""

    base_url: str
    engine: DepartmentEngine
    ring: KeyRing
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def settings(self, password: str = PASSWORD, **extra: Any) -> DepartmentSettings:
        """Connection dept_medical as an operator would configure it."""
        raw = connection_json(self.base_url, LOGIN, password, connect_timeout=2, read_timeout=5, **extra)
        return parse_connection("medical", raw)


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "simulator did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def medical_sim(tmp_path: Path) -> Iterator[MedicalSim]:
    ring = ensure_ring(tmp_path / "keys", "medical")
    engine = DepartmentEngine("medical", ring, tmp_path / "medical.db", step_seconds=STEP_SECONDS)
    server, thread, url = serve(create_app(engine, LOGIN, PASSWORD))
    sim = MedicalSim(url, engine, ring, server, thread)
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


def make_delivery(ring: KeyRing, seq: int, item_code: str = "11") -> Delivery:
    key, case_no = f"LB-T{seq:05d}-{item_code}", f"BZ2025{seq:06d}"
    envelope = seal(ring, synthetic_fields(seq, item_code), aad=f"{key}|{case_no}|{item_code}")
    return Delivery(key, case_no, item_code, envelope)


@pytest.fixture
def medical_password() -> str:
    return PASSWORD


@pytest.fixture
def make_batch(medical_sim: MedicalSim) -> Any:
    """make_batch(range(3), "12") → sealed deliveries for the simulator's key ring."""

    def build(seqs: Any, item_code: str = "11") -> list[Delivery]:
        return [make_delivery(medical_sim.ring, seq, item_code) for seq in seqs]

    return build
