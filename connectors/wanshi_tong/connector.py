"""The 皖事通办 亳州分平台 connector: pushes ordered progress events (一体反馈) to the provincial platform.

Item codes, status codes and department names are translated through ``schemas/wanshi_tong/codes.yaml``
(loaded once, checked to cover all 14 items and all seven statuses). Transport failures follow the same
failure → action table as the REST departments (:mod:`connectors._rest`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Self

import requests
import yaml

from connectors._rest import GatewayClient, gateway_session, malformed
from lianban.domain.batches import chunks
from lianban.domain.catalog import load_catalog
from lianban.domain.schemas import schema_path
from lianban.domain.statuses import Status
from lianban.errors import ConfigError, LianbanError
from lianban.wire.contract import HealthReport, ProgressEvent, PushResult
from lianban.wire.gateway import GATEWAY_ERRORS
from lianban.wire.settings import DEFAULT_BATCH_SIZE, DepartmentSettings

__all__ = ["CODES_FILE", "CodeTables", "WanshiTongConnector", "load_codes"]

CODES_FILE = schema_path("wanshi_tong", "codes.yaml")
PROGRESS_PATH = "/api/v1/banjian/progress"

@dataclass(frozen=True)
class CodeTables:
    """lianban item → 事项编码, unified status → status_code, department key → 办理部门."""

    items: Mapping[str, str]
    statuses: Mapping[Status, str]
    departments: Mapping[str, str]


@cache
def load_codes(path: Path = CODES_FILE) -> CodeTables:
    """Read and check codes.yaml; a gap is a ConfigError naming the file and what is missing."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = {str(k): str(v) for k, v in data["items"].items()}
        statuses = {Status(k): str(v) for k, v in data["statuses"].items()}
        departments = {str(k): str(v) for k, v in data["departments"].items()}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the 皖事通办 code tables ({type(exc).__name__})") from None
    missing = sorted(set(load_catalog().items) - set(items)) + [s.value for s in Status if s not in statuses]
    if missing:
        raise ConfigError(f"{path}: no 皖事通办 code for {', '.join(missing)}")
    return CodeTables(items, statuses, departments)


class WanshiTongConnector:
    """Satisfies :class:`lianban.wire.contract.StatusSink`. Pushing the same event twice is safe: the platform
    dedupes by ``event_id`` and never lets an older event overwrite a newer status."""

    department = "wanshi_tong"

    def __init__(self, base_url: str, session: requests.Session, batch_size: int = DEFAULT_BATCH_SIZE,
                 codes: CodeTables | None = None) -> None:
        self.connection = f"dept_{self.department}"
        self.client = GatewayClient(base_url, session, self.connection, GATEWAY_ERRORS)
        self.batch_size = batch_size
        self.codes = codes or load_codes()

    @classmethod
    def from_settings(cls, settings: DepartmentSettings) -> Self:
        """Build from connection ``dept_wanshi_tong`` (login = gateway app id, password = app secret)."""
        return cls(settings.base_url, gateway_session(settings), settings.batch_size)

    def push(self, events: Sequence[ProgressEvent]) -> PushResult:
        """Send `events` in order, in batches; the platform's counts of new and already-seen events."""
        accepted = duplicates = 0
        for chunk in chunks(events, self.batch_size):
            answer = self.client.call("POST", PROGRESS_PATH, {"events": [self.to_wire(e) for e in chunk]})
            try:
                accepted += int(answer["accepted"])
                duplicates += int(answer["duplicates"])
            except (KeyError, TypeError, ValueError) as exc:
                raise malformed(self.connection, exc) from None
        return PushResult(accepted=accepted, duplicates=duplicates)

    def to_wire(self, e: ProgressEvent) -> dict[str, Any]:
        """One event in the platform's vocabulary (办件编号 projid, 事项编码, 办件状态)."""
        return {
            "event_id": e.event_id, "projid": e.case_no, "item_code": self._code(self.codes.items, e.item_code),
            "dept": self._code(self.codes.departments, e.department),
            "status_code": self._code(self.codes.statuses, e.status), "status_name": e.status.value,
            "reason": e.reason, "changed_at": e.changed_at,
        }

    def _code(self, table: Mapping[Any, str], key: Any) -> str:
        try:
            return table[key]
        except KeyError:
            raise ConfigError(f"{CODES_FILE}: no 皖事通办 code for {key!r}; add it before pushing") from None

    def health(self) -> HealthReport:
        """Reachable and accepting our signature? An empty push proves both without side effects."""
        try:
            self.client.call("GET", "/health")
            self.client.call("POST", PROGRESS_PATH, {"events": []})
        except LianbanError as exc:
            return HealthReport(False, str(exc))
        return HealthReport(True, f"{self.connection}: 皖事通办亳州分平台可达，签名认证通过")
