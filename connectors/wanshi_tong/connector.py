"""The 皖事通办 亳州分平台 connector: pushes ordered progress events and case records (一体反馈).

Each push carries the status changes in event order and the case (办件) record each changed case stood at
after its last change, in the platform's field names (:mod:`connectors.wanshi_tong.mapping`) and codes
(:mod:`connectors.wanshi_tong.codes`, ``schemas/wanshi_tong/codes.yaml``); the wire format is published in
``schemas/wanshi_tong/openapi.yaml``. Transport failures follow the same failure → action table as the REST
departments (:mod:`connectors._rest`); a body the platform refuses is a RejectedError with its reason.

A push is cut by count (the connection's ``batch_size``) and by size: the published document refuses a body over
5 MB (413), and an event may carry a 500-character reason and 50 material names, so a batch of long events is
halved until each body is within the limit (one event over it alone still goes, for the platform to refuse and
the report step to park with the platform's reason).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, Self

import requests

from connectors._rest import GatewayClient, encode, gateway_session, malformed
from connectors.wanshi_tong.codes import CODES_FILE, CodeTables, load_codes
from connectors.wanshi_tong.mapping import event_body, push_body, push_wire
from lianban.domain.batches import chunks
from lianban.errors import LianbanError
from lianban.wire.contract import HealthReport, ProgressEvent, PushResult
from lianban.wire.gateway import GATEWAY_ERRORS
from lianban.wire.settings import DEFAULT_BATCH_SIZE, DepartmentSettings

__all__ = ["CODES_FILE", "CodeTables", "WanshiTongConnector", "load_codes"]

PROGRESS_PATH = "/api/v1/banjian/progress"
MAX_PUSH_BYTES = 5 * 1024 * 1024  # the published document's limit on a body (413 TOO_LARGE beyond it)
#: the platform's own refusal codes, beside the gateway's
ERRORS = {**GATEWAY_ERRORS, "SCHEMA": "请求体不符合已发布的接口文档 schemas/wanshi_tong/openapi.yaml"}


def bodies(events: Sequence[ProgressEvent], codes: CodeTables, batch_size: int,
           max_bytes: int = MAX_PUSH_BYTES) -> list[bytes]:
    """The encoded request bodies pushing `events` in order: cut by count, then each cut halved while its body is
    over `max_bytes` (module docstring)."""
    return [body for chunk in chunks(events, batch_size) for body in _sized(chunk, codes, max_bytes)]


def _sized(events: Sequence[ProgressEvent], codes: CodeTables, max_bytes: int) -> Iterator[bytes]:
    body = encode(push_wire(events, codes))
    if len(body) <= max_bytes or len(events) == 1:
        yield body
        return
    middle = len(events) // 2
    yield from _sized(events[:middle], codes, max_bytes)
    yield from _sized(events[middle:], codes, max_bytes)


class WanshiTongConnector:
    """Satisfies :class:`lianban.wire.contract.StatusSink`. Pushing the same event twice is safe: the platform
    dedupes by ``EVENT_ID`` and never lets an older ``DATAVER`` overwrite a newer one."""

    department = "wanshi_tong"

    def __init__(self, base_url: str, session: requests.Session, batch_size: int = DEFAULT_BATCH_SIZE,
                 codes: CodeTables | None = None, max_bytes: int = MAX_PUSH_BYTES) -> None:
        self.connection = f"dept_{self.department}"
        self.client = GatewayClient(base_url, session, self.connection, ERRORS)
        self.batch_size = batch_size
        self.codes = codes or load_codes()
        self.max_bytes = max_bytes

    @classmethod
    def from_settings(cls, settings: DepartmentSettings) -> Self:
        """Build from connection ``dept_wanshi_tong`` (login = gateway app id, password = app secret)."""
        return cls(settings.base_url, gateway_session(settings), settings.batch_size)

    def push(self, events: Sequence[ProgressEvent]) -> PushResult:
        """Send `events` in order, in batches (by count and by size, module docstring), each with its cases'
        records; the platform's counts of new and already-seen events."""
        return self.push_encoded(self.encoder()(events))

    def encoder(self) -> Callable[[Sequence[ProgressEvent]], list[bytes]]:
        """:func:`bodies` with this connection's codes and limits (picklable: the report's reader process builds
        the next batch's bodies with it, :class:`lianban.wire.contract.EncodingSink`)."""
        return partial(bodies, codes=self.codes, batch_size=self.batch_size, max_bytes=self.max_bytes)

    def push_encoded(self, bodies: Sequence[bytes]) -> PushResult:
        """Send bodies :meth:`encoder` built, in order; the platform's counts of new and already-seen events."""
        accepted = duplicates = 0
        for body in bodies:
            answer = self.client.send("POST", PROGRESS_PATH, body)
            try:
                accepted += int(answer["accepted"])
                duplicates += int(answer["duplicates"])
            except (KeyError, TypeError, ValueError) as exc:
                raise malformed(self.connection, exc) from None
        return PushResult(accepted=accepted, duplicates=duplicates)

    def body(self, events: Sequence[ProgressEvent]) -> dict[str, Any]:
        """The request body pushing `events` (ProgressPush in the published document)."""
        return push_body(events, self.codes)

    def to_wire(self, e: ProgressEvent) -> dict[str, Any]:
        """One event in the platform's vocabulary (BanjianEvent)."""
        return event_body(e, self.codes)

    def health(self) -> HealthReport:
        """Reachable and accepting our signature? An empty push proves both without side effects."""
        try:
            self.client.call("GET", "/health")
            self.client.call("POST", PROGRESS_PATH, {"events": [], "cases": []})
        except LianbanError as exc:
            return HealthReport(False, str(exc))
        return HealthReport(True, f"{self.connection}: 皖事通办亳州分平台可达，签名认证通过")
